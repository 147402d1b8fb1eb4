"""plastic_gym.agents: plastic networks (SPEC section 4), trainers and SB3 policies."""

from .config import PlasticConfig
from .network import PlasticNetwork
from .reference import ReferencePlasticNetwork
from .state import LazyWeights, PlasticState

__all__ = ["LazyWeights", "PlasticConfig", "PlasticNetwork", "PlasticState", "ReferencePlasticNetwork"]

# trainer (helper-5)
from .agent import CheckpointAgent
from .checkpoint import CheckpointError, load_checkpoint, load_model
from .encoder import Conv4Encoder
from .model import ModelConfig, TaskModel, build_model
from .trainer import TrainConfig, Trainer, train

__all__ += ["CheckpointAgent", "CheckpointError", "Conv4Encoder", "ModelConfig", "TaskModel", "TrainConfig", "Trainer",
            "build_model", "load_checkpoint", "load_model", "train"]

# sb3 (helper-6)
from .ppo import PlasticDictRolloutBuffer, PlasticPPO, PlasticRolloutBuffer, make_plastic_vec_env
from .sb3_policy import ImageLabelExtractor, PlasticCore, PlasticRecurrentPolicy
from .vec_env import NativeVecEnv, make_native_vec_env

__all__ += ["ImageLabelExtractor", "NativeVecEnv", "PlasticCore", "PlasticDictRolloutBuffer", "PlasticPPO",
            "PlasticRecurrentPolicy", "PlasticRolloutBuffer", "make_native_vec_env", "make_plastic_vec_env"]
