"""``PlasticPPO``: recurrent PPO for plastic policies that stores one state per env per rollout, not one per step.

``sb3_contrib.RecurrentPPO`` stores the recurrent state before every step (actor and critic, ``h`` and ``c``: four
states per step) so that it can cut the rollout into short sequences. A plastic state holds the fast weights F of
every layer (tens of thousands of floats per sample), so that buffer is ``n_steps x n_envs x 4 x state`` floats:
about 0.25 GiB at n_steps=128 and 4 GiB at n_steps=2048 with 8 envs and 128 hidden units.

``PlasticPPO`` keeps only the (packed) state of each env at the start of the rollout (``agents/ppo_buffers.py``).
Its update works on *windows* (``agents/ppo_windows.py``): every env's rollout is cut at its episode starts and into
pieces of at most ``bptt_steps`` steps (``plan_windows``). At the start of each epoch one no-grad pass of the
sequence form over the whole rollout, from the stored rollout-start states and with the episode resets of
collection, recomputes the state at every window that starts mid-episode (transient: freed after the epoch); windows
that start an episode start from F_0 = 0, h_0 = 0. A minibatch is a random set of windows (about ``batch_size`` steps
in all), run as ONE call of the parallel-over-time form (no resets inside a window, so no cuts), padded to its
longest window and masked. The gradient is BPTT truncated at the window starts: inside a window it flows through the
plastic updates back to the window's start state, which is treated as a constant.

Everything else is SB3's ``OnPolicyAlgorithm``: ``learn`` (callbacks, logger, ``progress_bar``), ``predict(obs, state,
episode_start, deterministic)`` (the policy's, as for ``RecurrentPPO``), ``save``/``load``, ``evaluate_policy``.
Episodes cut by a time limit (``TimeLimit.truncated``) are bootstrapped with the value of the terminal observation,
computed from the state after the last step, as in ``RecurrentPPO``.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import FloatSchedule, explained_variance, obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from .ppo_buffers import PlasticDictRolloutBuffer, PlasticRolloutBuffer
from .ppo_windows import WindowBatch, Windows, order_by_start, plan_windows, window_start_states
from .sb3_policy import PlasticRecurrentPolicy
from .state import PlasticState
from .vec_env import make_plastic_vec_env

# The buffers and the SB3 env factory stay importable from here, next to the algorithm that uses them.
__all__ = ["PlasticDictRolloutBuffer", "PlasticPPO", "PlasticRolloutBuffer", "make_plastic_vec_env", "ppo_loss"]

SelfPlasticPPO = TypeVar("SelfPlasticPPO", bound="PlasticPPO")


class PlasticPPO(OnPolicyAlgorithm):
    """PPO (clip) for ``PlasticRecurrentPolicy`` with O(n_envs) state storage, trained on windows of the rollout.

    Arguments are those of ``sb3_contrib.RecurrentPPO`` except:

    :param batch_size: env steps per minibatch (a minibatch holds whole windows: the rollout's windows are shuffled
        and split into ``round(n_envs * n_steps / batch_size)`` minibatches). At least the window length.
        ``None``: a quarter of the rollout per minibatch.
    :param bptt_steps: the longest window (truncated BPTT: the gradient stops at a window's start state). Windows
        also start at every episode start. ``None``: windows as long as the rollout (only episode starts cut).
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "PlasticPolicy": PlasticRecurrentPolicy,
        "PlasticRecurrentPolicy": PlasticRecurrentPolicy,
        "MlpPlasticPolicy": PlasticRecurrentPolicy,
        "MultiInputPlasticPolicy": PlasticRecurrentPolicy,
    }
    policy: PlasticRecurrentPolicy
    rollout_buffer: PlasticRolloutBuffer | PlasticDictRolloutBuffer

    def __init__(
        self,
        policy: str | type[PlasticRecurrentPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 128,
        batch_size: int | None = None,
        n_epochs: int = 10,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float | Schedule = 0.2,
        clip_range_vf: float | Schedule | None = None,
        normalize_advantage: bool = True,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        bptt_steps: int | None = 32,
        target_kl: float | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ):
        super().__init__(
            policy, env, learning_rate=learning_rate, n_steps=n_steps, gamma=gamma, gae_lambda=gae_lambda,
            ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm, use_sde=False, sde_sample_freq=-1,
            stats_window_size=stats_window_size, tensorboard_log=tensorboard_log, policy_kwargs=policy_kwargs,
            verbose=verbose, seed=seed, device=device, _init_setup_model=False,
            supported_action_spaces=(spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
        )
        if bptt_steps is not None and (isinstance(bptt_steps, bool) or not isinstance(bptt_steps, int)
                                       or bptt_steps < 1):
            raise ValueError(f"bptt_steps must be a positive int or None, got {bptt_steps!r}")
        window = n_steps if bptt_steps is None else min(bptt_steps, n_steps)
        if batch_size is not None and batch_size < window:
            raise ValueError(f"batch_size must be at least the window length {window} (min(bptt_steps, n_steps); a "
                             f"minibatch holds whole windows), got {batch_size}")
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.clip_range = clip_range
        self.clip_range_vf = clip_range_vf
        self.normalize_advantage = normalize_advantage
        self.target_kl = target_kl
        self.bptt_steps = bptt_steps
        self._last_lstm_states: RNNStates | None = None
        if _init_setup_model:
            self._setup_model()

    @property
    def window_steps(self) -> int:
        """The longest window of the update: ``min(bptt_steps, n_steps)``."""
        return self.n_steps if self.bptt_steps is None else min(self.bptt_steps, self.n_steps)

    @property
    def n_minibatches(self) -> int:
        """Minibatches per epoch."""
        total = self.n_steps * self.n_envs
        return 4 if self.batch_size is None else max(1, round(total / self.batch_size))

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(self.observation_space, self.action_space, self.lr_schedule,
                                        **self.policy_kwargs).to(self.device)
        if not isinstance(self.policy, PlasticRecurrentPolicy):
            raise ValueError(f"PlasticPPO needs a PlasticRecurrentPolicy, got {type(self.policy).__name__}")
        state = self.policy.zero_state(self.n_envs)
        self._last_lstm_states = RNNStates(state, state)
        dict_obs = isinstance(self.observation_space, spaces.Dict)
        buffer_cls = PlasticDictRolloutBuffer if dict_obs else PlasticRolloutBuffer
        self.rollout_buffer = buffer_cls(self.n_steps, self.observation_space, self.action_space,
                                         self.policy.core.hidden_size, self.device, gamma=self.gamma,
                                         gae_lambda=self.gae_lambda, n_envs=self.n_envs)
        self.clip_range = FloatSchedule(self.clip_range)
        if self.clip_range_vf is not None:
            if isinstance(self.clip_range_vf, (float, int)) and self.clip_range_vf <= 0:
                raise ValueError("clip_range_vf must be positive, pass None to deactivate value clipping")
            self.clip_range_vf = FloatSchedule(self.clip_range_vf)

    def collect_rollouts(self, env: VecEnv, callback: BaseCallback, rollout_buffer: PlasticRolloutBuffer,
                         n_rollout_steps: int) -> bool:
        """Collect ``n_rollout_steps`` steps per env; store the per-step data and the state at the rollout start."""
        assert self._last_obs is not None, "No previous observation was provided"
        self.policy.set_training_mode(False)
        n_steps = 0
        rollout_buffer.reset()
        rollout_buffer.set_start_state(self._last_lstm_states.pi)
        callback.on_rollout_start()
        core = self.policy.core
        state = core.unpack(self._last_lstm_states.pi)  # kept unpacked through the rollout, packed at its end
        while n_steps < n_rollout_steps:
            with th.no_grad():
                obs_tensor = obs_as_tensor(self._last_obs, self.device)
                episode_starts = th.tensor(self._last_episode_starts, dtype=th.float32, device=self.device)
                actions, values, log_probs, state = self.policy.act(obs_tensor, state, episode_starts)
            actions = actions.cpu().numpy()
            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)
            new_obs, rewards, dones, infos = env.step(clipped_actions)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                packed = core.pack(state)
                self._last_lstm_states = RNNStates(packed, packed)
                return False
            self._update_info_buffer(infos, dones)
            n_steps += 1
            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.reshape(-1, 1)
            rewards = rewards + self.gamma * self._truncation_values(dones, infos, state)
            rollout_buffer.add(self._last_obs, actions, rewards, self._last_episode_starts, values, log_probs)
            self._last_obs = new_obs
            self._last_episode_starts = dones

        packed = core.pack(state)
        self._last_lstm_states = RNNStates(packed, packed)
        with th.no_grad():
            episode_starts = th.tensor(dones, dtype=th.float32, device=self.device)
            values = self.policy.predict_values(obs_as_tensor(new_obs, self.device), packed, episode_starts)
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _truncation_values(self, dones: np.ndarray, infos: list[dict], state: PlasticState) -> np.ndarray:
        """``V(terminal obs)`` for the envs whose episode was cut by a time limit (0 elsewhere): the value of the
        observation the env would have shown next, read with the state after the last step (one batched call)."""
        out = np.zeros(len(dones), np.float32)
        idx = [i for i in np.flatnonzero(dones)  # only the envs whose episode ended at this step
               if infos[i].get("TimeLimit.truncated", False) and infos[i].get("terminal_observation") is not None]
        if not idx:
            return out
        terminal = [infos[i]["terminal_observation"] for i in idx]
        if isinstance(terminal[0], dict):
            batch = {k: np.stack([t[k] for t in terminal]) for k in terminal[0]}
        else:
            batch = np.stack(terminal)
        with th.no_grad():
            obs = obs_as_tensor(batch, self.device)
            sub = self.policy.core.pack(state[np.asarray(idx)])
            starts = th.zeros(len(idx), device=self.device)
            out[idx] = self.policy.predict_values(obs, sub, starts).flatten().cpu().numpy()
        return out

    def train(self) -> None:
        """PPO epochs over minibatches of windows, each epoch starting with a no-grad recomputation of the windows'
        start states with the current parameters."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)
        clip_range_vf = self.clip_range_vf(self._current_progress_remaining) if self.clip_range_vf is not None else None
        buffer = self.rollout_buffer
        windows = plan_windows(buffer.episode_starts, self.window_steps)
        n_batches = min(self.n_minibatches, len(windows.env))
        stats, continue_training = [], True
        for epoch in range(self.n_epochs):
            starts = self.window_start_states(windows)
            approx_kl_divs = []
            for rows in np.array_split(np.random.permutation(len(windows.env)), n_batches):
                rows, start = self._order_by_start(starts, windows, rows)
                loss, batch_stats = self.minibatch_loss(buffer.window_batch(windows, rows), start, clip_range,
                                                        clip_range_vf)
                stats.append(batch_stats)
                approx_kl_divs.append(batch_stats[4])
                if self.target_kl is not None and batch_stats[4] > 1.5 * self.target_kl:
                    continue_training = False
                    if self.verbose >= 1:
                        print(f"Early stopping at step {epoch} due to reaching max kl: {batch_stats[4]:.2f}")
                    break
                self.policy.optimizer.zero_grad()
                loss.backward()
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
            self._n_updates += 1
            if not continue_training:
                break

        if not stats:  # n_epochs == 0: nothing trained, nothing to log
            return
        pg_loss, value_loss, entropy_loss, clip_fraction, _ = np.mean(stats, axis=0)
        explained_var = explained_variance(buffer.values.flatten(), buffer.returns.flatten())
        self.logger.record("train/entropy_loss", entropy_loss)
        self.logger.record("train/policy_gradient_loss", pg_loss)
        self.logger.record("train/value_loss", value_loss)
        self.logger.record("train/approx_kl", np.mean(approx_kl_divs))
        self.logger.record("train/clip_fraction", clip_fraction)
        self.logger.record("train/explained_variance", explained_var)
        self.logger.record("train/windows", len(windows.env))
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)

    def window_start_states(self, windows: Windows) -> th.Tensor | None:
        """The start state of every window with the current parameters (``ppo_windows.window_start_states``)."""
        return window_start_states(self.rollout_buffer, self.policy, windows)

    _order_by_start = staticmethod(order_by_start)

    def minibatch_loss(self, data: WindowBatch, start: th.Tensor | None, clip_range: float,
                       clip_range_vf: float | None) -> tuple[th.Tensor, np.ndarray]:
        """PPO loss of one minibatch of windows and its statistics; ``start``: the start states of its first
        windows (the rest start an episode)."""
        actions = data.actions
        if isinstance(self.action_space, spaces.Discrete):
            actions = actions.long().flatten()
        start_steps = None if start is None else int(data.lengths[: len(start)].max())
        values, log_prob, entropy = self.policy.evaluate_windows(data.observations, actions, start, data.n_seq,
                                                                 start_steps, lengths=data.lengths)
        return ppo_loss(values, log_prob, entropy, data, clip_range, clip_range_vf, ent_coef=self.ent_coef,
                        vf_coef=self.vf_coef, normalize_advantage=self.normalize_advantage)

    def learn(self: SelfPlasticPPO, total_timesteps: int, callback: MaybeCallback = None, log_interval: int = 1,
              tb_log_name: str = "PlasticPPO", reset_num_timesteps: bool = True,
              progress_bar: bool = False) -> SelfPlasticPPO:
        return super().learn(total_timesteps=total_timesteps, callback=callback, log_interval=log_interval,
                             tb_log_name=tb_log_name, reset_num_timesteps=reset_num_timesteps,
                             progress_bar=progress_bar)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_last_lstm_states"]


def ppo_loss(values: th.Tensor, log_prob: th.Tensor, entropy: th.Tensor | None, data: WindowBatch, clip_range: float,
             clip_range_vf: float | None, ent_coef: float, vf_coef: float,
             normalize_advantage: bool = True) -> tuple[th.Tensor, np.ndarray]:
    """SB3's PPO loss over the real (unmasked) steps of a minibatch: clipped surrogate + ``vf_coef`` x value loss +
    ``ent_coef`` x entropy loss, advantages normalized over the minibatch. Returns the loss and
    ``[policy loss, value loss, entropy loss, clip fraction, approx KL]``."""
    mask = data.mask
    n = mask.sum()

    def mean(x: th.Tensor) -> th.Tensor:
        return (x * mask).sum() / n

    advantages = data.advantages
    if normalize_advantage and n > 1:
        centered = advantages - mean(advantages)
        advantages = centered / (th.sqrt((centered**2 * mask).sum() / (n - 1)) + 1e-8)
    ratio = th.exp(log_prob - data.old_log_prob)
    policy_loss = -mean(th.min(advantages * ratio, advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)))
    values = values.flatten()
    if clip_range_vf is not None:
        values = data.old_values + th.clamp(values - data.old_values, -clip_range_vf, clip_range_vf)
    value_loss = mean((data.returns - values) ** 2)
    entropy_loss = -mean(entropy if entropy is not None else -log_prob)
    loss = policy_loss + ent_coef * entropy_loss + vf_coef * value_loss
    with th.no_grad():
        log_ratio = log_prob - data.old_log_prob
        approx_kl = mean((th.exp(log_ratio) - 1) - log_ratio).item()
        clip_fraction = mean((th.abs(ratio - 1) > clip_range).float()).item()
    stats = np.array([policy_loss.item(), value_loss.item(), entropy_loss.item(), clip_fraction, approx_kl])
    return loss, stats
