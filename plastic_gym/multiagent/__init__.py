"""PettingZoo multi-agent tasks built on the single-agent generators (no registration needed).

``coop_assoc_v0``: two agents split the study rewards of PlasticAssoc-v0 and must talk to answer about all cues.
``repeated_game_v0``: a repeated team game with a hidden random payoff matrix, learned within the episode.

    from plastic_gym.multiagent import coop_assoc_v0
    env = coop_assoc_v0.parallel_env()      # ParallelEnv; coop_assoc_v0.env() is the AEC view

Training with parameter sharing (SB3 through SuperSuit, extra ``[multiagent]``): ``docs/multiagent.md``.
"""

from . import coop_assoc_v0, repeated_game_v0
from .base import PlasticParallelEnv, run_episodes
from .coop_assoc import CoopAssocEnv
from .repeated_game import RepeatedGameEnv

#: name -> module with ``parallel_env`` / ``env``, for loops over every multi-agent env (tests, scripts).
ENVS = {"coop_assoc_v0": coop_assoc_v0, "repeated_game_v0": repeated_game_v0}

__all__ = ["ENVS", "CoopAssocEnv", "PlasticParallelEnv", "RepeatedGameEnv", "coop_assoc_v0", "repeated_game_v0",
           "run_episodes"]
