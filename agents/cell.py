"""One step of the plastic cell (SPEC section 4) given its linears, and the step's backward for the gradient rule.

    x_t = relu(a_t),  a_t = u_t (W_in+F_in) + b_in+f_in
    RNN:  h_t = relu(z_t),  z_t = h_{t-1}(W_hh+F_hh) + b_hh+f_hh + x_t(W_ih+F_ih) + b_ih+f_ih
    LSTM: z_t from the same two linears (width 4H), gates i, f, g, o; c_t = f c_{t-1} + i g, h_t = o tanh(c_t)
    o_t = h_t (W_out+F_out) + b_out+f_out

The linears are passed in as functions, so the step form (materialised F), the sequence form (F as a history) and
the reference run the same cell maths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

Tensor = torch.Tensor
#: ``linear(layer, v)`` = v (W + F) + b + f of that layer.
Linear = Callable[[str, Tensor], Tensor]


class CellCache(NamedTuple):
    """Every activation of one step, as the plasticity rules and the backward step read them."""

    u: Tensor  # input u_t
    a_x: Tensor  # input-layer pre-activation a_t
    x: Tensor  # x_t = relu(a_t)
    h_prev: Tensor  # h_{t-1}
    c_prev: Tensor | None  # c_{t-1} (LSTM)
    z: Tensor  # recurrent pre-activation z_t [B, H or 4H]
    gates: tuple[Tensor, ...] | None  # LSTM (i, f, g, o, tanh(c_t))
    post: Tensor  # activity of the recurrent linears: h_t (RNN) or [i, f, g, o] (LSTM)
    c: Tensor | None  # c_t (LSTM)
    h: Tensor  # h_t
    o: Tensor  # o_t [B, D']


def cell_forward(
    cell: str,
    linear: Linear,
    u: Tensor,
    h_prev: Tensor,
    c_prev: Tensor | None,
    recurrent: Callable[[Tensor, Tensor], Tensor] | None = None,
) -> CellCache:
    """One step of the network. ``recurrent(h_prev, x)``, if given, computes both recurrent linears at once
    (``linear("hh", h_prev) + linear("ih", x)``)."""
    a_x = linear("input", u)
    x = torch.relu(a_x)
    z = linear("hh", h_prev) + linear("ih", x) if recurrent is None else recurrent(h_prev, x)
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
    o = linear("output", h)
    return CellCache(u, a_x, x, h_prev, c_prev, z, gates, post, c, h, o)


def cell_backward(cell: str, cache: CellCache, d_h: Tensor) -> Tensor:
    """dL/dz_t from dL/dh_t through one step of the cell (c_{t-1}, h_{t-1} held fixed)."""
    if cell == "rnn":
        return relu_grad(d_h, cache.z)
    i, f, g, og, tc = cache.gates
    d_c = d_h * og * (1.0 - tc * tc)
    d_i, d_f = d_c * g * i * (1.0 - i), d_c * cache.c_prev * f * (1.0 - f)
    d_g, d_o = d_c * i * (1.0 - g * g), d_h * tc * og * (1.0 - og)
    return torch.cat([d_i, d_f, d_g, d_o], dim=-1)


def relu_grad(d: Tensor, a: Tensor) -> Tensor:
    """d ⊙ 1[a > 0]: the error through relu(a), as one differentiable op (relu's own backward)."""
    return torch.ops.aten.threshold_backward(d, a, 0.0)


def sq_norm(v: Tensor) -> Tensor:
    """||v||^2 per sample [B]."""
    return torch.linalg.vecdot(v, v)
