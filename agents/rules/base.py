"""What a plasticity rule gives the plastic networks (SPEC section 4), and the norm every rule's clip uses.

Every rule here updates each layer's plastic weight by an outer product, G_t = pre_t ⊗ post_t: the weight [in, out]
multiplies the row vector of the layer's input from the left, pre_t is that input and post_t a vector over the
layer's outputs. This form is what lets the sequence form run over a chunk of steps without materialising F
(``agents/sequence.py``), and it makes the joint per-sample norm of the clip cheap:

    ||G_t||^2 = sum_layers (||pre_t||^2 + [plastic bias]) ||post_t||^2      (G_b = post_t when the bias is plastic)

A rule is a ``PlasticityRule`` subclass; its module defines one instance ``RULE`` and the registry
(``rules/__init__.py``) maps the name to it. The rule provides, for the three forms of the network:

- ``factors``: (pre_t, post_t) per layer from one step's activations; the step form, the sequence form and (by
  default) the literal reference all take G_t from it;
- ``plastic_bias``: whether the biases learn too (G_b = post_t) or keep f = 0 (G_b = 0);
- ``sq_norm``: ||G_t||^2 per sample for the clip (by default ``joint_sq_norm`` of the factors; a rule that knows
  which of its vectors coincide may write the same sum out, which saves Python work at small sizes);
- ``parameters`` / ``prepare``: trainable parameters of the rule itself and per-call constants derived from them;
- ``reference_weights`` / ``reference_updates``: how the literal reference (``agents/reference.py``) forms G_t with
  materialised weights; by default the explicit outer products of ``factors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..cell import CellCache, sq_norm

Tensor = torch.Tensor
#: layer name ("input", "hh", "ih", "output") -> (pre_t [B, in], post_t [B, out]): G_t = pre_t ⊗ post_t.
Factors = dict[str, tuple[Tensor, Tensor]]
#: ``linear_transposed(layer, d)`` = d (W + F_{t-1})^T of that layer, for rules that backpropagate through the step.
LinearTransposed = Callable[[str, Tensor], Tensor]


class PlasticityRule:
    """Base class of the plasticity rules; the defaults describe a Hebbian-like rule without rule parameters.

    Class attributes (override in a subclass):

    name:         the registry name (a Python identifier; ``PlasticConfig.rule`` and ``--rule`` take it).
    plastic:      False for a network without plastic weights (F and f absent from the state).
    plastic_bias: True when the biases learn with G_b = post_t; False keeps f = 0.
    inner_loss:   True when G_t derives from an inner loss L_int, so ``PlasticConfig.gradient_scale`` applies.
    """

    name: str = ""
    plastic: bool = True
    plastic_bias: bool = False
    inner_loss: bool = False

    def parameters(self, config) -> dict[str, nn.Parameter]:
        """Trainable parameters of the rule itself, registered on the network under these names."""
        return {}

    def prepare(self, net: nn.Module) -> Any:
        """Per-call constants the rule derives from its parameters, computed once per sequence; passed to
        ``factors`` as ``prepared``."""
        return None

    def factors(self, net: nn.Module, cache: CellCache, linear_transposed: LinearTransposed | None,
                prepared: Any) -> Factors:
        """(pre_t, post_t) of every plastic layer for step t, from the step's activations ``cache``."""
        raise NotImplementedError(f"rule {self.name!r} defines no factors")

    def sq_norm(self, factors: Factors) -> Tensor:
        """||G_t||^2 per sample [B], over all layers' G_W and G_b."""
        return joint_sq_norm(factors, self.plastic_bias)

    # ---- the literal reference ---------------------------------------------------------------------------------
    def reference_weights(self, F: dict[str, Tensor], f: dict[str, Tensor]) -> tuple[dict, dict]:
        """The plastic weights the reference runs the step with (a rule that differentiates by F puts them in the
        graph here)."""
        return F, f

    def reference_updates(self, net: nn.Module, F: dict[str, Tensor], f: dict[str, Tensor],
                          cache: CellCache) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """(G_W [B, in, out], G_b [B, out]) per layer, formed explicitly: pre_t ⊗ post_t and post_t or 0."""
        G, Gb = {}, {}
        for layer, (pre, post) in self.factors(net, cache, None, self.prepare(net)).items():
            G[layer] = pre.unsqueeze(2) * post.unsqueeze(1)
            Gb[layer] = post if self.plastic_bias else torch.zeros_like(f[layer])
        return G, Gb

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def joint_sq_norm(factors: Factors, plastic_bias: bool) -> Tensor:
    """||G_t||^2 per sample [B] over all layers: sum over the distinct posts of (sum ||pre||^2 + n_bias) ||post||^2.

    Layers that share a post tensor (hh and ih share the recurrent post) are summed before the product, and each
    vector's norm is taken once; with a plastic bias each layer adds ||G_b||^2 = ||post||^2.
    """
    groups: dict[int, tuple[Tensor, list[Tensor]]] = {}  # id(post) -> (post, the pres that share it)
    for pre, post in factors.values():
        group = groups.get(id(post))
        if group is None:
            groups[id(post)] = (post, [pre])
        else:
            group[1].append(pre)
    norms: dict[int, Tensor] = {}  # id(v) -> ||v||^2, each vector once
    total = None
    for post, pres in groups.values():
        pre_sq = None
        for v in pres:
            v_sq = norms.get(id(v))
            if v_sq is None:
                v_sq = norms[id(v)] = sq_norm(v)
            pre_sq = v_sq if pre_sq is None else pre_sq + v_sq
        if plastic_bias:
            pre_sq = pre_sq + float(len(pres))
        post_sq = norms.get(id(post))
        if post_sq is None:
            post_sq = norms[id(post)] = sq_norm(post)
        total = pre_sq * post_sq if total is None else total + pre_sq * post_sq
    return total
