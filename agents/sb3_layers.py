"""The torch modules behind ``PlasticRecurrentPolicy`` (as SB3's ``torch_layers``): the plastic core and the image
features extractor.

``PlasticCore`` puts a ``PlasticNetwork`` (SPEC section 4) behind the LSTM interface that ``sb3_contrib`` reads. SB3
keeps recurrent state in LSTM slots ``(h, c)`` of shape ``(n_layers, n_envs, hidden_size)``; the core packs the whole
per-sample plastic state (hidden activations, fast weights F of every layer, last modulation output) into those two
slots: ``hidden_size = ceil(S / 2)`` for S = ``state_floats`` floats of state per sample, ``h`` holds the first half,
``c`` the rest (zero padded). A zero packed state is the plastic state at an episode start (h_0 = 0, F_0 = 0).

``ImageLabelExtractor`` is the features extractor of the ``{"image", "label"}`` Dict observations (Conv-4 encoder).
"""

from __future__ import annotations

import math
import warnings

import torch as th
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_flattened_obs_dim
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor, FlattenExtractor
from torch import nn

from .config import PlasticConfig
from .encoder import Conv4Encoder
from .network import PlasticNetwork
from .state import PlasticState

__all__ = ["ImageLabelExtractor", "LSTMState", "PlasticCore", "default_extractor"]

LSTMState = tuple[th.Tensor, th.Tensor]


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
        #: Floats of plastic state per sample (h, F of every layer, ...), without the packing's padding.
        self.state_floats = int(sum(math.prod(shape) for shape in self.state_layout.values()))
        self.hidden_size = math.ceil(self.state_floats / 2)

    @property
    def state_size(self) -> int:
        """Deprecated name of ``state_floats``."""
        warnings.warn("PlasticCore.state_size is deprecated; use state_floats", DeprecationWarning, stacklevel=2)
        return self.state_floats

    # -- packing ----------------------------------------------------------------------------------------------
    def flatten(self, state: PlasticState) -> th.Tensor:
        """Plastic state of B samples -> one row per sample, ``[B, 2 * hidden_size]`` (``h`` then ``c`` of ``pack``)."""
        tensors = state.to_tensors()
        flat = th.cat([tensors[k].reshape(tensors[k].shape[0], -1) for k in self.state_layout], dim=1)
        pad = 2 * self.hidden_size - self.state_floats
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
        parts = th.split(flat[:, : self.state_floats], sizes, dim=1)
        return PlasticState.from_tensors(
            {k: p.reshape(-1, *shape) for (k, shape), p in zip(self.state_layout.items(), parts, strict=True)}
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


def default_extractor(observation_space: spaces.Space) -> type[BaseFeaturesExtractor]:
    if isinstance(observation_space, spaces.Dict):
        image = observation_space.spaces.get("image")
        if image is not None and len(image.shape) == 3 and image.shape[1] == image.shape[2] >= 16:
            return ImageLabelExtractor
        return CombinedExtractor
    return FlattenExtractor
