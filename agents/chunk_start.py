"""The chunk-start weights F_a of the sequence form, used at every step of a chunk with one gradient per chunk.

Within a chunk the sequence form (``sequence.py``) multiplies F_a by a vector at every step: v_t F_a in the forward
pass and d_t F_a^T in the gradient rule's backward step. Autograd would form a [B, in, out] gradient of F_a at every
such use and add them up, which is memory-bound; ``ChunkStartWeights`` forms it once per chunk instead:

    dL/dF_a = sum_t v_t ⊗ g_t  (+ sum_t g'_t ⊗ d_t)  = one [B, in, n] @ [B, n, out] product over the chunk's uses

F_a may cover only the first rows of the batch (the other rows start an episode, F_a = 0): the products then run
over those rows alone and the rest of the result is zero (``pad_rows``).
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


class ChunkStartWeights:
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
        """v F_a (zero in the rows past F_a's)."""
        n = self.F.shape[0]
        part = v if n == v.shape[0] else v[:n]
        if self.token is None:
            return pad_rows(torch.bmm(part.unsqueeze(1), self.F).squeeze(1), v.shape[0])
        return pad_rows(_UseF.apply(part, self.F, self.token, self, False), v.shape[0])

    def apply_t(self, d: Tensor) -> Tensor:
        """d F_a^T (zero in the rows past F_a's)."""
        n = self.F.shape[0]
        part = d if n == d.shape[0] else d[:n]
        if self.token is None:
            return pad_rows(torch.bmm(part.unsqueeze(1), self.F.transpose(1, 2)).squeeze(1), d.shape[0])
        return pad_rows(_UseF.apply(part, self.F, self.token, self, True), d.shape[0])

    def release(self) -> None:
        """Drop the token once the chunk is done: the uses hold it, and keeping it here would make a reference cycle
        through autograd."""
        self.token = None

    def grad(self) -> Tensor:
        g = torch.bmm(torch.stack(self.left, dim=2), torch.stack(self.right, dim=1))
        self.left, self.right = [], []
        return g


def pad_rows(t: Tensor, rows: int) -> Tensor:
    """``t`` [n, ...] followed by zero rows up to ``rows`` (``t`` itself when n = rows)."""
    n = t.shape[0]
    return t if n == rows else torch.cat([t, t.new_zeros(rows - n, *t.shape[1:])])


class _Gate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, F: Tensor, owner: ChunkStartWeights) -> Tensor:
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
