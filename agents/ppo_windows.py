"""The windows that ``PlasticPPO``'s update trains on: where they start and from which state.

The update cuts every env's rollout into *windows* (``plan_windows``): a window never contains an episode start
except at its first step, and is at most ``max_len`` steps long (an episode piece longer than that is split into
near-equal windows). A window therefore starts from one of three states (``window_start_states``): zero (it begins
an episode: F_0 = 0, h_0 = 0), the stored rollout-start state (it begins the rollout mid-episode), or a state
recomputed by a no-grad pass over the rollout with the current parameters (it begins mid-episode inside the
rollout). Minibatches of many windows then run as one call of the parallel-over-time form with no resets inside, and
the gradient is BPTT truncated at the window starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch as th

if TYPE_CHECKING:
    from stable_baselines3.common.buffers import RolloutBuffer

    from .sb3_policy import PlasticRecurrentPolicy

__all__ = ["WindowBatch", "Windows", "forward_windows", "order_by_start", "plan_windows", "window_start_states"]


class Windows(NamedTuple):
    """The windows of one rollout (one entry per window, env-major then time order)."""

    env: np.ndarray  # [N] env index
    start: np.ndarray  # [N] first step (index into the rollout)
    length: np.ndarray  # [N] steps, 1..max_len
    begins_episode: np.ndarray  # [N] bool: the first step starts an episode (start state zero)

    @property
    def needs_recompute(self) -> np.ndarray:
        """Windows that start mid-episode inside the rollout: their start state comes from the no-grad pass."""
        return ~self.begins_episode & (self.start > 0)


class WindowBatch(NamedTuple):
    """A minibatch of M windows padded to L steps, window-major (row ``i * L + l`` is window i, step l)."""

    observations: th.Tensor | dict[str, th.Tensor]  # [M * L, ...]
    actions: th.Tensor  # [M * L, action_dim]
    old_values: th.Tensor  # [M * L]
    old_log_prob: th.Tensor  # [M * L]
    advantages: th.Tensor  # [M * L]
    returns: th.Tensor  # [M * L]
    mask: th.Tensor  # [M * L] float: 1 on real steps, 0 on padding
    n_seq: int  # M
    length: int  # L
    lengths: np.ndarray  # [M] real steps of each window


def plan_windows(episode_starts: np.ndarray, max_len: int) -> Windows:
    """Cut each env's rollout (``episode_starts [n_steps, n_envs]``) at its episode starts, then split every piece of
    n steps into ceil(n / max_len) windows of near-equal length (piece j of k starts at ``j * n // k``)."""
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    starts = np.asarray(episode_starts, dtype=bool).T  # [n_envs, n_steps]
    n_envs, n_steps = starts.shape
    cut = starts.copy()
    cut[:, 0] = True  # every rollout start begins a piece
    env, t = np.nonzero(cut)  # env-major, time-ascending
    same_env = np.append(env[1:] == env[:-1], False)
    end = np.where(same_env, np.append(t[1:], n_steps), n_steps)
    n = end - t
    k = -(-n // max_len)  # windows per piece
    piece = np.repeat(np.arange(len(t)), k)
    j = np.arange(len(piece)) - np.repeat(np.cumsum(k) - k, k)  # index of the window inside its piece
    w_start = t[piece] + (j * n[piece]) // k[piece]
    w_end = t[piece] + ((j + 1) * n[piece]) // k[piece]
    w_env = env[piece]
    return Windows(w_env, w_start, w_end - w_start, starts[w_env, w_start])


def window_start_states(buffer: RolloutBuffer, policy: PlasticRecurrentPolicy, windows: Windows) -> th.Tensor | None:
    """The flattened start state of every window, ``[n_windows, 2 * hidden_size]`` (``None``: every window starts an
    episode): zero at an episode start, the stored state at the rollout start (``buffer``: a ``PlasticRolloutBuffer``
    or ``PlasticDictRolloutBuffer``), and for windows that start mid-episode inside the rollout the state of one
    no-grad pass of ``policy`` over the rollout."""
    core = policy.core
    from_rollout_start = ~windows.begins_episode & (windows.start == 0)
    recompute = windows.needs_recompute
    if not (from_rollout_start.any() or recompute.any()):
        return None
    stored = th.cat([buffer.to_torch(buffer.start_h), buffer.to_torch(buffer.start_c)], dim=1)  # [n_envs, 2H]
    states = stored.new_zeros(len(windows.env), stored.shape[1])
    rows = th.as_tensor(np.flatnonzero(from_rollout_start), device=stored.device)
    states[rows] = stored[th.as_tensor(windows.env[from_rollout_start], device=stored.device)]
    if recompute.any():
        times = np.unique(windows.start[recompute])
        with th.no_grad():
            features = policy.extract_features(buffer.observations_by_env())
            features = features.reshape(buffer.n_envs, buffer.buffer_size, -1)
            h = core.hidden_size
            start = core.unpack((stored[None, :, :h], stored[None, :, h:]))
            resets = buffer.to_torch(np.ascontiguousarray(buffer.episode_starts.T))
            for t, flat in zip(times, core.states_at(features, start, resets, times.tolist()), strict=True):
                at_t = np.flatnonzero(recompute & (windows.start == t))
                states[th.as_tensor(at_t)] = flat[th.as_tensor(windows.env[at_t])]
    return states


def order_by_start(starts: th.Tensor | None, windows: Windows, rows: np.ndarray) -> tuple[np.ndarray, th.Tensor | None]:
    """The minibatch's windows ``rows`` with those that need a start state first, and their start states (``None``:
    all of them start an episode)."""
    if starts is None:
        return rows, None
    stateful = ~windows.begins_episode[rows]
    if not stateful.any():
        return rows, None
    rows = np.concatenate([rows[stateful], rows[~stateful]])
    return rows, starts[th.as_tensor(rows[: int(stateful.sum())], device=starts.device)]


def forward_windows(net, x: th.Tensor, lengths: np.ndarray, start=None) -> th.Tensor:
    """The network's outputs ``[N, L, D]`` on N windows ``x [N, L, d]`` of ``lengths`` real steps each (the steps
    after are padding, for the loss to mask): the first ``start.batch_size`` rows from the plastic state ``start``,
    the others (all, when ``start`` is None) from an episode start.

    One call of the sequence form (``sequence.forward_from_partial_start``), cut where many windows end: after a cut
    only the windows still running go on, from their state at the cut (F formed there, as at a chunk boundary, so
    the function does not change). A cut at step t pays for itself when the rows it drops would have run long:
    ``dropped x (L - t) >= 2 x still running``. A rollout of 16 envs with a 100-step episode starting inside it has
    windows of a, 100 and 28 - a steps; after step max(a, 28 - a) only the 16 long ones go on."""
    from .sequence import forward_from_partial_start

    n_rows, steps = x.shape[0], x.shape[1]
    lengths = np.asarray(lengths)
    bounds, running = [0], n_rows
    for t in np.unique(lengths[lengths < steps]).tolist():
        after = int((lengths > t).sum())
        if t > bounds[-1] and (running - after) * (steps - t) >= 2 * after:
            bounds.append(t)
            running = after
    bounds.append(steps)
    outs, state, rows = [], start, np.arange(n_rows)
    for t0, t1 in zip(bounds[:-1], bounds[1:], strict=True):
        if t0 == 0:
            out, state = net(x[:, :t1]) if start is None else forward_from_partial_start(net, x[:, :t1], start)
        else:
            going_on = lengths[rows] > t0
            state = state[np.flatnonzero(going_on)]
            rows = rows[going_on]
            out, state = net(x[th.as_tensor(rows, device=x.device), t0:t1], state)
        if len(rows) < n_rows:
            index = th.as_tensor(rows, device=x.device)
            out = out.new_zeros(n_rows, *out.shape[1:]).index_copy(0, index, out)
        outs.append(out)
    return th.cat(outs, dim=1) if len(outs) > 1 else outs[0]
