"""Explicit recurrent state of a plastic network (SPEC section 4).

A ``PlasticState`` holds, per sample (batch row), everything that changes within an episode:

    h  [B, H]           hidden state h_{t-1}
    c  [B, H] | None    LSTM cell state c_{t-1} (None for the RNN)
    m  [B]              last modulation signal m_{t-1} (0 at an episode start; informative only)
    F  {layer: [B, in, out]}   plastic weights F of the linears "input", "hh", "ih", "output"
    f  {layer: [B, out]}       plastic biases f of the same linears

Every tensor has the batch as its first dimension, so selecting, resetting and concatenating environments are
row operations on each tensor (no flattening of all weights into one vector). States are immutable in use: the
operations return new states and never write in place, so autograd graphs through a state stay valid.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

Tensor = torch.Tensor


class LazyWeights(Mapping[str, Tensor]):
    """Plastic weights F that are computed when first read.

    The sequence form of the network ends with F as a sum over the last chunk's history; forming it is a
    [B, in, out] product per layer, and a training loss reads only the outputs, so it is left until someone reads F
    (its cost is in ``docs/performance.md``). The computation runs in the grad and inference mode of the call that
    created it, on tensors that do not change afterwards (the network hands over a snapshot of alpha), so reading
    F later gives the same values and the same autograd graph as forming it at once. Pickling and deep copies see a
    plain dict.
    """

    def __init__(self, keys: Iterable[str], compute: Callable[[], dict[str, Tensor]]) -> None:
        self._keys = tuple(keys)
        self._compute: Callable[[], dict[str, Tensor]] | None = compute
        self._values: dict[str, Tensor] | None = None
        self._grad = torch.is_grad_enabled()
        self._inference = torch.is_inference_mode_enabled()

    def _materialize(self) -> dict[str, Tensor]:
        if self._values is None:
            with torch.inference_mode(self._inference), torch.set_grad_enabled(self._grad):
                values = self._compute()
            if set(values) != set(self._keys):
                raise RuntimeError(f"LazyWeights: computed {sorted(values)}, expected {sorted(self._keys)}")
            self._values, self._compute = values, None
        return self._values

    @property
    def materialized(self) -> bool:
        return self._values is not None

    def __getitem__(self, key: str) -> Tensor:
        if key not in self._keys:
            raise KeyError(key)
        return self._materialize()[key]

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __reduce__(self):
        return dict, (dict(self.items()),)

    def __repr__(self) -> str:
        return f"LazyWeights({list(self._keys)}, {'formed' if self.materialized else 'not formed yet'})"


@dataclass
class PlasticState:
    h: Tensor
    c: Tensor | None = None
    m: Tensor | None = None
    F: Mapping[str, Tensor] = field(default_factory=dict)  # a dict, or LazyWeights from the sequence form
    f: dict[str, Tensor] = field(default_factory=dict)

    # ---- flat view ----------------------------------------------------------------------------------------------
    def to_tensors(self) -> dict[str, Tensor]:
        """Flat ``{name: tensor}`` view (``h``, ``c``, ``m``, ``F.<layer>``, ``f.<layer>``), e.g. for ``torch.save``."""
        out: dict[str, Tensor] = {"h": self.h}
        if self.c is not None:
            out["c"] = self.c
        if self.m is not None:
            out["m"] = self.m
        out.update({f"F.{k}": v for k, v in self.F.items()})
        out.update({f"f.{k}": v for k, v in self.f.items()})
        return out

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, Tensor]) -> PlasticState:
        """Inverse of ``to_tensors``."""
        if "h" not in tensors:
            raise ValueError("PlasticState.from_tensors: expected a key 'h' (hidden state)")
        F: dict[str, Tensor] = {}
        f: dict[str, Tensor] = {}
        for key, value in tensors.items():
            if key.startswith("F."):
                F[key[2:]] = value
            elif key.startswith("f."):
                f[key[2:]] = value
            elif key not in ("h", "c", "m"):
                raise ValueError(f"PlasticState.from_tensors: unexpected key {key!r}; "
                                 "expected h, c, m, F.<layer>, f.<layer>")
        state = cls(h=tensors["h"], c=tensors.get("c"), m=tensors.get("m"), F=F, f=f)
        state._check_batch()
        return state

    def map(self, fn: Callable[[Tensor], Tensor]) -> PlasticState:
        """A new state with ``fn`` applied to every tensor."""
        return PlasticState.from_tensors({k: fn(v) for k, v in self.to_tensors().items()})

    def _check_batch(self) -> None:
        sizes = {k: v.shape[0] if v.dim() > 0 else None for k, v in self.to_tensors().items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"PlasticState: all tensors must share the batch size (dim 0), got {sizes}")

    # ---- properties ---------------------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return int(self.h.shape[0])

    def __len__(self) -> int:
        return self.batch_size

    @property
    def device(self) -> torch.device:
        return self.h.device

    @property
    def dtype(self) -> torch.dtype:
        return self.h.dtype

    def state_floats(self) -> int:
        """How many numbers one sample's state holds (the memory the network carries between steps)."""
        return int(sum(int(np.prod(v.shape[1:])) for v in self.to_tensors().values()))

    def num_floats_per_sample(self) -> int:
        """Deprecated name of ``state_floats``."""
        warnings.warn("PlasticState.num_floats_per_sample is deprecated; use state_floats", DeprecationWarning,
                      stacklevel=2)
        return self.state_floats()

    # ---- operations ---------------------------------------------------------------------------------------------
    def detach(self) -> PlasticState:
        """Cut the autograd graph (truncated BPTT / rollouts)."""
        return self.map(lambda t: t.detach())

    def clone(self) -> PlasticState:
        return self.map(lambda t: t.clone())

    def to(self, *args, **kwargs) -> PlasticState:
        return self.map(lambda t: t.to(*args, **kwargs))

    def reset_where(self, mask) -> PlasticState:
        """A new state whose rows where ``mask`` is True are the episode-start state (all zeros: F_0 = 0, h_0 = 0)."""
        mask_t = torch.as_tensor(np.asarray(mask) if not isinstance(mask, Tensor) else mask, device=self.device)
        if mask_t.dtype != torch.bool or mask_t.shape != (self.batch_size,):
            raise ValueError(
                f"PlasticState.reset_where expects a bool mask of shape ({self.batch_size},), "
                f"got dtype {mask_t.dtype} shape {tuple(mask_t.shape)}"
            )

        def reset(t: Tensor) -> Tensor:
            m = mask_t.view(-1, *([1] * (t.dim() - 1)))
            return torch.where(m, torch.zeros((), dtype=t.dtype, device=t.device), t)

        return self.map(reset)

    def __getitem__(self, index) -> PlasticState:
        """Select batch rows (an int keeps the batch dimension)."""
        if isinstance(index, int):
            index = slice(index, index + 1) if index != -1 else slice(-1, None)
        if isinstance(index, np.ndarray):
            index = torch.as_tensor(index, device=self.device)
        return self.map(lambda t: t[index])

    @classmethod
    def cat(cls, states: Iterable[PlasticState]) -> PlasticState:
        """Concatenate states along the batch (all must come from the same network)."""
        states = list(states)
        if not states:
            raise ValueError("PlasticState.cat expects at least one state")
        flats = [s.to_tensors() for s in states]
        keys = list(flats[0])
        for fl in flats[1:]:
            if list(fl) != keys:
                raise ValueError(f"PlasticState.cat: states have different tensors: {keys} vs {list(fl)}")
        return cls.from_tensors({k: torch.cat([fl[k] for fl in flats], dim=0) for k in keys})

    @staticmethod
    def zeros(
        batch_size: int,
        hidden_dim: int,
        layer_shapes: Mapping[str, tuple[int, int]],
        *,
        lstm: bool,
        plastic: bool,
        weights: bool = True,
        device=None,
        dtype=None,
    ) -> PlasticState:
        """The episode-start state: h_0 = 0, c_0 = 0, m_0 = 0, F_0 = 0, f_0 = 0.

        ``weights=False`` leaves F out (for code that starts from F_0 = 0 without reading it).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0:
            raise ValueError(f"batch_size must be an int >= 0, got {batch_size!r}")
        kw = {"device": device, "dtype": dtype}
        with_F = plastic and weights
        F = {k: torch.zeros(batch_size, i, o, **kw) for k, (i, o) in layer_shapes.items()} if with_F else {}
        f = {k: torch.zeros(batch_size, o, **kw) for k, (i, o) in layer_shapes.items()} if plastic else {}
        return PlasticState(
            h=torch.zeros(batch_size, hidden_dim, **kw),
            c=torch.zeros(batch_size, hidden_dim, **kw) if lstm else None,
            m=torch.zeros(batch_size, **kw),
            F=F,
            f=f,
        )
