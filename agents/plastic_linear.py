"""Parameters, state construction, input checks and plasticity rates shared by the plastic networks (SPEC section 4).

Notation of the paper; ⊗ is the outer product, every layer plastic, biases included (the cell: ``cell.py``):

    eta_t = p_lr 2 sigmoid(m_t),  lam_t = p_wd 2 sigmoid(m_t)   (m_t = last column of o_t)
    F <- (1-lam_t) F + eta~_t (alpha ⊙ G_t)            eta~_t = eta_t min(1, c / max(||G_t||, eps))

G_t comes from the configured plasticity rule (``agents/rules``: hebbian, gradient, none), which also says whether
the biases learn and which parameters of its own the network gets (the gradient rule's omega).

A layer's weight is stored as [in, out] (the row vector u_t multiplies from the left). Initialisation follows the
paper: W, b ~ U(-k, k) with k = scale / sqrt(out) (scale 2 for the LSTM's 4H-wide linears); alpha by
``config.alpha``; the rule's own parameters as the rule sets them (omega = 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import PlasticConfig
from .rules import get_rule
from .state import PlasticState

Tensor = torch.Tensor
LAYERS = ("input", "hh", "ih", "output")
NORM_EPS = 1e-8  # max(||G||, eps): no division by zero, no NaN gradient of the norm at G = 0


class PlasticLinear(nn.Module):
    """The trainable parameters of one plastic linear: weight W [in, out], bias b [out], alpha of each."""

    def __init__(self, in_dim: int, out_dim: int, alpha_mode: str, plastic: bool, scale: float = 1.0) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        k = scale / math.sqrt(out_dim)
        self.weight = nn.Parameter(torch.empty(in_dim, out_dim).uniform_(-k, k))
        self.bias = nn.Parameter(torch.empty(out_dim).uniform_(-k, k))
        if plastic and alpha_mode != "none":
            self.alpha_weight = nn.Parameter(_alpha_init((in_dim, out_dim), alpha_mode))
            self.alpha_bias = nn.Parameter(_alpha_init((out_dim,), alpha_mode))
        else:  # alpha fixed to 1 (or no plasticity at all)
            self.register_parameter("alpha_weight", None)
            self.register_parameter("alpha_bias", None)

    def extra_repr(self) -> str:
        return f"in={self.in_dim}, out={self.out_dim}, alpha={'trainable' if self.alpha_weight is not None else 'none'}"


def _alpha_init(shape: tuple[int, ...], mode: str) -> Tensor:
    if mode == "random":
        return torch.empty(shape).uniform_(-1.0, 1.0)
    if mode == "uniform":
        return torch.ones(shape)
    if mode == "neg_uniform":
        return -torch.ones(shape)
    raise ValueError(f"alpha mode must be one of random, uniform, neg_uniform, none; got {mode!r}")


class PlasticNetworkBase(nn.Module):
    """Parameters, state construction and input checks common to the fast and the reference network.

    Parameter names: ``layers.<input|hh|ih|output>.{weight,bias,alpha_weight,alpha_bias}`` and the rule's own
    (``omega`` for the gradient rule); both networks have exactly the same ones, so their state dicts are
    interchangeable. ``self.rule`` is the rule object of ``config.rule``.
    """

    def __init__(self, config: PlasticConfig) -> None:
        super().__init__()
        if not isinstance(config, PlasticConfig):
            raise ValueError(f"expected a PlasticConfig, got {type(config).__name__}")
        config.validate()
        self.config = config
        self.rule = get_rule(config.rule)
        scale = 2.0 if config.cell == "lstm" else 1.0
        self.layers = nn.ModuleDict(
            {
                name: PlasticLinear(i, o, config.alpha, self.rule.plastic, scale if name in ("hh", "ih") else 1.0)
                for name, (i, o) in config.layer_shapes().items()
            }
        )
        for name, parameter in self.rule.parameters(config).items():
            self.register_parameter(name, parameter)

    # ---- state ------------------------------------------------------------------------------------------------
    def initial_state(self, batch_size: int, device=None, dtype=None) -> PlasticState:
        """Episode-start state: F_0 = 0, f_0 = 0, h_0 = 0, c_0 = 0, m_0 = 0 (on the parameters' device/dtype)."""
        ref = self.layers["input"].weight
        cfg = self.config
        return PlasticState.zeros(
            batch_size,
            cfg.hidden_dim,
            cfg.layer_shapes(),
            lstm=cfg.cell == "lstm",
            plastic=self.rule.plastic,
            device=ref.device if device is None else device,
            dtype=ref.dtype if dtype is None else dtype,
        )

    # ---- checks -----------------------------------------------------------------------------------------------
    def _check_input(self, x: Tensor, ndim: int) -> None:
        what = "[B, T, input_dim]" if ndim == 3 else "[B, input_dim]"
        if not isinstance(x, Tensor):
            raise ValueError(f"expected a torch.Tensor {what}, got {type(x).__name__}")
        if x.dim() != ndim or x.shape[-1] != self.config.input_dim:
            raise ValueError(f"expected input of shape {what} with input_dim={self.config.input_dim}, "
                             f"got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"expected a floating-point input, got {x.dtype}")

    def _check_state(self, state: PlasticState, batch_size: int) -> None:
        if not isinstance(state, PlasticState):
            raise ValueError(f"expected a PlasticState (net.initial_state(batch_size)), got {type(state).__name__}")
        if state.batch_size != batch_size:
            raise ValueError(f"state has batch size {state.batch_size}, input has {batch_size}")
        if set(state.F) != (set(LAYERS) if self.rule.plastic else set()):
            raise ValueError(f"state has plastic weights for {sorted(state.F)}; this network expects "
                             f"{list(LAYERS) if self.rule.plastic else []}")
        if (state.c is None) != (self.config.cell == "rnn"):
            raise ValueError(f"state {'lacks' if state.c is None else 'has'} an LSTM cell state; network cell is "
                             f"{self.config.cell!r}")

    # ---- plasticity rates -------------------------------------------------------------------------------------
    def _rates(self, o: Tensor, sq_norm: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(eta~_t, lam_t, m_t) per sample [B] from o_t and ||G_t||^2."""
        cfg = self.config
        if cfg.modulation:
            m = o[:, -1]
            gate = torch.sigmoid(m)
            eta, lam = (2.0 * cfg.p_lr) * gate, (2.0 * cfg.p_wd) * gate
        else:
            m = torch.zeros_like(o[:, 0])
            eta = torch.full_like(m, cfg.p_lr)
            lam = torch.full_like(m, cfg.p_wd)
        if cfg.inner_grad_clip is not None:
            # min(1, c / max(||G||, eps)) = c / sqrt(max(||G||^2, c^2, eps^2)): one clamp, no NaN gradient at G = 0
            c = cfg.inner_grad_clip
            eta = eta * (c * torch.rsqrt(torch.clamp(sq_norm, min=max(c * c, NORM_EPS**2))))
        return eta, lam, m
