"""The fast plastic network (SPEC section 4) used for training and acting.

Two forms of the same function:

* ``step(x_t, state)``: the recurrent form. F of every layer is materialised ([B, in, out]) and updated each step;
  the gradient rule's G comes from one manual backward step (``plastic_linear.gradient_terms``), no autograd.grad.
* ``forward(x, state)``: the training form over a whole sequence. Within a chunk of K steps that starts with the
  plastic weights F_a, the weights used at step t are

      F_{t-1} = d_t F_a + sum_{a<=s<t} c_{t,s} alpha ⊙ (pre_s ⊗ post_s)
      d_t = prod_{a<=r<t} (1 - lam_r),     c_{t,s} = eta~_s prod_{s<r<t} (1 - lam_r)

  so a layer's input v_t never meets a materialised F inside the chunk:

      v_t F_{t-1} = d_t (v_t F_a) + sum_s c_{t,s} ((v_t ⊙ pre_s) @ alpha) ⊙ post_s

  which is one dense matmul [B*k, in] @ [in, out] per layer and step (a batched matrix-vector product when
  alpha = 1), and likewise d (W+F)^T for the gradient rule's backward step. F is materialised only at chunk
  boundaries (one [B, in, K] @ [B, K, out] product), so autograd stores per step activations of size [B, k, in]
  instead of [B, in, out] weights, and long episodes stay cheap. The gradient of F_a is formed once per chunk
  (``_ChunkStartWeights``) instead of once per step. With ``weight_clip`` set the clamp is not linear and
  ``forward`` falls back to looping ``step``.

  Two exceptions: a narrow output layer (``DENSE_OUTPUT_MAX``), whose F is small and whose history would cost more
  elementwise work than it saves, keeps F materialised through the chunk, updated as
  F <- (1 - lam_t) F + eta~_t alpha ⊙ (pre_t ⊗ post_t); and the final state's F is handed back as ``LazyWeights``,
  formed only when read, since a training loss reads the outputs alone.

Cost per layer and step: O(B k in out) flops in matmuls plus O(B k (in + out)) memory, against O(B in out) memory
traffic for a materialised F. The history's cost grows with k and a materialised F's does not, so short chunks
favour the history; the automatic K (``_chunk``) and the measurements behind it are in ``docs/performance.md``.
"""

from __future__ import annotations

import torch

from .config import PlasticConfig
from .plastic_linear import LAYERS, CellCache, PlasticNetworkBase, Terms, cell_forward, gradient_terms, hebbian_terms
from .state import LazyWeights, PlasticState

Tensor = torch.Tensor
DENSE_OUTPUT_MAX = 16  # an output layer at most this wide keeps F materialised in the sequence form


class PlasticNetwork(PlasticNetworkBase):
    """Plastic RNN/LSTM with plastic input, recurrent and output layers.

    ``net(x, state=None) -> (out [B, T, output_dim], state)``;
    ``net.step(x_t, state) -> (out_t [B, output_dim], state)``.
    ``chunk_size`` (K; None: automatic) only trades speed for memory; the function does not depend on it.
    """

    def __init__(self, config: PlasticConfig, chunk_size: int | None = None) -> None:
        super().__init__(config)
        if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
            raise ValueError(f"chunk_size must be an int >= 1 or None (automatic), got {chunk_size!r}")
        self.chunk_size = chunk_size

    def _chunk(self, T: int) -> int:
        """K: the whole sequence up to 24 steps, else chunks of 16 (where the history still beats a materialised F;
        the measurements are in ``docs/performance.md``)."""
        if self.chunk_size is not None:
            return self.chunk_size
        return T if T <= 24 else 16

    # ---- recurrent (materialised) form ------------------------------------------------------------------------
    def step(self, x_t: Tensor, state: PlasticState) -> tuple[Tensor, PlasticState]:
        """One step: x_t [B, input_dim] -> (out_t [B, output_dim], next state). For acting and rollouts."""
        self._check_input(x_t, 2)
        self._check_state(state, x_t.shape[0])
        return self._step(x_t, state)

    def _step(self, u: Tensor, state: PlasticState) -> tuple[Tensor, PlasticState]:
        cfg = self.config
        L = self.layers
        F, f = state.F, state.f

        def lin(name: str, v: Tensor) -> Tensor:
            y = torch.addmm(L[name].bias, v, L[name].weight)
            if cfg.plastic:
                y = y + torch.bmm(v.unsqueeze(1), F[name]).squeeze(1) + f[name]
            return y

        def lin_t(name: str, d: Tensor) -> Tensor:
            return d @ L[name].weight.t() + torch.bmm(d.unsqueeze(1), F[name].transpose(1, 2)).squeeze(1)

        cache = cell_forward(cfg.cell, lin, u, state.h, state.c)
        if not cfg.plastic:
            return self._out(cache), PlasticState(h=cache.h, c=cache.c, m=self._m(cache.o))
        terms, eta, lam, m = self._plasticity(cache, lin_t)
        keep = 1.0 - lam
        new_F, new_f = {}, {}
        for k, (pre, post, bpost) in terms.items():
            aw, ab = L[k].alpha_weight, L[k].alpha_bias
            g = pre.unsqueeze(2) * post.unsqueeze(1)
            new_F[k] = keep[:, None, None] * F[k] + eta[:, None, None] * (g if aw is None else aw * g)
            new_f[k] = keep[:, None] * f[k]
            if bpost is not None:
                new_f[k] = new_f[k] + eta[:, None] * (bpost if ab is None else ab * bpost)
            if cfg.weight_clip is not None:
                new_F[k] = new_F[k].clamp(-cfg.weight_clip, cfg.weight_clip)
                new_f[k] = new_f[k].clamp(-cfg.weight_clip, cfg.weight_clip)
        return self._out(cache), PlasticState(h=cache.h, c=cache.c, m=m, F=new_F, f=new_f)

    # ---- helpers shared by both forms -------------------------------------------------------------------------
    def _out(self, cache: CellCache) -> Tensor:
        return cache.o[:, : self.config.output_dim]

    def _m(self, o: Tensor) -> Tensor:
        return o[:, -1] if self.config.modulation else torch.zeros_like(o[:, 0])

    def _plasticity(
        self, cache: CellCache, lin_t, err_scale: Tensor | None = None
    ) -> tuple[Terms, Tensor, Tensor, Tensor]:
        """(pre, post, bias post) per layer, eta~_t, lam_t, m_t. ``err_scale``: ``_inner_loss_scale()`` if known."""
        if self.config.rule == "hebbian":
            terms, sq = hebbian_terms(cache)
        else:
            scale = self._inner_loss_scale() if err_scale is None else err_scale
            terms, sq = gradient_terms(self.config.cell, cache, scale * cache.o, lin_t)
        eta, lam, m = self._rates(cache.o, sq)
        return terms, eta, lam, m

    # ---- sequence (chunked, parallel-over-history) form -------------------------------------------------------
    def forward(self, x: Tensor, state: PlasticState | None = None) -> tuple[Tensor, PlasticState]:
        """A sequence: x [B, T, input_dim] -> (out [B, T, output_dim], state after step T-1).

        ``state=None`` starts an episode (F_0 = 0, h_0 = 0). Equal to looping ``step`` (same function, same gradients).
        """
        self._check_input(x, 3)
        B, T = x.shape[0], x.shape[1]
        cfg = self.config
        chunked = cfg.plastic and cfg.weight_clip is None and T > 0
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
        """Chunked history form (see the module docstring).

        hh and ih share their post (and the coefficients), so the recurrent pre-activation takes one
        ``R ⊙ post`` reduction for both: sum_s c_s (((h ⊙ ph_s) @ alpha_hh) + ((x ⊙ px_s) @ alpha_ih)) ⊙ post_s.
        """
        cfg = self.config
        L = self.layers
        T = x.shape[1]
        gradient = cfg.rule == "gradient"
        hebbian = not gradient
        W = {k: L[k].weight for k in LAYERS}
        A = {k: L[k].alpha_weight for k in LAYERS}
        At = {k: _t(A[k]) for k in LAYERS}
        Ab = {k: (1.0 if L[k].alpha_bias is None else L[k].alpha_bias) for k in LAYERS}
        W_rec = torch.cat([W["hh"], W["ih"]], dim=0)  # [h, x] @ [W_hh; W_ih]: one matmul for the fixed part
        b_rec = L["hh"].bias + L["ih"].bias
        Ab_rec = Ab["hh"] + Ab["ih"]  # the hh and ih biases get the same error (gradient rule)
        post_of = {"input": "input", "hh": "hh", "ih": "hh", "output": "output"}  # ih's post is hh's
        dense = self._dense_layers()
        hist = tuple(k for k in LAYERS if k not in dense)
        # A dense layer's F is kept as [B, out, in] (and alpha as [out, in]), so its products run along contiguous rows.
        Ad = {k: None if A[k] is None else A[k].t().contiguous() for k in dense}
        err_scale = self._inner_loss_scale() if gradient else None  # dL_int/do_t = err_scale ⊙ o_t

        F0: dict[str, Tensor] | None = None if zero_start else dict(state.F)  # chunk-start F (None: zero)
        Fd: dict[str, Tensor | None] = {k: None if F0 is None else F0[k].transpose(1, 2) for k in dense}
        f0: dict[str, Tensor] = dict(state.f)
        h, c, m = state.h, state.c, state.m
        u_steps = x.unbind(1)  # the inputs u_t, and below u_t W_in + b_in for every t in one matmul
        u_fixed = torch.addmm(L["input"].bias, x.reshape(-1, x.shape[-1]), W["input"]).view(*x.shape[:2], -1).unbind(1)
        outs = []
        K = self._chunk(T)
        for a in range(0, T, K):
            # The history of this chunk as streams of rows [B, k, dim], each stored once: "x" (x_s, pre of ih),
            # "hprev" (h_{s-1}, pre of hh), "h" (h_s, pre of a history output layer) and the posts "qin" (gradient
            # rule; the hebbian one is x_s), "qrec" (hh and ih) and "qout". The inputs u_s are a view of x.
            S: dict[str, Tensor] = {}

            def P(k: str) -> Tensor:  # [B, k, in]: pre_s of a layer in this chunk
                if k == "input":
                    return x[:, a : a + coef.shape[1]]
                return S[{"hh": "hprev", "ih": "x", "output": "h"}[k]]

            def Q(k: str) -> Tensor:  # [B, k, out]: post_s of a layer
                k = post_of[k]
                if k == "input":
                    return S["x"] if hebbian else S["qin"]
                return S["qrec"] if k == "hh" else S["qout"]

            coef: Tensor | None = None  # [B, k]: c_{t,s}
            decay: Tensor | None = None  # [B]: d_t (None = 1)
            cq: dict[str, Tensor] = {}  # gradient rule: sum_s c_{t,s} post_s (a bias's plastic part, before alpha)
            use = None if F0 is None else {k: _ChunkStartWeights(F0[k]) for k in hist}

            def lin(name: str, v: Tensor) -> Tensor:  # input (v = u_t) and output layers
                y = u_fixed[t] if name == "input" else torch.addmm(L[name].bias, v, W[name])
                if use is not None:  # d_t (v F_a + f_a); a dense layer's F is all in Fd
                    y = y + _scaled(f0[name] if name in Fd else use[name].apply(v) + f0[name], decay)
                if name in Fd:
                    if Fd[name] is not None:
                        y = y + torch.linalg.vecdot(Fd[name], v.unsqueeze(1))
                    if gradient and coef is not None:
                        y = y + Ab[name] * cq[name]
                elif coef is not None:
                    y = y + _history([(v, P(name), A[name])], Q(name), coef, Ab[name] if gradient else None)
                return y

            def rec(h_prev: Tensor, x_t: Tensor) -> Tensor:  # hh and ih together
                y = torch.addmm(b_rec, torch.cat([h_prev, x_t], dim=-1), W_rec)
                if use is not None:
                    y = y + _scaled(use["hh"].apply(h_prev) + use["ih"].apply(x_t) + f0["hh"] + f0["ih"], decay)
                if coef is not None:
                    layers = [(h_prev, P("hh"), A["hh"]), (x_t, P("ih"), A["ih"])]
                    y = y + _history(layers, Q("hh"), coef, Ab_rec if gradient else None)
                return y

            def lin_t(name: str, d: Tensor) -> Tensor:  # d (W+F)^T of output and ih
                y = d @ W[name].t()
                if name in Fd:
                    return y if Fd[name] is None else y + (d.unsqueeze(2) * Fd[name]).sum(1)
                if use is not None:
                    y = y + _scaled(use[name].apply_t(d), decay)
                if coef is not None:
                    y = y + _history([(d, Q(name), At[name])], P(name), coef)
                return y

            for t in range(a, min(T, a + K)):
                cache = cell_forward(cfg.cell, lin, u_steps[t], h, c, rec)
                outs.append(self._out(cache))
                h, c = cache.h, cache.c
                terms, eta, lam, m = self._plasticity(cache, lin_t, err_scale)
                keep = 1.0 - lam
                eta1, keep1 = eta.unsqueeze(1), keep.unsqueeze(1)  # [B, 1]
                coef = eta1 if coef is None else torch.cat([coef * keep1, eta1], dim=1)
                if use is not None:  # d_t scales what the chunk started with; an episode start has F_a = f_a = 0
                    decay = keep if decay is None else decay * keep
                for k in dense:  # F <- (1 - lam_t) F + eta_t alpha ⊙ (pre_t ⊗ post_t), as [B, out, in]
                    pre, post, _ = terms[k]
                    g = (eta1 * post).unsqueeze(2) * pre.unsqueeze(1)
                    if Ad[k] is not None:
                        g = Ad[k] * g
                    Fd[k] = g if Fd[k] is None else torch.addcmul(g, keep1.unsqueeze(2), Fd[k])
                rows = {"x": cache.x, "hprev": cache.h_prev, "qrec": terms["hh"][1]}
                if gradient:
                    rows["qin"] = terms["input"][1]
                if "output" in hist:
                    rows["h"], rows["qout"] = cache.h, terms["output"][1]
                for k, row in rows.items():  # grow the history by one row
                    S[k] = _append(S.get(k), row)
                if gradient:  # a dense layer's bias: sum_s c_{t+1,s} q_s = (1 - lam_t) sum_s c_{t,s} q_s + eta_t q_t
                    for k in dense:
                        q = eta1 * terms[k][1]
                        cq[k] = q if k not in cq else torch.addcmul(q, keep1, cq[k])
            if use is not None:  # the uses hold the token; dropping it here avoids a reference cycle through autograd
                for u in use.values():
                    u.token = None
            # the chunk boundary: F = d F_a + alpha ⊙ sum_s c_s pre_s ⊗ post_s, f likewise
            if use is not None:
                f0 = {k: f0[k] * decay[:, None] for k in LAYERS}
            if gradient:  # the history layers' bias sums, once per chunk: sum_s c_s q_s = coef @ Q
                for k in hist:
                    if post_of[k] not in cq:
                        cq[post_of[k]] = torch.bmm(coef.unsqueeze(1), Q(k)).squeeze(1)
                f0 = {k: f0[k] + Ab[k] * cq[post_of[k]] for k in LAYERS}
            history = ({k: P(k) for k in hist}, {k: Q(k) for k in hist}, coef, decay, F0)
            if a + K < T:  # the next chunk starts from F
                F0 = {**_chunk_end_weights(A, *history), **{k: Fd[k].transpose(1, 2) for k in dense}}
            else:  # the final F: formed when read (a training loss reads only the outputs, not the last state)
                alpha = {k: None if A[k] is None else A[k].clone() for k in hist}  # alpha as of this call
                done = {k: Fd[k].transpose(1, 2).contiguous() for k in dense}
                F0 = LazyWeights(LAYERS, lambda: {**_chunk_end_weights(alpha, *history), **done})
        return torch.stack(outs, dim=1), PlasticState(h=h, c=c, m=m, F=F0, f=f0)


def _chunk_end_weights(
    alpha: dict[str, Tensor | None],
    pre: dict[str, Tensor],
    post: dict[str, Tensor],
    coef: Tensor,
    decay: Tensor,
    F_start: dict[str, Tensor] | None,
) -> dict[str, Tensor]:
    """F = d F_a + alpha ⊙ sum_s c_s pre_s ⊗ post_s of every layer: one [B, in, k] @ [B, k, out] product each."""
    F = {}
    for k, P in pre.items():
        Fk = torch.bmm((P * coef.unsqueeze(2)).transpose(1, 2), post[k])
        if alpha[k] is not None:
            Fk = alpha[k] * Fk
        F[k] = Fk if F_start is None else decay[:, None, None] * F_start[k] + Fk
    return F


class _ChunkStartWeights:
    """v F_a (and d F_a^T) for the steps of one chunk, with dF_a accumulated once per chunk.

    Autograd would form a [B, in, out] gradient of F_a at every step that uses it and add them up (memory-bound).
    Here each use saves its (v, g) pair and the gradient is one [B, in, n] @ [B, n, out] product, computed when the
    gradient reaches F_a (a ``_Gate`` node that every use depends on, so it runs after all of them).
    """

    def __init__(self, F: Tensor) -> None:
        self.F = F
        self.left: list[Tensor] = []
        self.right: list[Tensor] = []
        self.token = _Gate.apply(F, self) if F.requires_grad and torch.is_grad_enabled() else None

    def apply(self, v: Tensor) -> Tensor:
        """v F_a."""
        if self.token is None:
            return torch.bmm(v.unsqueeze(1), self.F).squeeze(1)
        return _UseF.apply(v, self.F, self.token, self, False)

    def apply_t(self, d: Tensor) -> Tensor:
        """d F_a^T."""
        if self.token is None:
            return torch.bmm(d.unsqueeze(1), self.F.transpose(1, 2)).squeeze(1)
        return _UseF.apply(d, self.F, self.token, self, True)

    def grad(self) -> Tensor:
        g = torch.bmm(torch.stack(self.left, dim=2), torch.stack(self.right, dim=1))
        self.left, self.right = [], []
        return g


class _Gate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, F: Tensor, owner: _ChunkStartWeights) -> Tensor:
        ctx.owner = owner
        return F.new_zeros(())

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, _g: Tensor):
        owner = ctx.owner
        return (owner.grad() if owner.left else None), None


class _UseF(torch.autograd.Function):
    """y = v F (transposed=False) or y = d F^T (transposed=True); dF is deferred to the owner."""

    @staticmethod
    def forward(ctx, v, F, token, owner, transposed):
        ctx.save_for_backward(v, F)
        ctx.owner, ctx.transposed = owner, transposed
        return torch.bmm(v.unsqueeze(1), F.transpose(1, 2) if transposed else F).squeeze(1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        v, F = ctx.saved_tensors
        gv = None
        if ctx.needs_input_grad[0]:
            gv = torch.bmm(g.unsqueeze(1), F if ctx.transposed else F.transpose(1, 2)).squeeze(1)
        if ctx.transposed:  # y_i = sum_j d_j F[i, j]  ->  dF[i, j] += g_i d_j
            ctx.owner.left.append(g)
            ctx.owner.right.append(v)
        else:  # y_j = sum_i v_i F[i, j]  ->  dF[i, j] += v_i g_j
            ctx.owner.left.append(v)
            ctx.owner.right.append(g)
        return gv, None, g.new_zeros(()), None, None


def _t(a: Tensor | None) -> Tensor | None:
    return None if a is None else a.t()


def _scaled(v: Tensor, decay: Tensor | None) -> Tensor:
    return v if decay is None else decay[:, None] * v


def _append(hist: Tensor | None, row: Tensor) -> Tensor:
    return row.unsqueeze(1) if hist is None else torch.cat([hist, row.unsqueeze(1)], dim=1)


def _history(
    terms: list[tuple[Tensor, Tensor, Tensor | None]], Q: Tensor, coef: Tensor, bias: Tensor | float | None = None
) -> Tensor:
    """sum_s coef_s (sum_l (v_l ⊙ P_l,s) @ A_l + a_b) ⊙ Q_s  =  sum_l v_l (A_l ⊙ sum_s coef_s P_l,s ⊗ Q_s) + f.

    terms: (v [B, in], P [B, k, in], A [in, out] or None (= all ones)) of layers that share Q [B, k, out];
    coef [B, k]. No [in, out] matrix per sample is formed.

    ``bias`` a_b (alpha of the bias: [out], or a number when A is None), if given, adds the gradient rule's plastic
    bias f = a_b ⊙ sum_s coef_s Q_s at no extra pass over the history: the bias's post is the layer's error Q too,
    so a_b rides along as the bias of the first matmul.
    """
    if terms[0][2] is None:  # sum_s coef_s (v · P_s + a_b) Q_s (a_b a number: alpha fixed to 1)
        s = None
        for v, P, _ in terms:  # v · P_s as [1, in] @ [in, k] per sample (MKL runs P @ v ~7x slower)
            sv = torch.bmm(v.unsqueeze(1), P.transpose(1, 2)).squeeze(1)
            s = sv if s is None else s + sv
        if bias is not None:
            s = s + bias
        return torch.bmm((s * coef).unsqueeze(1), Q).squeeze(1)
    B, k, n = Q.shape
    R = bias  # alpha of the bias [out], present whenever A is
    for v, P, A in terms:  # R = sum_l (v_l ⊙ P_l) @ A_l (+ a_b) as [B*k, out] matmuls, accumulated by addmm
        U = (v.unsqueeze(1) * P).view(B * k, -1)
        R = torch.mm(U, A) if R is None else torch.addmm(R, U, A)
    return torch.bmm(coef.unsqueeze(1), R.view(B, k, n) * Q).squeeze(1)
