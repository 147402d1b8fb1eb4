"""Gymnasium views of the tasks: one env (``PlasticEnv``) and a native vector env (``PlasticVectorEnv``), and their
interactive counterparts (``InteractiveEnv``, ``InteractiveVectorEnv``) for the meta-RL tasks."""

from .env import PlasticEnv
from .interactive import InteractiveEnv, InteractiveVectorEnv
from .vector import PlasticVectorEnv

__all__ = ["InteractiveEnv", "InteractiveVectorEnv", "PlasticEnv", "PlasticVectorEnv"]
