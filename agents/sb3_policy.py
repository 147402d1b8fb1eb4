"""``PlasticRecurrentPolicy``: a plastic network (SPEC section 4) as a Stable-Baselines3 recurrent actor-critic policy.

The policy is a ``sb3_contrib`` ``RecurrentActorCriticPolicy`` whose LSTM is replaced by one plastic network shared by
the actor and the critic (both losses train it)::

    obs -> features extractor -> plastic network (h_t, F_t) -> latent o_t -> MLP heads -> action distribution, value

SB3 keeps recurrent state in LSTM slots ``(h, c)`` of shape ``(n_layers, n_envs, hidden_size)``. ``PlasticCore`` packs
the whole per-sample plastic state (hidden activations, fast weights F of every layer, last modulation output) into
those two slots: ``hidden_size = ceil(S / 2)`` for S floats of state per sample, ``h`` holds the first half, ``c`` the
rest (zero padded). So the same policy runs under stock ``sb3_contrib.RecurrentPPO`` (which stores four such states per
step in its rollout buffer) and under ``PlasticPPO`` (``agents/ppo.py``, which stores one state per env per rollout).

A zero packed state is the plastic state at an episode start (h_0 = 0, F_0 = 0), so SB3's zero initial states and
``predict(state=None)`` are correct, and rows with ``episode_start`` set are zeroed before the step that reads them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.preprocessing import get_flattened_obs_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor, FlattenExtractor
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from .config import PlasticConfig
from .encoder import Conv4Encoder
from .network import PlasticNetwork
from .state import PlasticState

__all__ = ["PlasticCore", "PlasticRecurrentPolicy", "ImageLabelExtractor", "PLASTIC_OPTIONS"]

#: ``PlasticConfig`` fields that ``PlasticRecurrentPolicy`` accepts as keyword arguments (``input_dim`` and
#: ``output_dim`` are set by the policy: the features width and ``latent_dim``).
PLASTIC_OPTIONS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(PlasticConfig) if f.name not in ("input_dim", "output_dim")
)

LSTMState = tuple[th.Tensor, th.Tensor]
#: Options of ``RecurrentActorCriticPolicy`` that configure its LSTM (refused: the plastic core replaces it).
_LSTM_OPTIONS = ("lstm_hidden_size", "n_lstm_layers", "shared_lstm", "enable_critic_lstm", "lstm_kwargs")


class PlasticCore(nn.Module):
    """A ``PlasticNetwork`` behind SB3's LSTM interface: state packed into ``(h, c)``, sequences with resets.

    Exposes ``input_size``, ``num_layers`` (1) and ``hidden_size`` (half the packed state, rounded up), which is
    what ``RecurrentPPO`` reads from ``policy.lstm_actor`` to size its state tensors and rollout buffer.
    """

    def __init__(self, config: PlasticConfig):
        super().__init__()
        self.config = config
        self.net = PlasticNetwork(config)
        self.input_size = config.input_dim
        self.output_size = config.output_dim
        self.num_layers = 1
        template = self.net.initial_state(1).to_tensors()
        # name -> per-sample shape, in the fixed order of PlasticState.to_tensors()
        self.state_layout = {k: tuple(v.shape[1:]) for k, v in template.items()}
        self.state_size = int(sum(math.prod(shape) for shape in self.state_layout.values()))
        self.hidden_size = math.ceil(self.state_size / 2)

    # -- packing ----------------------------------------------------------------------------------------------
    def flatten(self, state: PlasticState) -> th.Tensor:
        """Plastic state of B samples -> one row per sample, ``[B, 2 * hidden_size]`` (``h`` then ``c`` of ``pack``)."""
        tensors = state.to_tensors()
        flat = th.cat([tensors[k].reshape(tensors[k].shape[0], -1) for k in self.state_layout], dim=1)
        pad = 2 * self.hidden_size - self.state_size
        if pad:
            flat = th.cat([flat, flat.new_zeros(flat.shape[0], pad)], dim=1)
        return flat

    def pack(self, state: PlasticState) -> LSTMState:
        """Plastic state of B samples -> ``(h, c)``, each ``[1, B, hidden_size]``."""
        flat = self.flatten(state)
        return flat[None, :, : self.hidden_size], flat[None, :, self.hidden_size :]

    def unpack(self, lstm_state: LSTMState) -> PlasticState:
        """``(h, c)`` of shape ``[1, B, hidden_size]`` -> plastic state of B samples."""
        h, c = lstm_state
        if h.dim() != 3 or h.shape[0] != 1 or h.shape[2] != self.hidden_size or c.shape != h.shape:
            raise ValueError(
                f"packed plastic state must be two tensors [1, n_envs, {self.hidden_size}], "
                f"got {tuple(h.shape)} and {tuple(c.shape)}"
            )
        flat = th.cat([h[0], c[0]], dim=1)
        sizes = [math.prod(shape) for shape in self.state_layout.values()]
        parts = th.split(flat[:, : self.state_size], sizes, dim=1)
        return PlasticState.from_tensors(
            {k: p.reshape(-1, *shape) for (k, shape), p in zip(self.state_layout.items(), parts)}
        )

    def zero_state(self, batch_size: int, device: th.device | str = "cpu") -> LSTMState:
        """The packed state at an episode start."""
        z = th.zeros(1, batch_size, self.hidden_size, device=device)
        return z, z.clone()

    # -- sequences --------------------------------------------------------------------------------------------
    def forward_sequence(
        self, features: th.Tensor, state: PlasticState, episode_starts: th.Tensor
    ) -> tuple[th.Tensor, PlasticState]:
        """Run ``features [N, T, d]`` from ``state``; rows whose ``episode_starts [N, T]`` is set at step t are zeroed
        (F = 0, h = 0) before step t. The sequence is cut only at the steps where some row starts an episode, so a
        batch of lockstep envs runs as one fused call per episode. A single step (acting, rollouts) takes the
        recurrent form ``net.step``, which updates the materialised F directly."""
        starts = episode_starts > 0.5
        if features.shape[1] == 1:
            if bool(starts.any()):
                state = state.reset_where(starts[:, 0])
            out, state = self.net.step(features[:, 0], state)
            return out.unsqueeze(1), state
        cuts = th.nonzero(starts.any(dim=0)).flatten().tolist()
        bounds = sorted(set([0, *cuts]))
        outs = []
        for i, t0 in enumerate(bounds):
            t1 = bounds[i + 1] if i + 1 < len(bounds) else features.shape[1]
            if t0 in cuts:
                state = state.reset_where(starts[:, t0])
            out, state = self.net(features[:, t0:t1], state)
            outs.append(out)
        return th.cat(outs, dim=1) if len(outs) > 1 else outs[0], state

    def states_at(self, features: th.Tensor, state: PlasticState, episode_starts: th.Tensor,
                  times: list[int]) -> list[th.Tensor]:
        """The state of every row before each step in ``times`` (ascending, > 0), flattened ``[N, 2 * hidden_size]``:
        one pass over ``features [N, T, d]`` from ``state`` with the resets of ``episode_starts [N, T]``, cut only at
        those steps (the update's no-grad recomputation of its window-start states)."""
        out, t0 = [], 0
        for t in times:
            _, state = self.forward_sequence(features[:, t0:t], state, episode_starts[:, t0:t])
            out.append(self.flatten(state))
            t0 = t
        return out

    def forward(self, features: th.Tensor, lstm_state: LSTMState,
                episode_starts: th.Tensor) -> tuple[th.Tensor, LSTMState]:
        """SB3 layout: ``features [n_seq * T, d]`` (sequence-major), ``episode_starts [n_seq * T]``, ``lstm_state``
        ``[1, n_seq, hidden_size]`` each -> (latent ``[n_seq * T, output_size]``, next packed state)."""
        n_seq = lstm_state[0].shape[1]
        x = features.reshape(n_seq, -1, self.input_size)
        out, state = self.forward_sequence(x, self.unpack(lstm_state), episode_starts.reshape(n_seq, -1))
        return out.reshape(-1, out.shape[-1]), self.pack(state)


class ImageLabelExtractor(BaseFeaturesExtractor):
    """Features of a Dict observation ``{"image": uint8 [C, H, W], "label": float [n_way], ...}``: the Conv-4 encoder
    (``agents/encoder.py``) of the image, concatenated with every other key flattened (the label one-hot)."""

    def __init__(self, observation_space: spaces.Dict, image_dim: int = 64, channels: int = 64):
        image_space = observation_space.spaces.get("image")
        if image_space is None or len(image_space.shape) != 3 or image_space.shape[1] != image_space.shape[2]:
            raise ValueError("ImageLabelExtractor expects a Dict space with a square 'image' [C, H, H], "
                             f"got {observation_space}")
        others = [k for k in observation_space.spaces if k != "image"]
        other_dim = sum(get_flattened_obs_dim(observation_space.spaces[k]) for k in others)
        super().__init__(observation_space, features_dim=image_dim + other_dim)
        c, h, _ = image_space.shape
        self.encoder = Conv4Encoder(in_channels=c, image_size=h, channels=channels, out_dim=image_dim)
        self.others = others

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        # SB3's preprocessing has already scaled uint8 images to [0, 1] floats.
        parts = [self.encoder(observations["image"])]
        parts += [observations[k].flatten(1).float() for k in self.others]
        return th.cat(parts, dim=1)


def _default_extractor(observation_space: spaces.Space) -> type[BaseFeaturesExtractor]:
    if isinstance(observation_space, spaces.Dict):
        image = observation_space.spaces.get("image")
        if image is not None and len(image.shape) == 3 and image.shape[1] == image.shape[2] >= 16:
            return ImageLabelExtractor
        return CombinedExtractor
    return FlattenExtractor


class PlasticRecurrentPolicy(RecurrentActorCriticPolicy):
    """Actor-critic policy around one plastic network (SPEC section 4), shared by the actor and the critic.

    Works with stock ``sb3_contrib.RecurrentPPO`` and with ``PlasticPPO``. ``policy_kwargs``:

    - ``latent_dim`` (64): width of the plastic network's output o_t, which feeds the actor and critic heads;
    - every ``PlasticConfig`` option of SPEC section 4: ``hidden_dim`` (128), ``cell`` (``"rnn"``/``"lstm"``),
      ``rule`` (``"hebbian"``/``"gradient"``/``"none"``), ``modulation``, ``alpha``, ``p_lr``, ``p_wd``,
      ``inner_grad_clip``, ``extra_dim``, ``weight_clip``, ``input_hidden_dim``;
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
        **kwargs: Any,
    ):
        lstm_only = set(_LSTM_OPTIONS) & set(kwargs)
        if lstm_only:
            raise ValueError(f"PlasticRecurrentPolicy has no LSTM options {sorted(lstm_only)}; "
                             f"plastic options are latent_dim and {list(PLASTIC_OPTIONS)}")
        plastic = {k: kwargs.pop(k) for k in list(kwargs) if k in PLASTIC_OPTIONS}
        if features_extractor_class is None:
            features_extractor_class = _default_extractor(observation_space)
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
        data.update(latent_dim=self.latent_dim, **self.plastic_options)
        return data

    @property
    def state_floats(self) -> int:
        """Floats of plastic state per env (h, F, f, ...; without the packing's padding), for the leaderboard."""
        return self.lstm_actor.state_size

    @property
    def core(self) -> PlasticCore:
        """The plastic core (``lstm_actor`` under SB3's name)."""
        return self.lstm_actor

    def zero_state(self, n_envs: int) -> LSTMState:
        """Packed state of ``n_envs`` episode starts, ``(h, c)`` each ``[1, n_envs, hidden_size]``."""
        return self.core.zero_state(n_envs, self.device)

    # -- the four SB3 entry points, all through the one shared core -------------------------------------------
    def _latents(self, obs, lstm_state: LSTMState, episode_starts: th.Tensor):
        features = self.extract_features(obs)
        latent, lstm_state = self.core(features, lstm_state, episode_starts)
        return self.mlp_extractor.forward_actor(latent), self.mlp_extractor.forward_critic(latent), lstm_state

    def forward(self, obs, lstm_states: RNNStates, episode_starts: th.Tensor, deterministic: bool = False):
        latent_pi, latent_vf, state = self._latents(obs, lstm_states.pi, episode_starts)
        values = self.value_net(latent_vf)
        distribution = self._get_action_dist_from_latent(latent_pi)
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        actions = actions.reshape((-1, *self.action_space.shape))
        return actions, values, log_prob, RNNStates(state, state)

    def act(self, obs, state: PlasticState, episode_starts: th.Tensor, deterministic: bool = False):
        """One step of every env with the state unpacked (rollouts keep it so between steps instead of packing it
        into SB3's ``(h, c)`` at every step): actions, values, log-probabilities and the next state. Rows with
        ``episode_starts`` set are reset first."""
        starts = episode_starts > 0.5
        if bool(starts.any()):
            state = state.reset_where(starts)
        latent, state = self.core.net.step(self.extract_features(obs), state)
        values = self.value_net(self.mlp_extractor.forward_critic(latent))
        distribution = self._get_action_dist_from_latent(self.mlp_extractor.forward_actor(latent))
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        return actions.reshape((-1, *self.action_space.shape)), values, log_prob, state

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
                         start_steps: int | None = None):
        """Values, log-probabilities and entropies of ``actions`` along ``n_seq`` windows without episode starts inside
        (``obs`` window-major, ``[n_seq * L, ...]``). The first ``len(start)`` windows start from the flattened states
        ``start [n, 2 * hidden_size]`` and are run for their first ``start_steps`` steps only (default L; the outputs
        after that are zero: padding), the others start an episode (F_0 = 0). Two calls of the sequence form at most:
        windows that start an episode go without a start state, so the form skips the F_0 products."""
        features = self.extract_features(obs)
        x = features.reshape(n_seq, -1, features.shape[-1])
        n = 0 if start is None else start.shape[0]
        outs = []
        if n:
            h, steps = self.core.hidden_size, x.shape[1] if start_steps is None else start_steps
            out, _ = self.core.net(x[:n, :steps], self.core.unpack((start[None, :, :h], start[None, :, h:])))
            if steps < x.shape[1]:
                out = th.cat([out, out.new_zeros(n, x.shape[1] - steps, out.shape[2])], dim=1)
            outs.append(out)
        if n < n_seq:
            outs.append(self.core.net(x[n:])[0])
        out = th.cat(outs) if len(outs) > 1 else outs[0]
        latent = out.reshape(-1, out.shape[-1])
        distribution = self._get_action_dist_from_latent(self.mlp_extractor.forward_actor(latent))
        values = self.value_net(self.mlp_extractor.forward_critic(latent))
        return values, distribution.log_prob(actions), distribution.entropy()

    def evaluate_actions(self, obs, actions: th.Tensor, lstm_states: RNNStates, episode_starts: th.Tensor):
        values, log_prob, entropy, _ = self.evaluate_sequence(obs, actions, lstm_states.pi, episode_starts)
        return values, log_prob, entropy

