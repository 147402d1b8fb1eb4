"""plastic-gym: memory and few-shot learning tasks for networks that learn within an episode.

``import plastic_gym`` registers the suite's ids with gymnasium (``gym.make("PlasticAssoc-v0")``); without
the import, ``gym.make("plastic_gym:PlasticAssoc-v0")`` imports it first. Importing this package never
imports torch: the agents live in ``plastic_gym.agents`` (extra ``[agents]``).
"""

from importlib.metadata import PackageNotFoundError, version

from .core.interactive import InteractiveTask, rollout
from .core.rng import KeyedRandom
from .core.task import PHASE_NAMES, Episodes, Task
from .registration import ENV_IDS, RL_ENV_IDS, make_task, register_envs, task_class

try:
    __version__ = version("plastic-gym")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

register_envs()

__all__ = ["ENV_IDS", "Episodes", "InteractiveTask", "KeyedRandom", "PHASE_NAMES", "RL_ENV_IDS", "Task", "make_task",
           "register_envs", "rollout", "task_class", "__version__"]
