"""repeated_game_v0 (PettingZoo style): ``repeated_game_v0.parallel_env(...)`` / ``env(...)``; see
``RepeatedGameEnv``."""

from .repeated_game import RepeatedGameEnv, env, parallel_env, raw_env

__all__ = ["RepeatedGameEnv", "env", "parallel_env", "raw_env"]
