"""plastic_gym.agents: plastic networks (SPEC section 4), the supervised meta-trainer and the SB3 integration.

    from plastic_gym.agents import PlasticConfig, PlasticNetwork   # the network (torch)
    from plastic_gym.agents import PlasticPPO                      # PPO over windows of a plastic policy (SB3)

Importing this package is light: each name in ``__all__`` loads its module on first use (PEP 562 ``__getattr__``),
so the console script and ``plastic_gym.agents.cli`` do not import torch or Stable-Baselines3 until a command
needs them. ``_EXPORTS`` is what runs; ``__all__`` and the ``TYPE_CHECKING`` imports name the same objects for
linters, type checkers and IDEs, and ``tests/test_cli_lazy.py`` checks that the three agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plastic_gym.lazy import lazy_exports

#: Public name -> the module (in this package) that defines it.
_EXPORTS = {
    # the plastic network, its configuration, state and plain reference
    "PlasticConfig": "config",
    "PlasticNetwork": "network",
    "ReferencePlasticNetwork": "reference",
    "LazyWeights": "state",
    "PlasticState": "state",
    # supervised meta-training and checkpoints
    "CheckpointAgent": "agent",
    "CheckpointError": "checkpoint",
    "load_checkpoint": "checkpoint",
    "load_model": "checkpoint",
    "Conv4Encoder": "encoder",
    "ModelConfig": "model",
    "TaskModel": "model",
    "build_model": "model",
    "TrainConfig": "train_config",
    "Trainer": "trainer",
    "train": "trainer",
    # Stable-Baselines3: policy and its layers, rollout buffers, algorithm, vector envs
    "ImageLabelExtractor": "sb3_layers",
    "PlasticCore": "sb3_layers",
    "PlasticRecurrentPolicy": "sb3_policy",
    "PlasticRolloutBuffer": "ppo_buffers",
    "PlasticDictRolloutBuffer": "ppo_buffers",
    "PlasticPPO": "ppo",
    "make_plastic_vec_env": "vec_env",
    "NativeVecEnv": "vec_env",
    "make_native_vec_env": "vec_env",
}

__all__ = ["CheckpointAgent", "CheckpointError", "Conv4Encoder", "ImageLabelExtractor", "LazyWeights", "ModelConfig",
           "NativeVecEnv", "PlasticConfig", "PlasticCore", "PlasticDictRolloutBuffer", "PlasticNetwork", "PlasticPPO",
           "PlasticRecurrentPolicy", "PlasticRolloutBuffer", "PlasticState", "ReferencePlasticNetwork", "TaskModel",
           "TrainConfig", "Trainer", "build_model", "load_checkpoint", "load_model", "make_native_vec_env",
           "make_plastic_vec_env", "train"]

if TYPE_CHECKING:
    from .agent import CheckpointAgent
    from .checkpoint import CheckpointError, load_checkpoint, load_model
    from .config import PlasticConfig
    from .encoder import Conv4Encoder
    from .model import ModelConfig, TaskModel, build_model
    from .network import PlasticNetwork
    from .ppo import PlasticPPO
    from .ppo_buffers import PlasticDictRolloutBuffer, PlasticRolloutBuffer
    from .reference import ReferencePlasticNetwork
    from .sb3_layers import ImageLabelExtractor, PlasticCore
    from .sb3_policy import PlasticRecurrentPolicy
    from .state import LazyWeights, PlasticState
    from .train_config import TrainConfig
    from .trainer import Trainer, train
    from .vec_env import NativeVecEnv, make_native_vec_env, make_plastic_vec_env


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
