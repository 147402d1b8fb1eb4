"""coop_assoc_v0 (PettingZoo style): ``coop_assoc_v0.parallel_env(...)`` / ``env(...)``; see ``CoopAssocEnv``."""

from .coop_assoc import CoopAssocEnv, env, parallel_env, raw_env

__all__ = ["CoopAssocEnv", "env", "parallel_env", "raw_env"]
