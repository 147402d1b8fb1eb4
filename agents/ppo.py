"""``PlasticPPO``: recurrent PPO for plastic policies that stores one state per env per rollout, not one per step.

``sb3_contrib.RecurrentPPO`` stores the recurrent state before every step (actor and critic, ``h`` and ``c``: four
states per step) so that it can cut the rollout into short sequences. A plastic state holds the fast weights F of
every layer (tens of thousands of floats per sample), so that buffer is ``n_steps x n_envs x 4 x state`` floats:
about 0.25 GiB at n_steps=128 and 4 GiB at n_steps=2048 with 8 envs and 128 hidden units.

``PlasticPPO`` keeps only the (packed) state of each env at the start of the rollout. Training replays whole per-env
sequences from those states: minibatches are sets of envs, each run over all ``n_steps`` steps (or over windows of
``bptt_steps`` with the state carried forward detached: truncated BPTT), rows are zeroed at episode starts inside the
replay exactly as during collection, and the gradient flows through the plastic updates back to the rollout start
(or window start). Episodes longer than a rollout are therefore trained with truncated BPTT at rollout boundaries.
Storage per rollout: the usual per-step PPO arrays (obs, action, reward, value, log-prob, advantage, return, start
flag) plus ``n_envs`` states, independent of the state size times n_steps.

Everything else is SB3's ``OnPolicyAlgorithm``: ``learn`` (callbacks, logger, ``progress_bar``), ``predict(obs, state,
episode_start, deterministic)`` (the policy's, as for ``RecurrentPPO``), ``save``/``load``, ``evaluate_policy``.
Episodes cut by a time limit (``TimeLimit.truncated``) are bootstrapped with the value of the terminal observation,
computed from the state after the last step, as in ``RecurrentPPO``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar, NamedTuple, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import FloatSchedule, explained_variance, obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from .sb3_policy import PlasticRecurrentPolicy

__all__ = ["PlasticPPO", "make_plastic_vec_env", "PlasticRolloutBuffer", "PlasticDictRolloutBuffer", "SequenceSamples"]

SelfPlasticPPO = TypeVar("SelfPlasticPPO", bound="PlasticPPO")


class SequenceSamples(NamedTuple):
    """A minibatch of whole per-env sequences, sequence-major (row ``i * T + t`` is env i, step t)."""

    observations: th.Tensor | dict[str, th.Tensor]
    actions: th.Tensor
    old_values: th.Tensor
    old_log_prob: th.Tensor
    advantages: th.Tensor
    returns: th.Tensor
    episode_starts: th.Tensor
    start_state: tuple[th.Tensor, th.Tensor]  # packed (h, c), each [1, n_seq, hidden_size]
    n_seq: int


class _SequenceBufferMixin:
    """Adds the per-env start states and a generator of env minibatches to an SB3 rollout buffer."""

    def _init_state(self, state_size: int) -> None:
        self.state_size = int(state_size)
        self.start_h = np.zeros((self.n_envs, self.state_size), np.float32)
        self.start_c = np.zeros((self.n_envs, self.state_size), np.float32)

    def set_start_state(self, state: tuple[th.Tensor, th.Tensor]) -> None:
        """Store the packed state ``(h, c)`` of every env before the first step of this rollout."""
        self.start_h[:] = state[0][0].detach().cpu().numpy()
        self.start_c[:] = state[1][0].detach().cpu().numpy()

    def storage_arrays(self) -> dict[str, np.ndarray]:
        """Every array this buffer keeps, by name (the rollout storage measured by ``benchmarks/ppo_memory.py``)."""
        arrays = {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray)}
        if isinstance(getattr(self, "observations", None), dict):
            arrays.update({f"observations.{k}": v for k, v in self.observations.items()})
        return arrays

    def _sequences(self, array: np.ndarray, envs: np.ndarray, t0: int, t1: int) -> th.Tensor:
        """``array [n_steps, n_envs, ...]`` -> rows ``[len(envs) * (t1 - t0), ...]`` in sequence-major order."""
        part = array[t0:t1, envs].swapaxes(0, 1)
        return self.to_torch(part.reshape(-1, *part.shape[2:]))

    def samples(self, envs: np.ndarray, t0: int = 0, t1: int | None = None) -> SequenceSamples:
        """Steps ``t0:t1`` of the sequences of ``envs`` (the start state is that of step 0; windows after the first
        get their state from the previous window's replay)."""
        t1 = self.buffer_size if t1 is None else t1
        if isinstance(self.observations, dict):
            obs = {k: self._sequences(v, envs, t0, t1) for k, v in self.observations.items()}
        else:
            obs = self._sequences(self.observations, envs, t0, t1)
        seq = lambda a: self._sequences(a, envs, t0, t1)  # noqa: E731
        state = (self.to_torch(self.start_h[envs])[None], self.to_torch(self.start_c[envs])[None])
        return SequenceSamples(obs, seq(self.actions), seq(self.values).flatten(), seq(self.log_probs).flatten(),
                               seq(self.advantages).flatten(), seq(self.returns).flatten(),
                               seq(self.episode_starts).flatten(), state, len(envs))

    def env_batches(self, envs_per_batch: int) -> Generator[np.ndarray, None, None]:
        """A random partition of the envs into minibatches of ``envs_per_batch`` (the last may be smaller)."""
        order = np.random.permutation(self.n_envs)
        for start in range(0, self.n_envs, envs_per_batch):
            yield order[start : start + envs_per_batch]


class PlasticRolloutBuffer(_SequenceBufferMixin, RolloutBuffer):
    """SB3's ``RolloutBuffer`` (per-step data) plus one packed state per env: the state at the rollout start."""

    def __init__(self, buffer_size: int, observation_space: spaces.Space, action_space: spaces.Space, state_size: int,
                 device: th.device | str = "auto", gae_lambda: float = 1, gamma: float = 0.99, n_envs: int = 1):
        super().__init__(buffer_size, observation_space, action_space, device, gae_lambda, gamma, n_envs)
        self._init_state(state_size)


class PlasticDictRolloutBuffer(_SequenceBufferMixin, DictRolloutBuffer):
    """``PlasticRolloutBuffer`` for Dict observations."""

    def __init__(self, buffer_size: int, observation_space: spaces.Dict, action_space: spaces.Space, state_size: int,
                 device: th.device | str = "auto", gae_lambda: float = 1, gamma: float = 0.99, n_envs: int = 1):
        super().__init__(buffer_size, observation_space, action_space, device, gae_lambda, gamma, n_envs)
        self._init_state(state_size)


class PlasticPPO(OnPolicyAlgorithm):
    """PPO (clip) for ``PlasticRecurrentPolicy`` with O(n_envs) state storage and replayed per-env sequences.

    Arguments are those of ``sb3_contrib.RecurrentPPO`` except:

    :param batch_size: transitions per minibatch; a minibatch is ``max(1, batch_size // n_steps)`` whole env
        sequences. ``None``: a quarter of the envs (at least one) per minibatch.
    :param bptt_steps: window of truncated BPTT inside a rollout (the state is carried detached from one window to
        the next and each window is backpropagated on its own, so training memory grows with ``bptt_steps``, not
        ``n_steps``). ``None``: whole rollouts.
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
        bptt_steps: int | None = None,
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
        if batch_size is not None and batch_size < n_steps:
            raise ValueError(f"batch_size must be at least n_steps={n_steps} (a minibatch holds whole env sequences), "
                             f"got {batch_size}")
        if bptt_steps is not None and bptt_steps < 1:
            raise ValueError(f"bptt_steps must be a positive int or None, got {bptt_steps}")
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
    def envs_per_batch(self) -> int:
        """Env sequences per minibatch."""
        if self.batch_size is None:
            return max(1, self.n_envs // 4)
        return max(1, min(self.n_envs, self.batch_size // self.n_steps))

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
        state = self._last_lstm_states.pi
        while n_steps < n_rollout_steps:
            with th.no_grad():
                obs_tensor = obs_as_tensor(self._last_obs, self.device)
                episode_starts = th.tensor(self._last_episode_starts, dtype=th.float32, device=self.device)
                actions, values, log_probs, states = self.policy(obs_tensor, RNNStates(state, state), episode_starts)
            state = states.pi
            actions = actions.cpu().numpy()
            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)
            new_obs, rewards, dones, infos = env.step(clipped_actions)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            n_steps += 1
            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.reshape(-1, 1)
            rewards = rewards + self.gamma * self._truncation_values(dones, infos, state)
            rollout_buffer.add(self._last_obs, actions, rewards, self._last_episode_starts, values, log_probs)
            self._last_obs = new_obs
            self._last_episode_starts = dones
            self._last_lstm_states = RNNStates(state, state)

        with th.no_grad():
            episode_starts = th.tensor(dones, dtype=th.float32, device=self.device)
            values = self.policy.predict_values(obs_as_tensor(new_obs, self.device), state, episode_starts)
        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _truncation_values(self, dones: np.ndarray, infos: list[dict],
                           state: tuple[th.Tensor, th.Tensor]) -> np.ndarray:
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
            rows = th.as_tensor(idx, device=self.device)
            sub = (state[0][:, rows], state[1][:, rows])
            starts = th.zeros(len(idx), device=self.device)
            out[idx] = self.policy.predict_values(obs, sub, starts).flatten().cpu().numpy()
        return out

    def train(self) -> None:
        """PPO epochs over minibatches of whole env sequences replayed from their rollout-start states."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)
        clip_range_vf = self.clip_range_vf(self._current_progress_remaining) if self.clip_range_vf is not None else None
        T = self.n_steps
        window = T if self.bptt_steps is None else min(self.bptt_steps, T)
        entropy_losses, pg_losses, value_losses, clip_fractions, approx_kl_divs = [], [], [], [], []
        continue_training = True
        for epoch in range(self.n_epochs):
            approx_kl_divs = []
            for envs in self.rollout_buffer.env_batches(self.envs_per_batch):
                adv_all = self.rollout_buffer.advantages[:, envs]
                adv_mean, adv_std = float(adv_all.mean()), float(adv_all.std(ddof=1) if adv_all.size > 1 else 0.0)
                self.policy.optimizer.zero_grad()
                state = None
                stats = np.zeros(5)  # pg, value, entropy, clip fraction, approx kl (sums over steps)
                for t0 in range(0, T, window):
                    t1 = min(T, t0 + window)
                    data = self.rollout_buffer.samples(envs, t0, t1)
                    if state is None:
                        state = data.start_state
                    loss, state, window_stats = self._window_loss(data, state, clip_range, clip_range_vf,
                                                                  adv_mean, adv_std)
                    state = (state[0].detach(), state[1].detach())
                    (loss * (t1 - t0) / T).backward()
                    stats += window_stats * (t1 - t0) / T
                pg_losses.append(stats[0])
                value_losses.append(stats[1])
                entropy_losses.append(stats[2])
                clip_fractions.append(stats[3])
                approx_kl_divs.append(stats[4])
                if self.target_kl is not None and stats[4] > 1.5 * self.target_kl:
                    continue_training = False
                    if self.verbose >= 1:
                        print(f"Early stopping at step {epoch} due to reaching max kl: {stats[4]:.2f}")
                    break
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
            self._n_updates += 1
            if not continue_training:
                break

        if not pg_losses:  # n_epochs == 0: nothing trained, nothing to log
            return
        explained_var = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())
        self.logger.record("train/entropy_loss", np.mean(entropy_losses))
        self.logger.record("train/policy_gradient_loss", np.mean(pg_losses))
        self.logger.record("train/value_loss", np.mean(value_losses))
        self.logger.record("train/approx_kl", np.mean(approx_kl_divs))
        self.logger.record("train/clip_fraction", np.mean(clip_fractions))
        self.logger.record("train/explained_variance", explained_var)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)
        if clip_range_vf is not None:
            self.logger.record("train/clip_range_vf", clip_range_vf)

    def _window_loss(self, data: SequenceSamples, state, clip_range: float, clip_range_vf: float | None,
                     adv_mean: float, adv_std: float):
        """PPO loss (mean over the window's steps) of one window of env sequences, the state after it and
        the window's statistics."""
        actions = data.actions
        if isinstance(self.action_space, spaces.Discrete):
            actions = actions.long().flatten()
        values, log_prob, entropy, state = self.policy.evaluate_sequence(data.observations, actions, state,
                                                                         data.episode_starts)
        values = values.flatten()
        advantages = data.advantages
        if self.normalize_advantage:
            advantages = (advantages - adv_mean) / (adv_std + 1e-8)
        ratio = th.exp(log_prob - data.old_log_prob)
        policy_loss = -th.min(advantages * ratio, advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)).mean()
        if clip_range_vf is not None:
            values = data.old_values + th.clamp(values - data.old_values, -clip_range_vf, clip_range_vf)
        value_loss = ((data.returns - values) ** 2).mean()
        entropy_loss = -(entropy.mean() if entropy is not None else (-log_prob).mean())
        loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
        with th.no_grad():
            log_ratio = log_prob - data.old_log_prob
            approx_kl = ((th.exp(log_ratio) - 1) - log_ratio).mean().item()
            clip_fraction = (th.abs(ratio - 1) > clip_range).float().mean().item()
        stats = np.array([policy_loss.item(), value_loss.item(), entropy_loss.item(), clip_fraction, approx_kl])
        return loss, state, stats

    def learn(self: SelfPlasticPPO, total_timesteps: int, callback: MaybeCallback = None, log_interval: int = 1,
              tb_log_name: str = "PlasticPPO", reset_num_timesteps: bool = True,
              progress_bar: bool = False) -> SelfPlasticPPO:
        return super().learn(total_timesteps=total_timesteps, callback=callback, log_interval=log_interval,
                             tb_log_name=tb_log_name, reset_num_timesteps=reset_num_timesteps,
                             progress_bar=progress_bar)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_last_lstm_states"]


def make_plastic_vec_env(env_id: str, n_envs: int = 1, seed: int | None = None, max_episode_steps: int | None = None,
                         **env_kwargs: Any) -> VecEnv:
    """An SB3 ``DummyVecEnv`` (with ``Monitor``) of a plastic-gym id (SB3 needs its own VecEnv, not a gymnasium
    ``VectorEnv``): ``make_vec_env`` without rendering, and ``max_episode_steps`` adds a ``TimeLimit`` (truncation)."""
    from stable_baselines3.common.env_util import make_vec_env

    env_kwargs = {"render_mode": None, **env_kwargs}
    if max_episode_steps is not None:
        env_kwargs["max_episode_steps"] = max_episode_steps
    return make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs)
