"""No plasticity: the network has no plastic weights (F and f are absent from its state), a plain RNN or LSTM."""

from __future__ import annotations

from .base import Factors, PlasticityRule


class NoPlasticity(PlasticityRule):
    name = "none"
    plastic = False

    def factors(self, net, cache, linear_transposed, prepared) -> Factors:
        raise RuntimeError("rule 'none' has no plastic weights to update")


RULE = NoPlasticity()
