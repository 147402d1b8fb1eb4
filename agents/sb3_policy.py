"""``PlasticRecurrentPolicy``: a plastic network (SPEC section 4) as a Stable-Baselines3 recurrent actor-critic policy.

The policy is a ``sb3_contrib`` ``RecurrentActorCriticPolicy`` whose LSTM is replaced by one plastic network shared by
the actor and the critic::

    obs -> features extractor -> plastic network (h_t, F_t) -> latent o_t -> MLP heads -> action distribution, value

As with sb3-contrib's ``shared_lstm=True``, only the policy loss trains the shared network by default: the critic head
reads the latent o_t detached (``critic_trains_core=False``). When the value loss also flows into it, the value error
(returns of several units with gamma 0.9) outweighs the policy gradient (logits scaled by SB3's 0.01 init of the
action head), and the network learns to predict the value rather than to act: on a two-armed bandit the policy then
stays at random regret, with or without plasticity (docs/rl_critic.md).

``PlasticCore`` (``agents/sb3_layers.py``) packs the whole plastic state into SB3's LSTM slots ``(h, c)``, so the
same policy runs under stock ``sb3_contrib.RecurrentPPO`` (which stores four such states per step in its rollout
buffer) and under ``PlasticPPO`` (``agents/ppo.py``, which stores one state per env per rollout).

A zero packed state is the plastic state at an episode start (h_0 = 0, F_0 = 0), so SB3's zero initial states and
``predict(state=None)`` are correct, and rows with ``episode_start`` set are zeroed before the step that reads them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import Schedule

from .config import PlasticConfig
from .ppo_windows import forward_windows
from .sb3_layers import ImageLabelExtractor, LSTMState, PlasticCore, default_extractor
from .sequence import forward_from_partial_start
from .state import PlasticState

# The core and the extractor stay importable from here, next to the policy that uses them.
__all__ = ["PLASTIC_OPTIONS", "ImageLabelExtractor", "PlasticCore", "PlasticRecurrentPolicy"]

#: ``PlasticConfig`` fields that ``PlasticRecurrentPolicy`` accepts as keyword arguments (``input_dim`` and
#: ``output_dim`` are set by the policy: the features width and ``latent_dim``).
PLASTIC_OPTIONS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(PlasticConfig) if f.name not in ("input_dim", "output_dim")
)

#: Options of ``RecurrentActorCriticPolicy`` that configure its LSTM (refused: the plastic core replaces it).
_LSTM_OPTIONS = ("lstm_hidden_size", "n_lstm_layers", "shared_lstm", "enable_critic_lstm", "lstm_kwargs")


class PlasticRecurrentPolicy(RecurrentActorCriticPolicy):
    """Actor-critic policy around one plastic network (SPEC section 4), shared by the actor and the critic.

    Works with stock ``sb3_contrib.RecurrentPPO`` and with ``PlasticPPO``. ``policy_kwargs``:

    - ``latent_dim`` (64): width of the plastic network's output o_t, which feeds the actor and critic heads;
    - ``critic_trains_core`` (False): whether the value loss backpropagates into the plastic network (False: the critic
      head reads o_t detached, as sb3-contrib does for a shared LSTM; module docstring);
    - every ``PlasticConfig`` option of SPEC section 4 (defaults: ``PlasticConfig``'s, i.e. ``agents/defaults.py``):
      ``hidden_dim``, ``cell`` (``"rnn"``/``"lstm"``), ``rule`` (``"hebbian"``/``"gradient"``/``"none"``),
      ``modulation``, ``alpha``, ``p_lr``, ``p_wd``, ``inner_grad_clip``, ``extra_dim``, ``weight_clip``,
      ``input_hidden_dim``;
    - the usual ``ActorCriticPolicy`` options (``net_arch`` for the heads after the latent, default ``[64]`` each,
      ``activation_fn``, ``log_std_init``, ``ortho_init``, ``optimizer_class``, ...). ``features_extractor_class``
      defaults to ``FlattenExtractor`` for vectors and ``ImageLabelExtractor`` (Conv-4) for ``{"image", "label"}``
      Dict observations.

    The LSTM options of the parent (``lstm_hidden_size``, ``n_lstm_layers``, ``shared_lstm``, ``enable_critic_lstm``,
    ``lstm_kwargs``) do not apply and raise a ``ValueError``.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        latent_dim: int = 64,
        features_extractor_class: type[BaseFeaturesExtractor] | None = None,
        critic_trains_core: bool = False,
        **kwargs: Any,
    ):
        if not isinstance(critic_trains_core, bool):
            raise ValueError(f"critic_trains_core must be a bool, got {critic_trains_core!r}")
        lstm_only = set(_LSTM_OPTIONS) & set(kwargs)
        if lstm_only:
            raise ValueError(f"PlasticRecurrentPolicy has no LSTM options {sorted(lstm_only)}; "
                             f"plastic options are latent_dim and {list(PLASTIC_OPTIONS)}")
        plastic = {k: kwargs.pop(k) for k in list(kwargs) if k in PLASTIC_OPTIONS}
        if features_extractor_class is None:
            features_extractor_class = default_extractor(observation_space)
        if net_arch is None:
            net_arch = [64]
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=net_arch,
            features_extractor_class=features_extractor_class,
            lstm_hidden_size=latent_dim,
            n_lstm_layers=1,
            shared_lstm=True,
            enable_critic_lstm=False,
            **kwargs,
        )
        self.latent_dim = latent_dim
        self.critic_trains_core = critic_trains_core
        self.plastic_options = plastic
        config = PlasticConfig(input_dim=self.features_dim, output_dim=latent_dim, **plastic)
        # Replace the parent's LSTM by the plastic core (same attribute: RecurrentPPO reads lstm_actor's sizes).
        self.lstm_actor = PlasticCore(config).to(self.device)
        self.lstm_critic = None
        self.critic = None
        self.lstm_hidden_state_shape = (1, 1, self.lstm_actor.hidden_size)
        # The parent built its optimizer over the discarded LSTM: rebuild it, or the plastic parameters never train.
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        for key in _LSTM_OPTIONS:
            data.pop(key, None)
        data.update(latent_dim=self.latent_dim, critic_trains_core=self.critic_trains_core, **self.plastic_options)
        return data

    @property
    def state_floats(self) -> int:
        """Floats of plastic state per env (h, F, f, ...; without the packing's padding), for the leaderboard."""
        return self.lstm_actor.state_floats

    @property
    def core(self) -> PlasticCore:
        """The plastic core (``lstm_actor`` under SB3's name)."""
        return self.lstm_actor

    def zero_state(self, n_envs: int) -> LSTMState:
        """Packed state of ``n_envs`` episode starts, ``(h, c)`` each ``[1, n_envs, hidden_size]``."""
        return self.core.zero_state(n_envs, self.device)

    def _critic_latent(self, latent: th.Tensor) -> th.Tensor:
        """The critic head's view of the core's output o_t: detached unless ``critic_trains_core``."""
        return self.mlp_extractor.forward_critic(latent if self.critic_trains_core else latent.detach())

    # -- the four SB3 entry points, all through the one shared core -------------------------------------------
    def _latents(self, obs, lstm_state: LSTMState, episode_starts: th.Tensor):
        features = self.extract_features(obs)
        latent, lstm_state = self.core(features, lstm_state, episode_starts)
        return self.mlp_extractor.forward_actor(latent), self._critic_latent(latent), lstm_state

    def forward(self, obs, lstm_states: RNNStates, episode_starts: th.Tensor, deterministic: bool = False):
        latent_pi, latent_vf, state = self._latents(obs, lstm_states.pi, episode_starts)
        values = self.value_net(latent_vf)
        distribution = self._get_action_dist_from_latent(latent_pi)
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        actions = actions.reshape((-1, *self.action_space.shape))
        return actions, values, log_prob, RNNStates(state, state)

    def act(self, obs, state: PlasticState, episode_starts: th.Tensor, deterministic: bool = False,
            inplace: bool = False):
        """One step of every env with the state unpacked (rollouts keep it so between steps instead of packing it
        into SB3's ``(h, c)`` at every step): actions, values, log-probabilities and the next state. Rows with
        ``episode_starts`` set are reset first. ``inplace``: the plastic weights of ``state`` are updated in place
        (``PlasticNetwork.step``; under ``no_grad``, for a caller that drops ``state`` after the call)."""
        starts = episode_starts > 0.5
        if bool(starts.any()):
            state = state.reset_where(starts)
        latent, state = self.core.net.step(self.extract_features(obs), state, inplace=inplace)
        values = self.value_net(self._critic_latent(latent))
        distribution = self._get_action_dist_from_latent(self.mlp_extractor.forward_actor(latent))
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        return actions.reshape((-1, *self.action_space.shape)), values, log_prob, state

    def predict_state(self, observation, state: PlasticState | None = None, episode_start=None,
                      deterministic: bool = False) -> tuple[np.ndarray, PlasticState]:
        """``predict`` with the plastic state kept unpacked between calls (``state``: the ``PlasticState`` this method
        returned, None at the start). The same actions as ``predict`` on the same inputs; what it saves is packing
        F into SB3's ``(h, c)`` and through numpy at every step, which costs about as much as the step itself at
        1024 envs. The leaderboard plays plastic policies through it. The ``state`` passed in is consumed: its
        plastic weights are updated in place (``state.clone()`` keeps a copy to predict from twice)."""
        self.set_training_mode(False)
        obs, vectorized = self.obs_to_tensor(observation)
        n_envs = (next(iter(obs.values())) if isinstance(obs, dict) else obs).shape[0]
        if state is None:
            state = self.core.unpack(self.zero_state(n_envs))
        starts = np.zeros(n_envs) if episode_start is None else np.asarray(episode_start)
        with th.no_grad():
            actions, _, _, state = self.act(obs, state, th.as_tensor(starts, dtype=th.float32, device=self.device),
                                            deterministic=deterministic, inplace=True)
        actions = actions.cpu().numpy().reshape((-1, *self.action_space.shape))
        if isinstance(self.action_space, spaces.Box):  # as SB3's predict
            actions = self.unscale_action(actions) if self.squash_output else \
                np.clip(actions, self.action_space.low, self.action_space.high)
        return (actions if vectorized else actions.squeeze(axis=0)), state

    def get_distribution(self, obs, lstm_states: LSTMState,
                         episode_starts: th.Tensor) -> tuple[Distribution, LSTMState]:
        latent_pi, _, state = self._latents(obs, lstm_states, episode_starts)
        return self._get_action_dist_from_latent(latent_pi), state

    def predict_values(self, obs, lstm_states: LSTMState, episode_starts: th.Tensor) -> th.Tensor:
        _, latent_vf, _ = self._latents(obs, lstm_states, episode_starts)
        return self.value_net(latent_vf)

    def evaluate_sequence(self, obs, actions: th.Tensor, lstm_state: LSTMState, episode_starts: th.Tensor):
        """Values, log-probabilities and entropies of ``actions`` along sequences, plus the state after them."""
        latent_pi, latent_vf, state = self._latents(obs, lstm_state, episode_starts)
        distribution = self._get_action_dist_from_latent(latent_pi)
        return self.value_net(latent_vf), distribution.log_prob(actions), distribution.entropy(), state

    def evaluate_windows(self, obs, actions: th.Tensor, start: th.Tensor | None, n_seq: int,
                         start_steps: int | None = None, lengths=None):
        """Values, log-probabilities and entropies of ``actions`` along ``n_seq`` windows without episode starts inside
        (``obs`` window-major, ``[n_seq * L, ...]``). The first ``len(start)`` windows start from the flattened states
        ``start [n, 2 * hidden_size]``, the others start an episode (F_0 = 0). One call of the sequence form: when
        some windows start an episode, all n_seq rows run together and the F_0 products cover the first n rows alone
        (``sequence.forward_from_partial_start``); when none does, the windows run for their first ``start_steps``
        steps only (default L; the outputs after that are zero: padding). ``lengths`` (the real steps of every window)
        lets the call drop the windows that have ended (``ppo_windows.forward_windows``)."""
        features = self.extract_features(obs)
        x = features.reshape(n_seq, -1, features.shape[-1])
        n = 0 if start is None else start.shape[0]
        h = self.core.hidden_size
        if lengths is not None:
            state = None if n == 0 else self.core.unpack((start[None, :, :h], start[None, :, h:]))
            out = forward_windows(self.core.net, x, lengths, state)
        elif n == 0:
            out = self.core.net(x)[0]
        else:
            length = x.shape[1]
            state = self.core.unpack((start[None, :, :h], start[None, :, h:]))
            if n < n_seq:  # one call: the first n rows from their start states, the others from F_0 = 0, h_0 = 0
                out = forward_from_partial_start(self.core.net, x, state)[0]
            else:
                out = self.core.net(x if start_steps is None else x[:, :start_steps], state)[0]
            if out.shape[1] < length:
                out = th.cat([out, out.new_zeros(n_seq, length - out.shape[1], out.shape[2])], dim=1)
        latent = out.reshape(-1, out.shape[-1])
        distribution = self._get_action_dist_from_latent(self.mlp_extractor.forward_actor(latent))
        values = self.value_net(self._critic_latent(latent))
        return values, distribution.log_prob(actions), distribution.entropy()

    def evaluate_actions(self, obs, actions: th.Tensor, lstm_states: RNNStates, episode_starts: th.Tensor):
        values, log_prob, entropy, _ = self.evaluate_sequence(obs, actions, lstm_states.pi, episode_starts)
        return values, log_prob, entropy

