"""The Hebbian rule (SPEC section 4): G_t = pre_t ⊗ post_t, the layer's input times its activity; G = 0 for biases.

    input (u_t, x_t),  hh (h_{t-1}, post_t),  ih (x_t, post_t),  output (h_t, o_t)

post_t is h_t for the RNN; for the LSTM, whose recurrent linears are 4H wide, the activated gates [i, f, g, o], as in
the paper's code. hh and ih share post_t (one tensor), which the sequence form and the norm exploit.
"""

from __future__ import annotations

from ..cell import sq_norm
from .base import Factors, PlasticityRule


class HebbianRule(PlasticityRule):
    name = "hebbian"

    def factors(self, net, cache, linear_transposed, prepared) -> Factors:
        return {
            "input": (cache.u, cache.x),
            "hh": (cache.h_prev, cache.post),
            "ih": (cache.x, cache.post),
            "output": (cache.h, cache.o),
        }

    def sq_norm(self, factors: Factors):
        """||u||^2 ||x||^2 + (||h_{t-1}||^2 + ||x||^2) ||post||^2 + ||h||^2 ||o||^2 (hh and ih share post)."""
        (u, x), (h_prev, post), (h, o) = factors["input"], factors["hh"], factors["output"]
        sq_x = sq_norm(x)
        return sq_norm(u) * sq_x + (sq_norm(h_prev) + sq_x) * sq_norm(post) + sq_norm(h) * sq_norm(o)


RULE = HebbianRule()
