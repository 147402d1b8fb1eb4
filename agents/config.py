"""Configuration of a plastic recurrent network (SPEC section 4).

``PlasticConfig`` is a plain, validated dataclass: every field is a JSON-friendly value, so a config round-trips
through ``to_dict()`` / ``from_dict()`` (checkpoints store it that way).

Defaults follow the paper's code (PlasticRNNs, ICLR 2023): ``p_lr = p_wd = 0.1``, ``inner_grad_clip = 1``,
``extra_dim = 4``, modulation on, ``alpha = "random"`` (alpha ~ U(-1, 1)); the hidden size, cell and rule shared
with the model, trainer and CLI come from ``defaults.py`` (128, "rnn", "hebbian"). Valid rules are the names in the
rule registry (``agents/rules``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plastic_gym.validation import reject_unknown, require, require_choice, require_float, require_int

from . import defaults, rules

CELLS = ("rnn", "lstm")
ALPHA_MODES = ("random", "uniform", "neg_uniform", "none")
GRADIENT_SCALES = ("sample", "paper")
#: Batch size over which the paper's code averages the gradient rule's inner loss (its batch of 64 episodes).
PAPER_INNER_BATCH = 64


@dataclass
class PlasticConfig:
    """Shape and plasticity settings of a plastic network.

    input_dim:        width of the observation u_t.
    output_dim:       n_out, the columns of o_t returned to the caller.
    hidden_dim:       width of h_t.
    cell:             "rnn" (relu RNN) or "lstm".
    rule:             a registered plasticity rule (``agents/rules``): "hebbian" (G = pre ⊗ post), "gradient"
                      (G = dL_int/dF) or "none" (no plastic weights).
    modulation:       one extra output column m_t scales eta_t = p_lr * 2 sigmoid(m_t), lam_t = p_wd * 2 sigmoid(m_t).
    alpha:            init of the per-connection plasticity coefficients: "random" U(-1,1), "uniform" 1,
                      "neg_uniform" -1, "none" (alpha fixed to 1, not trained).
    p_lr, p_wd:       plastic learning rate eta and decay lam (before modulation).
    inner_grad_clip:  c of the joint per-sample norm clip of G (None: no clip).
    extra_dim:        extra output columns of o_t (unused by the caller, part of L_int).
    weight_clip:      if set, the plastic weights F are clamped to [-weight_clip, weight_clip] after every update.
    input_hidden_dim: width of the plastic input layer x_t (default: hidden_dim).
    gradient_scale:   scale of a rule's inner loss L_int (the gradient rule's). "sample": L_int of each sample on
                      its own (SPEC 4); "paper": L_int / 64, the per-sample share of the paper's code, which averages
                      L_int over its batch of 64 episodes (G 64x smaller, so the clip at c rarely acts), whatever the
                      batch size here.
    """

    input_dim: int
    output_dim: int
    hidden_dim: int = defaults.HIDDEN_DIM
    cell: str = defaults.CELL
    rule: str = defaults.RULE
    modulation: bool = True
    alpha: str = "random"
    p_lr: float = 0.1
    p_wd: float = 0.1
    inner_grad_clip: float | None = 1.0
    extra_dim: int = 4
    weight_clip: float | None = None
    input_hidden_dim: int | None = None
    gradient_scale: str = "sample"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid field."""
        name = "PlasticConfig."
        require_int(name + "input_dim", self.input_dim, 1)
        require_int(name + "output_dim", self.output_dim, 1)
        require_int(name + "hidden_dim", self.hidden_dim, 1)
        require_choice(name + "cell", self.cell, CELLS)
        require_choice(name + "rule", self.rule, rules.rule_names())
        require(isinstance(self.modulation, bool), f"{name}modulation must be a bool, got {self.modulation!r}")
        require_choice(name + "alpha", self.alpha, ALPHA_MODES)
        require_float(name + "p_lr", self.p_lr, 0.0)
        require_float(name + "p_wd", self.p_wd, 0.0)
        require_float(name + "inner_grad_clip", self.inner_grad_clip, 0.0, allow_none=True, strict=True)
        require_int(name + "extra_dim", self.extra_dim, 0)
        require_float(name + "weight_clip", self.weight_clip, 0.0, allow_none=True, strict=True)
        if self.input_hidden_dim is not None:
            require_int(name + "input_hidden_dim", self.input_hidden_dim, 1)
        require_choice(name + "gradient_scale", self.gradient_scale, GRADIENT_SCALES)
        if self.gradient_scale != "sample" and not rules.get_rule(self.rule).inner_loss:
            with_loss = " or ".join(f"rule={n!r}" for n in rules.rule_names() if rules.get_rule(n).inner_loss)
            raise ValueError(f"{name}gradient_scale={self.gradient_scale!r} applies to a rule with an inner loss "
                             f"L_int ({with_loss}) only, got rule={self.rule!r}")

    # ---- derived sizes ------------------------------------------------------------------------------------------
    @property
    def plastic(self) -> bool:
        """Whether the rule gives the network plastic weights (every rule but "none")."""
        return rules.get_rule(self.rule).plastic

    @property
    def inner_loss_factor(self) -> float:
        """Factor s of a rule's per-sample inner loss L_int: 1, or 1/64 for ``gradient_scale="paper"``."""
        return 1.0 / PAPER_INNER_BATCH if self.gradient_scale == "paper" else 1.0

    @property
    def x_dim(self) -> int:
        """Width of the plastic input layer x_t."""
        return self.hidden_dim if self.input_hidden_dim is None else self.input_hidden_dim

    @property
    def gate_dim(self) -> int:
        """Width of the recurrent pre-activation: H for the RNN, 4H for the LSTM (gates i, f, g, o)."""
        return self.hidden_dim * (4 if self.cell == "lstm" else 1)

    @property
    def full_output_dim(self) -> int:
        """D' = n_out + extra_dim + (1 if modulation)."""
        return self.output_dim + self.extra_dim + int(self.modulation)

    def layer_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each plastic linear, in the order input, hh, ih, output."""
        return {
            "input": (self.input_dim, self.x_dim),
            "hh": (self.hidden_dim, self.gate_dim),
            "ih": (self.x_dim, self.gate_dim),
            "output": (self.hidden_dim, self.full_output_dim),
        }

    # ---- serialisation ------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlasticConfig:
        if not isinstance(data, Mapping):
            raise ValueError(f"PlasticConfig.from_dict expects a mapping, got {type(data).__name__}")
        reject_unknown(data, [f.name for f in dataclasses.fields(cls) if f.init], "field", "PlasticConfig.from_dict")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> PlasticConfig:
        return dataclasses.replace(self, **changes)
