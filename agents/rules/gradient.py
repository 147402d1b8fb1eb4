"""The gradient rule (SPEC section 4): G_t = dL_int/dF with the inner loss of each sample on its own,

    L_int = s mean_d (omega_d o_t,d)^2         (omega trainable, init 1; s = ``PlasticConfig.inner_loss_factor``)

Only the current step depends on the current F, so dL_int/dF is one backward step through the step: every layer's
G is (layer input) ⊗ (error at the layer's output), and the bias's G is that error (``plastic_bias``):

    e_out = dL_int/do_t = (2 s / D') omega^2 ⊙ o_t
    e_rec = dL_int/dz_t   (back through the cell from e_out (W_out + F_out)^T)
    e_in  = dL_int/da_t = (e_rec (W_ih + F_ih)^T) ⊙ 1[a_t > 0]          (a_t: the input layer's pre-activation)

    input (u_t, e_in),  hh (h_{t-1}, e_rec),  ih (x_t, e_rec),  output (h_t, e_out)

The fast forms compute the errors by hand with batched tensor ops (no autograd.grad; the outer BPTT differentiates
through them like any other op); the literal reference takes ``torch.autograd.grad`` of L_int.
"""

from __future__ import annotations

import torch
from torch import nn

from ..cell import cell_backward, relu_grad, sq_norm
from .base import Factors, PlasticityRule


class GradientRule(PlasticityRule):
    name = "gradient"
    plastic_bias = True
    inner_loss = True

    def parameters(self, config) -> dict[str, nn.Parameter]:
        """omega [D'], the per-column weights of L_int, init 1."""
        return {"omega": nn.Parameter(torch.ones(config.full_output_dim))}

    def prepare(self, net) -> torch.Tensor:
        """(2 s / D') omega^2, so that e_out = dL_int/do_t = prepared ⊙ o_t. G is linear in e_out, so s scales every
        layer's G and the bias errors alike."""
        return (2.0 * net.config.inner_loss_factor / net.omega.shape[0]) * net.omega.square()

    def factors(self, net, cache, linear_transposed, prepared) -> Factors:
        error_out = prepared * cache.o
        error_rec = cell_backward(net.config.cell, cache, linear_transposed("output", error_out))
        error_in = relu_grad(linear_transposed("ih", error_rec), cache.a_x)
        return {
            "input": (cache.u, error_in),
            "hh": (cache.h_prev, error_rec),
            "ih": (cache.x, error_rec),
            "output": (cache.h, error_out),
        }

    def sq_norm(self, factors: Factors):
        """sum over layers of (||pre||^2 + 1) ||error||^2 (weight and bias); hh and ih share e_rec."""
        (u, error_in), (h_prev, error_rec), (h, error_out) = factors["input"], factors["hh"], factors["output"]
        x = factors["ih"][0]
        return ((sq_norm(u) + 1.0) * sq_norm(error_in) + (sq_norm(h_prev) + sq_norm(x) + 2.0) * sq_norm(error_rec)
                + (sq_norm(h) + 1.0) * sq_norm(error_out))

    def reference_weights(self, F, f):
        """F and f as leaves of the graph (when they are not already in it), so that dL_int/dF can be taken."""
        return tuple({k: v if v.requires_grad else v.detach().requires_grad_(True) for k, v in d.items()}
                     for d in (F, f))

    def reference_updates(self, net, F, f, cache):
        """G = torch.autograd.grad of L_int summed over samples (each sample's G is the gradient of its own loss)."""
        layers = list(F)
        loss = net.config.inner_loss_factor * (net.omega * cache.o).square().mean(dim=-1).sum()
        grads = torch.autograd.grad(loss, [F[k] for k in layers] + [f[k] for k in layers], create_graph=True)
        return dict(zip(layers, grads[: len(layers)], strict=True)), dict(zip(layers, grads[len(layers):], strict=True))


RULE = GradientRule()
