"""The fast plastic network (SPEC section 4) used for training and acting.

Two forms of the same function, both taking G_t from the configured plasticity rule (``agents/rules``):

* ``step(x_t, state)``: the recurrent form. F of every layer is materialised ([B, in, out]) and updated each step,
  F <- (1 - lam_t) F + eta~_t alpha ⊙ (pre_t ⊗ post_t); the gradient rule's errors come from one manual backward
  step through the cell (no autograd.grad).
* ``forward(x, state)``: the training form over a whole sequence (``sequence.py``). Within a chunk of K steps F is
  kept as the chunk-start weights plus a history of (c_{t,s}, pre_s, post_s), so no per-step [B, in, out] weight is
  formed or stored for autograd; F is formed at chunk boundaries. With ``weight_clip`` set the clamp is not linear
  and ``forward`` falls back to looping ``step``.

Cost per layer and step in the sequence form: O(B k in out) flops in matmuls plus O(B k (in + out)) memory, against
O(B in out) memory traffic for a materialised F. The history's cost grows with k and a materialised F's does not,
so short chunks favour the history; the automatic K (``_chunk``) and the measurements behind it are in
``docs/performance.md``.
"""

from __future__ import annotations

import torch

from .cell import CellCache, cell_forward
from .config import PlasticConfig
from .plastic_linear import PlasticNetworkBase
from .rules.base import Factors, LinearTransposed
from .sequence import DENSE_OUTPUT_MAX, SequenceForm
from .state import PlasticState

Tensor = torch.Tensor

__all__ = ["DENSE_OUTPUT_MAX", "PlasticNetwork"]


class PlasticNetwork(PlasticNetworkBase):
    """Plastic RNN/LSTM with plastic input, recurrent and output layers.

    ``net(x, state=None) -> (out [B, T, output_dim], state)``;
    ``net.step(x_t, state) -> (out_t [B, output_dim], state)``.
    ``chunk_size`` (K; None: automatic) only trades speed for memory; the function does not depend on it.
    """

    def __init__(self, config: PlasticConfig, chunk_size: int | None = None) -> None:
        super().__init__(config)
        bad = isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
        if chunk_size is not None and bad:
            raise ValueError(f"chunk_size must be an int >= 1 or None (automatic), got {chunk_size!r}")
        self.chunk_size = chunk_size
        self._scratch: dict[tuple, Tensor] = {}  # the in-place step's [B, in, out] work buffers, by shape and type

    def _chunk(self, T: int) -> int:
        """K: the whole sequence up to 24 steps, else chunks of 16 (where the history still beats a materialised F;
        the measurements are in ``docs/performance.md``)."""
        if self.chunk_size is not None:
            return self.chunk_size
        return T if T <= 24 else 16

    # ---- recurrent (materialised) form ------------------------------------------------------------------------
    def step(self, x_t: Tensor, state: PlasticState, inplace: bool = False) -> tuple[Tensor, PlasticState]:
        """One step: x_t [B, input_dim] -> (out_t [B, output_dim], next state). For acting and rollouts.

        ``inplace``: write the new F of every layer over the F of ``state`` (same numbers, bit for bit) instead of
        into fresh [B, in, out] tensors, whose allocation costs more than the update's arithmetic at large B. Only
        for a caller that owns ``state`` and drops it after the call, with no gradient (an agent acting): the
        ``state`` passed in is changed."""
        self._check_input(x_t, 2)
        self._check_state(state, x_t.shape[0])
        if inplace and torch.is_grad_enabled():
            raise ValueError("step(inplace=True) overwrites the state's F: call it under torch.no_grad()")
        return self._step(x_t, state, inplace)

    def _step(self, u: Tensor, state: PlasticState, inplace: bool = False) -> tuple[Tensor, PlasticState]:
        """The cell with the materialised F, then F <- (1 - lam_t) F + eta~_t alpha ⊙ (pre_t ⊗ post_t) per layer and,
        for rules with a plastic bias, f <- (1 - lam_t) f + eta~_t alpha_b ⊙ post_t (``inplace``: see ``step``)."""
        cfg = self.config
        linears = _MaterialisedLinears(self, state)
        cache = cell_forward(cfg.cell, linears.linear, u, state.h, state.c)
        if not self.rule.plastic:
            return self._out(cache), PlasticState(h=cache.h, c=cache.c, m=self._m(cache.o))
        factors, eta, lam, m = self._plasticity(cache, linears.linear_transposed, self.rule.prepare(self))
        keep = 1.0 - lam
        F, f = state.F, state.f
        new_F, new_f = {}, {}
        for k, (pre, post) in factors.items():
            aw, ab = self.layers[k].alpha_weight, self.layers[k].alpha_bias
            g = self._outer(pre, eta[:, None] * post, inplace)  # eta~_t pre_t ⊗ post_t: one [B, in, out] pass
            kept = F[k].mul_(keep[:, None, None]) if inplace else keep[:, None, None] * F[k]
            new_F[k] = kept.add_(g) if aw is None else kept.addcmul_(aw, g)
            new_f[k] = keep[:, None] * f[k]
            if self.rule.plastic_bias:
                new_f[k] = new_f[k] + eta[:, None] * (post if ab is None else ab * post)
            if cfg.weight_clip is not None:
                new_F[k] = new_F[k].clamp(-cfg.weight_clip, cfg.weight_clip)
                new_f[k] = new_f[k].clamp(-cfg.weight_clip, cfg.weight_clip)
        return self._out(cache), PlasticState(h=cache.h, c=cache.c, m=m, F=new_F, f=new_f)

    def _outer(self, pre: Tensor, q: Tensor, inplace: bool) -> Tensor:
        """pre ⊗ q per sample, [B, in, out]: a fresh tensor, or (``inplace``) a work buffer kept for the next step."""
        if not inplace:
            return pre.unsqueeze(2) * q.unsqueeze(1)
        key = (pre.shape[0], pre.shape[1], q.shape[1], pre.dtype, pre.device)
        if key not in self._scratch:
            self._scratch[key] = pre.new_empty(key[:3])
        return torch.mul(pre.unsqueeze(2), q.unsqueeze(1), out=self._scratch[key])

    # ---- helpers shared by both forms -------------------------------------------------------------------------
    def _out(self, cache: CellCache) -> Tensor:
        return cache.o[:, : self.config.output_dim]

    def _m(self, o: Tensor) -> Tensor:
        return o[:, -1] if self.config.modulation else torch.zeros_like(o[:, 0])

    def _plasticity(
        self, cache: CellCache, linear_transposed: LinearTransposed, prepared
    ) -> tuple[Factors, Tensor, Tensor, Tensor]:
        """The rule's (pre_t, post_t) per layer, then eta~_t (clipped by the joint norm ||G_t||), lam_t and m_t.
        ``prepared``: ``self.rule.prepare(self)``, formed once per call."""
        factors = self.rule.factors(self, cache, linear_transposed, prepared)
        eta, lam, m = self._rates(cache.o, self.rule.sq_norm(factors))
        return factors, eta, lam, m

    # ---- sequence (chunked, parallel-over-history) form -------------------------------------------------------
    def forward(self, x: Tensor, state: PlasticState | None = None) -> tuple[Tensor, PlasticState]:
        """A sequence: x [B, T, input_dim] -> (out [B, T, output_dim], state after step T-1).

        ``state=None`` starts an episode (F_0 = 0, h_0 = 0). Equal to looping ``step`` (same function, same gradients).
        """
        self._check_input(x, 3)
        B, T = x.shape[0], x.shape[1]
        cfg = self.config
        chunked = self.rule.plastic and cfg.weight_clip is None and T > 0
        if state is not None:
            self._check_state(state, B)
        elif chunked:  # an episode start: F_0 = 0 is never formed
            return self._forward_chunked(x, self._start_state(B, x), zero_start=True)
        else:
            state = self.initial_state(B, device=x.device, dtype=x.dtype)
        if T == 0:
            return x.new_zeros(B, 0, cfg.output_dim), state
        if not chunked:
            outs = []
            for t in range(T):
                out_t, state = self._step(x[:, t], state)
                outs.append(out_t)
            return torch.stack(outs, dim=1), state
        return self._forward_chunked(x, state, zero_start=False)

    def _start_state(self, batch_size: int, x: Tensor) -> PlasticState:
        """The episode-start state without F_0 = 0, which the chunked form never reads (hh, ih: 4 MB each at B=64)."""
        cfg = self.config
        return PlasticState.zeros(batch_size, cfg.hidden_dim, cfg.layer_shapes(), lstm=cfg.cell == "lstm", plastic=True,
                                  weights=False, device=x.device, dtype=x.dtype)

    def _dense_layers(self) -> tuple[str, ...]:
        """Layers whose F the sequence form keeps materialised through a chunk instead of as a history.

        Only a narrow output layer (at most ``DENSE_OUTPUT_MAX`` columns, as in every supervised task here): its F is
        small ([B, D', H]) while its history would cost elementwise work on [B, k, H] rows and skinny matmuls at
        every step (``docs/performance.md``).
        """
        return ("output",) if self.config.full_output_dim <= DENSE_OUTPUT_MAX else ()

    def _forward_chunked(self, x: Tensor, state: PlasticState, zero_start: bool) -> tuple[Tensor, PlasticState]:
        """The sequence form over x from ``state`` (``zero_start``: an episode start, F_0 = 0 never formed)."""
        return SequenceForm(self, x, state, zero_start).run(self._chunk(x.shape[1]))


class _MaterialisedLinears:
    """The cell's linears of the step form, with the per-sample plastic weights of ``state`` materialised."""

    def __init__(self, net: PlasticNetwork, state: PlasticState) -> None:
        self.layers, self.plastic, self.F, self.f = net.layers, net.rule.plastic, state.F, state.f

    def linear(self, name: str, v: Tensor) -> Tensor:
        """v (W + F) + b + f."""
        layer = self.layers[name]
        y = torch.addmm(layer.bias, v, layer.weight)
        if self.plastic:
            y = y + torch.bmm(v.unsqueeze(1), self.F[name]).squeeze(1) + self.f[name]
        return y

    def linear_transposed(self, name: str, d: Tensor) -> Tensor:
        """d (W + F)^T."""
        return d @ self.layers[name].weight.t() + torch.bmm(d.unsqueeze(1), self.F[name].transpose(1, 2)).squeeze(1)
