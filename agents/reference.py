"""Reference plastic network: SPEC section 4 written out literally (for tests and benchmarks, not for training).

Every step materialises the per-sample weights W + F of every layer ([B, in, out]), runs the network with batched
matrix products, and forms G explicitly through the rule's reference hooks (``rules/base.py``): pre ⊗ post as a
[B, in, out] tensor for the Hebbian rule, and for the gradient rule ``torch.autograd.grad(L_int, F,
create_graph=True)`` with L_int = sum over samples of s mean_d (omega_d o_t,d)^2 (the samples are independent, so
each sample's G is the gradient of its own loss; s = ``config.inner_loss_factor``). The norm of the clip is summed
over the explicit G. It shares no maths with the fast ``PlasticNetwork`` beyond the parameters, the rate formula
and the rule's choice of pre and post, so agreement of the two is a real check of the fast forms.
"""

from __future__ import annotations

import torch

from .cell import CellCache
from .plastic_linear import LAYERS, PlasticNetworkBase
from .state import PlasticState

Tensor = torch.Tensor


class ReferencePlasticNetwork(PlasticNetworkBase):
    """Same parameters and call signatures as ``PlasticNetwork``; slow, literal."""

    def forward(self, x: Tensor, state: PlasticState | None = None) -> tuple[Tensor, PlasticState]:
        self._check_input(x, 3)
        if state is None:
            state = self.initial_state(x.shape[0], device=x.device, dtype=x.dtype)
        outs = []
        for t in range(x.shape[1]):
            out_t, state = self.step(x[:, t], state)
            outs.append(out_t)
        return torch.stack(outs, dim=1), state

    def step(self, x_t: Tensor, state: PlasticState) -> tuple[Tensor, PlasticState]:
        self._check_input(x_t, 2)
        self._check_state(state, x_t.shape[0])
        grad_enabled = torch.is_grad_enabled()
        with torch.enable_grad():
            out, new_state = self._step(x_t, state)
        if not grad_enabled:
            out, new_state = out.detach(), new_state.detach()
        return out, new_state

    def _step(self, u: Tensor, state: PlasticState) -> tuple[Tensor, PlasticState]:
        cfg = self.config
        L = self.layers
        plastic = self.rule.plastic
        F, f = self.rule.reference_weights(dict(state.F), dict(state.f)) if plastic else ({}, {})

        def weight(name: str) -> tuple[Tensor, Tensor]:
            if not plastic:
                return L[name].weight.expand(u.shape[0], -1, -1), L[name].bias
            return L[name].weight + F[name], L[name].bias + f[name]

        def linear(name: str, v: Tensor) -> Tensor:
            w, b = weight(name)
            return torch.bmm(v.unsqueeze(1), w).squeeze(1) + b

        a_x = linear("input", u)
        x = torch.relu(a_x)
        z = linear("hh", state.h) + linear("ih", x)
        if cfg.cell == "rnn":
            h = torch.relu(z)
            c, gates, post = None, None, h
        else:
            zi, zf, zg, zo = z.chunk(4, dim=-1)
            i, fg, g, og = torch.sigmoid(zi), torch.sigmoid(zf), torch.tanh(zg), torch.sigmoid(zo)
            c = fg * state.c + i * g
            h = og * torch.tanh(c)
            gates, post = (i, fg, g, og, torch.tanh(c)), torch.cat([i, fg, g, og], dim=-1)
        o = linear("output", h)
        m_keep = o[:, -1] if cfg.modulation else torch.zeros_like(o[:, 0])

        if not plastic:
            return o[:, : cfg.output_dim], PlasticState(h=h, c=c, m=m_keep)

        cache = CellCache(u, a_x, x, state.h, state.c, z, gates, post, c, h, o)
        G, Gb = self.rule.reference_updates(self, F, f, cache)
        sq = sum(G[k].square().sum(dim=(1, 2)) + Gb[k].square().sum(dim=1) for k in LAYERS)
        eta, lam, m = self._rates(o, sq)
        keep = 1.0 - lam
        new_F, new_f = {}, {}
        for k in LAYERS:
            aw, ab = L[k].alpha_weight, L[k].alpha_bias
            gw = G[k] if aw is None else aw * G[k]
            gb = Gb[k] if ab is None else ab * Gb[k]
            new_F[k] = keep[:, None, None] * F[k] + eta[:, None, None] * gw
            new_f[k] = keep[:, None] * f[k] + eta[:, None] * gb
            if cfg.weight_clip is not None:
                new_F[k] = new_F[k].clamp(-cfg.weight_clip, cfg.weight_clip)
                new_f[k] = new_f[k].clamp(-cfg.weight_clip, cfg.weight_clip)
        return o[:, : cfg.output_dim], PlasticState(h=h, c=c, m=m, F=new_F, f=new_f)
