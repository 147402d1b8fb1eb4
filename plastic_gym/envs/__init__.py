"""Gymnasium views of the tasks: one env (``PlasticEnv``) and a native vector env (``PlasticVectorEnv``)."""

from .env import PlasticEnv
from .vector import PlasticVectorEnv

__all__ = ["PlasticEnv", "PlasticVectorEnv"]
