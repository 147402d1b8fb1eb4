"""The validation helpers (plastic_gym/validation.py): what they accept, what they refuse and the message."""

import math

import numpy as np
import pytest

from plastic_gym import validation
from plastic_gym.core import task
from plastic_gym.validation import (
    reject_unknown,
    reject_unknown_kwargs,
    require,
    require_choice,
    require_episode_start,
    require_float,
    require_int,
)


def test_core_task_reexports_the_same_functions():
    for name in ("require", "require_int", "require_float", "require_choice", "reject_unknown_kwargs"):
        assert getattr(task, name) is getattr(validation, name)


def test_require():
    require(True, "never raised")
    with pytest.raises(ValueError, match="^the message$"):
        require(False, "the message")


def test_require_int():
    assert require_int("n", 3) == 3 and type(require_int("n", np.int64(3))) is int
    assert require_int("n", 0, minimum=0) == 0
    for bad in (True, 2.0, "3", None, 0):
        with pytest.raises(ValueError, match=r"n must be an int >= 1, got"):
            require_int("n", bad)


def test_require_float():
    assert require_float("lr", 1) == 1.0 and type(require_float("lr", np.float32(0.5))) is float
    assert require_float("lr", 0.0) == 0.0
    assert require_float("c", None, allow_none=True) is None
    for bad in (math.nan, math.inf, -0.1, True, "1", None):
        with pytest.raises(ValueError, match=r"lr must be a finite number >= 0.0, got"):
            require_float("lr", bad)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0.0, got 0.0"):
        require_float("lr", 0.0, strict=True)
    with pytest.raises(ValueError, match=r"c must be a finite number >= 0.0 or None, got -1"):
        require_float("c", -1, allow_none=True)


def test_require_choice():
    assert require_choice("rule", "none", ("hebbian", "none")) == "none"
    with pytest.raises(ValueError, match=r"rule must be one of \('hebbian', 'none'\), got 'hebb'"):
        require_choice("rule", "hebb", ["hebbian", "none"])


def test_require_episode_start():
    starts = require_episode_start([True, False])
    assert starts.dtype == np.bool_ and starts.tolist() == [True, False]
    for bad in ([1, 0], np.zeros((2, 1), bool), True):
        with pytest.raises(ValueError, match=r"episode_start must be a 1-D bool array \[num_envs\], got dtype"):
            require_episode_start(bad)


def test_reject_unknown():
    reject_unknown({"a": 1}, ["a", "b"], "field")
    with pytest.raises(ValueError, match=r"unknown Config field\(s\) \['c', 'd'\]; expected some of \['a', 'b'\]"):
        reject_unknown({"d": 0, "c": 0, "a": 0}, ["a", "b"], "Config field")
    with pytest.raises(ValueError, match=r"^suite 'v0': unknown task name\(s\) \['x'\]; expected some of \['a'\]$"):
        reject_unknown(["x", "a"], ["a"], "task name", where="suite 'v0'")


def test_reject_unknown_kwargs():
    class Thing:
        def __init__(self, size, rate=0.1):
            pass

    reject_unknown_kwargs(Thing, {"size": 1, "seed": 2}, extra=("seed",))
    expected = r"Thing got unknown kwarg\(s\) \['sise'\]; expected some of \['size', 'rate'\]"
    with pytest.raises(ValueError, match=expected):
        reject_unknown_kwargs(Thing, {"sise": 1})


def test_no_torch_import():
    import subprocess
    import sys

    code = "import sys, plastic_gym.validation; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
