"""The sequence form of the plastic network (SPEC section 4): a whole sequence, chunk by chunk, F kept as a history.

Every plasticity rule updates a layer by an outer product, F <- (1 - lam_t) F + eta~_t alpha ⊙ (pre_t ⊗ post_t)
(``rules/base.py``). Within a chunk of steps that starts at step a with the plastic weights F_a, the weights used at
step t are therefore

    F_{t-1} = d_t F_a + sum_{a<=s<t} c_{t,s} alpha ⊙ (pre_s ⊗ post_s)
    d_t = prod_{a<=r<t} (1 - lam_r),     c_{t,s} = eta~_s prod_{s<r<t} (1 - lam_r)

so a layer's input v_t never meets a materialised F inside the chunk:

    v_t F_{t-1} = d_t (v_t F_a) + sum_s c_{t,s} ((v_t ⊙ pre_s) @ alpha) ⊙ post_s

which is one dense matmul [B*k, in] @ [in, out] per layer and step (a batched matrix-vector product when alpha = 1),
and likewise d (W+F)^T for the gradient rule's backward step. F is formed only at chunk boundaries (one
[B, in, k] @ [B, k, out] product), so autograd stores per step activations of size [B, k, in] instead of
[B, in, out] weights. The plastic bias (rules with ``plastic_bias``) follows the same recursion with pre = 1:
f_{t-1} = d_t f_a + alpha_b ⊙ sum_s c_{t,s} post_s.

Two exceptions: a narrow output layer (``DENSE_OUTPUT_MAX``), whose F is small and whose history would cost more
elementwise work than it saves, keeps F materialised through the chunk; and the final state's F is handed back as
``LazyWeights``, formed only when read, since a training loss reads the outputs alone.
"""

from __future__ import annotations

import functools

import torch

from .cell import CellCache, cell_forward
from .chunk_start import ChunkStartWeights, pad_rows
from .plastic_linear import LAYERS
from .rules.base import Factors
from .state import LazyWeights, PlasticState

Tensor = torch.Tensor
DENSE_OUTPUT_MAX = 16  # an output layer at most this wide keeps F materialised in the sequence form
INPUTS = "inputs"  # the history stream of the inputs u_s: a view of the input sequence, never copied


class SequenceForm:
    """One call of the sequence form: ``SequenceForm(net, x, state, zero_start).run(chunk_size)``.

    Holds what the steps of a chunk share: the layer constants, the chunk-start weights (F_a, f_a), the history of
    the chunk (coefficients c_{t,s}, decay d_t, rows of pre_s and post_s) and the materialised F of dense layers.
    ``linear``, ``recurrent`` and ``linear_transposed`` are the cell's linears at the current step t.
    """

    def __init__(self, net, x: Tensor, state: PlasticState, zero_start: bool) -> None:
        layers = net.layers
        self.net, self.rule, self.cell = net, net.rule, net.config.cell
        self.plastic_bias = net.rule.plastic_bias
        self.weight = {k: layers[k].weight for k in LAYERS}
        self.bias = {k: layers[k].bias for k in LAYERS}
        self.alpha = {k: layers[k].alpha_weight for k in LAYERS}  # [in, out], None: alpha = 1
        self.alpha_t = {k: None if a is None else a.t() for k, a in self.alpha.items()}
        self.alpha_bias = {k: 1.0 if layers[k].alpha_bias is None else layers[k].alpha_bias for k in LAYERS}
        # [h_{t-1}, x_t] @ [W_hh; W_ih]: one matmul for the fixed part of both recurrent linears
        self.recurrent_weight = torch.cat([self.weight["hh"], self.weight["ih"]], dim=0)
        self.recurrent_bias = self.bias["hh"] + self.bias["ih"]
        self.recurrent_alpha_bias = self.alpha_bias["hh"] + self.alpha_bias["ih"]
        self.dense = net._dense_layers()
        self.history_layers = tuple(k for k in LAYERS if k not in self.dense)
        # a dense layer's F is kept as [B, out, in] (alpha as [out, in]), so its products run along contiguous rows
        self.dense_alpha = {k: None if self.alpha[k] is None else self.alpha[k].t().contiguous() for k in self.dense}
        self.prepared = net.rule.prepare(net)
        self.x = x
        self.inputs = x.unbind(1)
        # u_t W_in + b_in of every step in one matmul
        fixed = torch.addmm(layers["input"].bias, x.reshape(-1, x.shape[-1]), self.weight["input"])
        self.input_fixed = fixed.view(*x.shape[:2], -1).unbind(1)
        # carried across chunks: F_a and f_a (F_a None: zero), the dense layers' F, the recurrent state
        self.start_F: dict[str, Tensor] | None = None if zero_start else dict(state.F)
        self.dense_F = {k: None if self.start_F is None else pad_rows(self.start_F[k].transpose(1, 2), x.shape[0])
                        for k in self.dense}
        self.start_f = dict(state.f)
        self.h, self.c, self.m = state.h, state.c, state.m
        self.t = 0

    # ---- the whole sequence -------------------------------------------------------------------------------------
    def run(self, chunk_size: int) -> tuple[Tensor, PlasticState]:
        """(o_t[:, :n_out] for every t [B, T, n_out], the state after the last step)."""
        steps = self.x.shape[1]
        outputs = []
        for start in range(0, steps, chunk_size):
            self.begin_chunk(start)
            for t in range(start, min(steps, start + chunk_size)):
                outputs.append(self.step(t))
            self.end_chunk(last=start + chunk_size >= steps)
        return torch.stack(outputs, dim=1), PlasticState(h=self.h, c=self.c, m=self.m, F=self.start_F, f=self.start_f)

    def begin_chunk(self, start: int) -> None:
        """An empty history at step a = ``start``: no c_{t,s} yet, d_a = 1 (``decay`` None)."""
        self.chunk_start = start
        self.coef: Tensor | None = None  # [B, k]: c_{t,s} for s = a..t-1
        self.decay: Tensor | None = None  # [B]: d_t (None: 1, or an episode start, where F_a = f_a = 0)
        self.rows: dict[str, Tensor] = {}  # history streams [B, k, dim], each tensor stored once
        self.streams: dict[str, tuple[str, str]] = {}  # layer -> (stream of pre_s, stream of post_s)
        self.stored: list[tuple[str, str, int]] = []  # (stream, layer, 0 pre / 1 post) of the rows stored per step
        self.dense_bias_sums: dict[str, Tensor] = {}  # dense layer -> sum_s c_{t,s} post_s
        self.uses = None if self.start_F is None else {k: ChunkStartWeights(self.start_F[k])
                                                          for k in self.history_layers}

    def step(self, t: int) -> Tensor:
        """Step t: the cell with F_{t-1} as above, the rule's G_t factors and rates, then the history grows by t."""
        self.t = t
        cache = cell_forward(self.cell, self.linear, self.inputs[t], self.h, self.c, self.recurrent)
        out = self.net._out(cache)
        self.h, self.c = cache.h, cache.c
        factors, eta, lam, self.m = self.net._plasticity(cache, self.linear_transposed, self.prepared)
        self.record(cache, factors, eta, 1.0 - lam)
        return out

    # ---- the cell's linears at step t ---------------------------------------------------------------------------
    def linear(self, name: str, v: Tensor) -> Tensor:
        """v (W + F_{t-1}) + b + f_{t-1} of the input or output layer:
        v W + b + d_t (v F_a + f_a) + sum_s c_{t,s} ((v ⊙ pre_s) @ alpha + alpha_b) ⊙ post_s (history layer), or
        v W + b + d_t f_a + v F + alpha_b ⊙ sum_s c_{t,s} post_s (dense layer, F materialised); the alpha_b terms
        only for a rule with a plastic bias."""
        y = self.input_fixed[self.t] if name == "input" else torch.addmm(self.bias[name], v, self.weight[name])
        dense = name in self.dense_F
        if self.uses is not None:
            start = self.start_f[name] if dense else self.uses[name].apply(v) + self.start_f[name]
            y = y + _scaled(start, self.decay)
        if dense:
            if self.dense_F[name] is not None:
                y = y + torch.linalg.vecdot(self.dense_F[name], v.unsqueeze(1))
            if self.plastic_bias and self.coef is not None:
                y = y + self.alpha_bias[name] * self.dense_bias_sums[name]
        elif self.coef is not None:
            bias = self.alpha_bias[name] if self.plastic_bias else None
            y = y + history_product([(v, self.pre(name), self.alpha[name])], self.post(name), self.coef, bias)
        return y

    def recurrent(self, h_prev: Tensor, x_t: Tensor) -> Tensor:
        """z_t = h_{t-1}(W_hh + F_hh) + b_hh+f_hh + x_t(W_ih + F_ih) + b_ih+f_ih. hh and ih share post_s when the
        rule gives them one tensor, and then one history product serves both:
        sum_s c_{t,s} ((h ⊙ pre_hh,s) @ alpha_hh + (x ⊙ pre_ih,s) @ alpha_ih + alpha_b,hh + alpha_b,ih) ⊙ post_s."""
        y = torch.addmm(self.recurrent_bias, torch.cat([h_prev, x_t], dim=-1), self.recurrent_weight)
        if self.uses is not None:
            start = self.uses["hh"].apply(h_prev) + self.uses["ih"].apply(x_t) + self.start_f["hh"] + self.start_f["ih"]
            y = y + _scaled(start, self.decay)
        if self.coef is None:
            return y
        hh, ih = (h_prev, self.pre("hh"), self.alpha["hh"]), (x_t, self.pre("ih"), self.alpha["ih"])
        if self.streams["hh"][1] == self.streams["ih"][1]:
            bias = self.recurrent_alpha_bias if self.plastic_bias else None
            return y + history_product([hh, ih], self.post("hh"), self.coef, bias)
        for name, term in (("hh", hh), ("ih", ih)):
            bias = self.alpha_bias[name] if self.plastic_bias else None
            y = y + history_product([term], self.post(name), self.coef, bias)
        return y

    def linear_transposed(self, name: str, d: Tensor) -> Tensor:
        """d (W + F_{t-1})^T of a layer (the gradient rule's backward step):
        d W^T + d_t d F_a^T + sum_s c_{t,s} ((d ⊙ post_s) @ alpha^T) ⊙ pre_s, or d (W + F)^T for a dense layer."""
        y = d @ self.weight[name].t()
        if name in self.dense_F:
            dense_F = self.dense_F[name]
            return y if dense_F is None else y + (d.unsqueeze(2) * dense_F).sum(1)
        if self.uses is not None:
            y = y + _scaled(self.uses[name].apply_t(d), self.decay)
        if self.coef is not None:
            y = y + history_product([(d, self.post(name), self.alpha_t[name])], self.pre(name), self.coef)
        return y

    # ---- the history --------------------------------------------------------------------------------------------
    def pre(self, layer: str) -> Tensor:
        """pre_s of a history layer for s = a..t-1, [B, k, in]."""
        stream = self.streams[layer][0]
        if stream == INPUTS:
            return self.x[:, self.chunk_start : self.chunk_start + self.coef.shape[1]]
        return self.rows[stream]

    def post(self, layer: str) -> Tensor:
        """post_s of a history layer for s = a..t-1, [B, k, out]."""
        return self.rows[self.streams[layer][1]]

    def record(self, cache: CellCache, factors: Factors, eta: Tensor, keep: Tensor) -> None:
        """Step t joins the history (keep = 1 - lam_t):
        c_{t+1,s} = keep c_{t,s} (s < t), c_{t+1,t} = eta~_t;  d_{t+1} = keep d_t;
        dense layers: F <- keep F + eta~_t alpha ⊙ (pre_t ⊗ post_t) and sum_s c_{t+1,s} post_s likewise."""
        eta1, keep1 = eta.unsqueeze(1), keep.unsqueeze(1)  # [B, 1]
        self.coef = eta1 if self.coef is None else torch.cat([self.coef * keep1, eta1], dim=1)
        if self.uses is not None:
            self.decay = keep if self.decay is None else self.decay * keep
        for k in self.dense:  # as [B, out, in]
            pre, post = factors[k]
            update = (eta1 * post).unsqueeze(2) * pre.unsqueeze(1)
            if self.dense_alpha[k] is not None:
                update = self.dense_alpha[k] * update
            self.dense_F[k] = update if self.dense_F[k] is None else torch.addcmul(update, keep1.unsqueeze(2),
                                                                                    self.dense_F[k])
        self._append_rows(cache, factors)
        if self.plastic_bias:
            for k in self.dense:
                added = eta1 * factors[k][1]
                sums = self.dense_bias_sums
                sums[k] = added if k not in sums else torch.addcmul(added, keep1, sums[k])

    def _append_rows(self, cache: CellCache, factors: Factors) -> None:
        """Append pre_t and post_t of every history layer. A tensor that serves several layers (x_t as the input's
        post and ih's pre, the recurrent post of hh and ih) is stored once, and u_t is read from the inputs; which
        tensors coincide is found at the chunk's first step (a rule's factors have the same structure every step)."""
        if not self.streams:
            self._plan_streams(cache, factors)
        for stream, layer, role in self.stored:
            self.rows[stream] = _append(self.rows.get(stream), factors[layer][role])

    def _plan_streams(self, cache: CellCache, factors: Factors) -> None:
        seen: list[tuple[Tensor, str]] = []
        for layer in self.history_layers:
            keys = []
            for role, row in enumerate(factors[layer]):
                key = INPUTS if row is cache.u else next((k for v, k in seen if v is row), None)
                if key is None:
                    key = f"{('pre', 'post')[role]}:{layer}"
                    seen.append((row, key))
                    self.stored.append((key, layer, role))
                keys.append(key)
            self.streams[layer] = (keys[0], keys[1])

    def end_chunk(self, last: bool) -> None:
        """The chunk boundary: F = d F_a + alpha ⊙ sum_s c_s pre_s ⊗ post_s, f = d f_a + alpha_b ⊙ sum_s c_s post_s;
        after the last chunk F is left to be formed when read (``LazyWeights``)."""
        if self.uses is not None:
            for use in self.uses.values():
                use.release()
            self.start_f = {k: self.start_f[k] * self.decay[:, None] for k in LAYERS}
        if self.plastic_bias:
            sums = {}  # sum_s c_s post_s of the history layers, once per post stream: coef @ post
            for k in self.history_layers:
                stream = self.streams[k][1]
                if stream not in sums:
                    sums[stream] = torch.bmm(self.coef.unsqueeze(1), self.post(k)).squeeze(1)
            self.start_f = {k: self.start_f[k] + self.alpha_bias[k] * (
                self.dense_bias_sums[k] if k in self.dense else sums[self.streams[k][1]]) for k in LAYERS}
        history = ({k: self.pre(k) for k in self.history_layers}, {k: self.post(k) for k in self.history_layers},
                   self.coef, self.decay, self.start_F)
        if not last:  # the next chunk starts from F
            self.start_F = {**chunk_end_weights(self.alpha, *history),
                            **{k: self.dense_F[k].transpose(1, 2) for k in self.dense}}
        else:  # the final F, formed when read (a training loss reads only the outputs); alpha as of this call
            alpha = {k: None if self.alpha[k] is None else self.alpha[k].clone() for k in self.history_layers}
            dense = {k: self.dense_F[k].transpose(1, 2).contiguous() for k in self.dense}
            self.start_F = LazyWeights(LAYERS, functools.partial(_final_weights, alpha, history, dense))


def forward_from_partial_start(net, x: Tensor, state: PlasticState) -> tuple[Tensor, PlasticState]:
    """``net(x, start)`` where only the first n = ``state.batch_size`` rows of ``x [B, T, d]`` start from ``state`` and
    the other B - n start an episode (F_0 = 0, h_0 = 0): one call of the sequence form for all B rows, with the
    products of the chunk-start weights F_a over the first n rows alone in the first chunk (no zero F_a is formed
    for the others). A network that the sequence form does not run (``weight_clip``, no plasticity) gets the whole
    zero-padded state."""
    B, n = x.shape[0], state.batch_size
    if n > B:
        raise ValueError(f"state has batch size {n}, more rows than the input's {B}")
    if n == B:
        return net(x, state)
    net._check_input(x, 3)
    small = {"h": state.h, "c": state.c, "m": state.m, **{f"f.{k}": v for k, v in state.f.items()}}
    small = {k: None if v is None else pad_rows(v, B) for k, v in small.items()}
    if not (net.rule.plastic and net.config.weight_clip is None and x.shape[1] > 0):
        return net(x, state.map(lambda t: pad_rows(t, B)))
    net._check_state(state, n)
    padded = PlasticState(h=small["h"], c=small["c"], m=small["m"], F=dict(state.F),
                          f={k: small[f"f.{k}"] for k in state.f})
    return SequenceForm(net, x, padded, zero_start=False).run(net._chunk(x.shape[1]))


def chunk_end_weights(
    alpha: dict[str, Tensor | None],
    pre: dict[str, Tensor],
    post: dict[str, Tensor],
    coef: Tensor,
    decay: Tensor | None,
    start_F: dict[str, Tensor] | None,
) -> dict[str, Tensor]:
    """F = d F_a + alpha ⊙ sum_s c_s pre_s ⊗ post_s of every history layer: one [B, in, k] @ [B, k, out] product."""
    F = {}
    for k, rows in pre.items():
        Fk = torch.bmm((rows * coef.unsqueeze(2)).transpose(1, 2), post[k])
        if alpha[k] is not None:
            Fk = alpha[k] * Fk
        if start_F is None:
            F[k] = Fk
        else:  # F_a may cover only the first n rows (the others started an episode in this chunk: F_a = 0)
            n = start_F[k].shape[0]
            Fa = decay[:n, None, None] * start_F[k] + Fk[:n]
            F[k] = Fa if n == Fk.shape[0] else torch.cat([Fa, Fk[n:]])
    return F


def _final_weights(alpha, history, dense) -> dict[str, Tensor]:
    return {**chunk_end_weights(alpha, *history), **dense}


def history_product(
    terms: list[tuple[Tensor, Tensor, Tensor | None]], post: Tensor, coef: Tensor, bias: Tensor | float | None = None
) -> Tensor:
    """sum_s coef_s (sum_l (v_l ⊙ pre_l,s) @ alpha_l + alpha_b) ⊙ post_s = sum_l v_l (alpha_l ⊙ sum_s coef_s
    pre_l,s ⊗ post_s) + f.

    terms: (v [B, in], pre [B, k, in], alpha [in, out] or None (= all ones)) of layers that share post [B, k, out];
    coef [B, k]. No [in, out] matrix per sample is formed.

    ``bias`` alpha_b (alpha of the bias: [out], or a number when alpha is None), if given, adds the plastic bias
    f = alpha_b ⊙ sum_s coef_s post_s at no extra pass over the history: the bias's post is the layer's post too, so
    alpha_b rides along as the bias of the first matmul.
    """
    if terms[0][2] is None:  # sum_s coef_s (v · pre_s + alpha_b) post_s (alpha_b a number: alpha fixed to 1)
        s = None
        for v, pre, _ in terms:  # v · pre_s as [1, in] @ [in, k] per sample (faster than pre @ v on MKL)
            sv = torch.bmm(v.unsqueeze(1), pre.transpose(1, 2)).squeeze(1)
            s = sv if s is None else s + sv
        if bias is not None:
            s = s + bias
        return torch.bmm((s * coef).unsqueeze(1), post).squeeze(1)
    B, k, n = post.shape
    gated = bias  # sum_l (v_l ⊙ pre_l) @ alpha_l (+ alpha_b) as [B*k, out] matmuls, accumulated by addmm
    for v, pre, alpha in terms:
        rows = (v.unsqueeze(1) * pre).view(B * k, -1)
        gated = torch.mm(rows, alpha) if gated is None else torch.addmm(gated, rows, alpha)
    return torch.bmm(coef.unsqueeze(1), gated.view(B, k, n) * post).squeeze(1)


def _scaled(v: Tensor, decay: Tensor | None) -> Tensor:
    return v if decay is None else decay[:, None] * v


def _append(rows: Tensor | None, row: Tensor) -> Tensor:
    return row.unsqueeze(1) if rows is None else torch.cat([rows, row.unsqueeze(1)], dim=1)
