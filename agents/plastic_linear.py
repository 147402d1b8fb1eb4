"""Parameters and cell maths shared by the plastic networks (SPEC section 4).

Notation of the paper; ⊗ is the outer product, every layer plastic, biases included:

    x_t = relu(u_t (W_in+F_in) + b_in+f_in)
    RNN:  h_t = relu(h_{t-1}(W_hh+F_hh) + b_hh+f_hh + x_t(W_ih+F_ih) + b_ih+f_ih)
    LSTM: z_t = the same two plastic linears (width 4H), gates i, f, g, o; c_t = f c_{t-1} + i g, h_t = o tanh(c_t)
    o_t = h_t (W_out+F_out) + b_out+f_out              width D' = n_out + extra_dim + modulation
    eta_t = p_lr 2 sigmoid(m_t),  lam_t = p_wd 2 sigmoid(m_t)   (m_t = last column of o_t)
    F <- (1-lam_t) F + eta~_t (alpha ⊙ G_t)            eta~_t = eta_t min(1, c / max(||G_t||, eps))

A layer's weight is stored as [in, out] (the row vector u_t multiplies from the left), so the update of a weight is
pre ⊗ post with pre the layer's input and post a vector over its outputs:

    hebbian:  input (u_t, x_t), hh (h_{t-1}, post_t), ih (x_t, post_t), output (h_t, o_t); G = 0 for the biases.
              post_t = h_t for the RNN; for the LSTM (whose linears are 4H wide) post_t = the activated gates
              [i, f, g, o], as in the paper's code.
    gradient: G = dL_int/dF with L_int = mean_d (omega_d o_t,d)^2 for each sample. Only the current step depends on
              the current F, so dL_int/dF is one backward step: every G is (layer input) ⊗ (error at the layer's output)
              and the bias's G is that error. ``gradient_terms`` computes the errors by hand with batched tensor ops
              (no autograd.grad); the outer BPTT differentiates through them like any other op.

Both rules therefore give, per layer, a ``(pre, post, bias_post)`` triple, and the joint per-sample norm is cheap:
||pre ⊗ post||^2 = ||pre||^2 ||post||^2.

Initialisation follows the paper: W, b ~ U(-k, k) with k = scale / sqrt(out) (scale 2 for the LSTM's 4H-wide linears);
alpha by ``config.alpha``; omega = 1.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
from torch import nn

from .config import PlasticConfig
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

    Parameter names: ``layers.<input|hh|ih|output>.{weight,bias,alpha_weight,alpha_bias}`` and ``omega`` (gradient
    rule only); both networks have exactly the same ones, so their state dicts are interchangeable.
    """

    def __init__(self, config: PlasticConfig) -> None:
        super().__init__()
        if not isinstance(config, PlasticConfig):
            raise ValueError(f"expected a PlasticConfig, got {type(config).__name__}")
        config.validate()
        self.config = config
        scale = 2.0 if config.cell == "lstm" else 1.0
        self.layers = nn.ModuleDict(
            {
                name: PlasticLinear(i, o, config.alpha, config.plastic, scale if name in ("hh", "ih") else 1.0)
                for name, (i, o) in config.layer_shapes().items()
            }
        )
        if config.rule == "gradient":
            self.omega = nn.Parameter(torch.ones(config.full_output_dim))
        else:
            self.register_parameter("omega", None)

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
            plastic=cfg.plastic,
            device=ref.device if device is None else device,
            dtype=ref.dtype if dtype is None else dtype,
        )

    # ---- checks -----------------------------------------------------------------------------------------------
    def _check_input(self, x: Tensor, ndim: int) -> None:
        what = "[B, T, input_dim]" if ndim == 3 else "[B, input_dim]"
        if not isinstance(x, Tensor):
            raise ValueError(f"expected a torch.Tensor {what}, got {type(x).__name__}")
        if x.dim() != ndim or x.shape[-1] != self.config.input_dim:
            raise ValueError(f"expected input of shape {what} with input_dim={self.config.input_dim}, got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"expected a floating-point input, got {x.dtype}")

    def _check_state(self, state: PlasticState, batch_size: int) -> None:
        if not isinstance(state, PlasticState):
            raise ValueError(f"expected a PlasticState (net.initial_state(batch_size)), got {type(state).__name__}")
        if state.batch_size != batch_size:
            raise ValueError(f"state has batch size {state.batch_size}, input has {batch_size}")
        if set(state.F) != (set(LAYERS) if self.config.plastic else set()):
            raise ValueError(f"state has plastic weights for {sorted(state.F)}; this network expects "
                             f"{list(LAYERS) if self.config.plastic else []}")
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

    def _inner_loss_scale(self) -> Tensor:
        """2 s omega^2 / D': dL_int/do_t = scale ⊙ o_t for L_int = s mean_d (omega_d o_t,d)^2 of each sample, where
        s = ``config.inner_loss_factor`` (1, or 1/64 for the paper's scale). G is linear in dL_int/do_t, so s scales
        every layer's G and the bias errors alike."""
        return (2.0 * self.config.inner_loss_factor / self.omega.shape[0]) * self.omega.square()


class CellCache(NamedTuple):
    u: Tensor
    a_x: Tensor  # input-layer pre-activation
    x: Tensor
    h_prev: Tensor
    c_prev: Tensor | None
    z: Tensor  # recurrent pre-activation [B, H or 4H]
    gates: tuple[Tensor, ...] | None  # LSTM (i, f, g, o, tanh(c_t))
    post: Tensor  # hebbian post of hh / ih: h_t (RNN) or [i, f, g, o] (LSTM)
    c: Tensor | None
    h: Tensor
    o: Tensor


Lin = Callable[[str, Tensor], Tensor]


def cell_forward(
    cell: str,
    lin: Lin,
    u: Tensor,
    h_prev: Tensor,
    c_prev: Tensor | None,
    rec: Callable[[Tensor, Tensor], Tensor] | None = None,
) -> CellCache:
    """One step of the network; ``lin(name, v)`` computes v (W+F) + b+f of the named layer.

    ``rec(h_prev, x)``, if given, computes both recurrent linears at once (lin("hh", h_prev) + lin("ih", x)).
    """
    a_x = lin("input", u)
    x = torch.relu(a_x)
    z = lin("hh", h_prev) + lin("ih", x) if rec is None else rec(h_prev, x)
    if cell == "rnn":
        h = torch.relu(z)
        c, gates, post = None, None, h
    else:
        zi, zf, zg, zo = z.chunk(4, dim=-1)
        i, f, g, og = torch.sigmoid(zi), torch.sigmoid(zf), torch.tanh(zg), torch.sigmoid(zo)
        c = f * c_prev + i * g
        tc = torch.tanh(c)
        h = og * tc
        gates, post = (i, f, g, og, tc), torch.cat([i, f, g, og], dim=-1)
    o = lin("output", h)
    return CellCache(u, a_x, x, h_prev, c_prev, z, gates, post, c, h, o)


Terms = dict[str, tuple[Tensor, Tensor, Tensor | None]]


def hebbian_terms(cache: CellCache) -> tuple[Terms, Tensor]:
    """(pre, post, None) per layer and the per-sample ||G||^2 of the hebbian rule (G = 0 for the biases)."""
    terms: Terms = {
        "input": (cache.u, cache.x, None),
        "hh": (cache.h_prev, cache.post, None),
        "ih": (cache.x, cache.post, None),
        "output": (cache.h, cache.o, None),
    }
    sq_x = _sq(cache.x)
    sq = _sq(cache.u) * sq_x + (_sq(cache.h_prev) + sq_x) * _sq(cache.post) + _sq(cache.h) * _sq(cache.o)
    return terms, sq


def gradient_terms(cell: str, cache: CellCache, d_o: Tensor, lin_t: Lin) -> tuple[Terms, Tensor]:
    """One manual backward step of L_int: (pre, error, error) per layer and the per-sample ||G||^2.

    ``d_o`` = dL_int/do_t; ``lin_t(name, d)`` computes d (W+F)^T of the named layer. G_W = pre ⊗ error, G_b = error.
    """
    d_h = lin_t("output", d_o)
    if cell == "rnn":
        d_z = _relu_grad(d_h, cache.z)
    else:
        i, f, g, og, tc = cache.gates
        d_c = d_h * og * (1.0 - tc * tc)
        d_z = torch.cat(
            [d_c * g * i * (1.0 - i), d_c * cache.c_prev * f * (1.0 - f), d_c * i * (1.0 - g * g), d_h * tc * og * (1.0 - og)],
            dim=-1,
        )
    d_x = lin_t("ih", d_z)
    d_a = _relu_grad(d_x, cache.a_x)
    terms: Terms = {
        "input": (cache.u, d_a, d_a),
        "hh": (cache.h_prev, d_z, d_z),
        "ih": (cache.x, d_z, d_z),
        "output": (cache.h, d_o, d_o),
    }
    sq = (
        (_sq(cache.u) + 1.0) * _sq(d_a)
        + (_sq(cache.h_prev) + _sq(cache.x) + 2.0) * _sq(d_z)
        + (_sq(cache.h) + 1.0) * _sq(d_o)
    )  # sum over layers of (||pre||^2 + 1) ||error||^2 (weight and bias); hh and ih share the error d_z
    return terms, sq


def _relu_grad(d: Tensor, a: Tensor) -> Tensor:
    """d ⊙ 1[a > 0]: the error through relu(a), as one differentiable op (relu's own backward)."""
    return torch.ops.aten.threshold_backward(d, a, 0.0)


def _sq(v: Tensor) -> Tensor:
    """||v||^2 per sample."""
    return torch.linalg.vecdot(v, v)
