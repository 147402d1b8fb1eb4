"""Validation helpers: the one place that checks settings and raises ``ValueError`` naming what was expected.

Task kwargs, network and training configs, recipes and metadata all validate through these functions, so one kind
of mistake (a bool where an int is wanted, a NaN learning rate, a misspelt field) gets one kind of message
everywhere. The module depends on numpy only (never torch: SPEC section 1).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["reject_unknown", "reject_unknown_kwargs", "require", "require_choice", "require_episode_start",
           "require_float", "require_int"]


def require(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition``: the one way settings are validated."""
    if not condition:
        raise ValueError(message)


def require_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int, which must be an integer >= ``minimum`` (bools rejected: ``True`` is not a count)."""
    require(isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum,
            f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def require_float(name: str, value: Any, minimum: float = 0.0, *, strict: bool = False,
                  allow_none: bool = False) -> float | None:
    """``value`` as a float, which must be finite and >= ``minimum`` (> with ``strict``); ``None`` passes through
    when ``allow_none``. Bools are rejected."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > minimum if strict else value >= minimum)
    require(ok, f"{name} must be a finite number {'>' if strict else '>='} {minimum}{' or None' if allow_none else ''}"
                f", got {value!r}")
    return float(value)


def require_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value``, which must be one of ``choices``."""
    choices = tuple(choices)
    require(value in choices, f"{name} must be one of {choices}, got {value!r}")
    return value


def require_episode_start(episode_start: Any) -> np.ndarray:
    """``episode_start`` of an agent's ``act``, which must be a 1-D bool array ``[num_envs]`` (an int 0/1 array is
    refused: it would index envs instead of masking them)."""
    starts = np.asarray(episode_start)
    require(starts.dtype == np.bool_ and starts.ndim == 1,
            f"episode_start must be a 1-D bool array [num_envs], got dtype {starts.dtype} shape {starts.shape}")
    return starts


def reject_unknown(given: Iterable[str], valid: Iterable[str], what: str, where: str = "") -> None:
    """Raise ``ValueError`` if ``given`` holds a name not in ``valid``; the message names ``what`` (e.g.
    ``"TrainConfig field"``), the unknown names and the valid ones, so a misspelt key is never silently ignored.
    ``where`` (e.g. a file name) prefixes the message."""
    valid = list(valid)
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ValueError(f"{where}{': ' if where else ''}unknown {what}(s) {unknown}; expected some of {valid}")


def reject_unknown_kwargs(cls: type, kwargs: dict[str, Any], extra: tuple[str, ...] = ()) -> None:
    """Raise a ``ValueError`` listing the valid names if ``kwargs`` has a name ``cls.__init__`` does not take
    (``extra``: further accepted names)."""
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"] + list(extra)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(f"{getattr(cls, 'metadata', {}).get('name', cls.__name__)} got unknown kwarg(s) {unknown}; "
                         f"expected some of {valid}")
