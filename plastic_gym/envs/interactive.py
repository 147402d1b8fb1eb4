"""Gymnasium views of the interactive tasks (SPEC section 6): ``InteractiveEnv`` and ``InteractiveVectorEnv``.

They are ``PlasticEnv`` and ``PlasticVectorEnv`` (the same seeding convention, autoreset modes, info layout, errors
and render modes) stepping an ``InteractiveTask`` through ``InteractivePlayer`` instead of pre-generated episodes.
Besides the task, they expose ``.state``: the task state of the current episodes (privileged: for the oracle and
tests, never for agents).
"""

from __future__ import annotations

from typing import ClassVar

from ..core.interactive import InteractivePlayer, InteractiveTask
from .env import PlasticEnv
from .vector import PlasticVectorEnv


class InteractiveEnv(PlasticEnv):
    """Base class of the interactive envs: subclasses set ``task_class`` and document the task."""

    task_class: ClassVar[type[InteractiveTask]]
    player_class = InteractivePlayer

    @property
    def state(self):
        """The current episode's task state, a batch of one (privileged)."""
        return self._player.state


class InteractiveVectorEnv(PlasticVectorEnv):
    """A native vector env over an interactive task: N episodes stepped together with numpy (no loop over envs)."""

    task_class: ClassVar[type[InteractiveTask]]
    player_class = InteractivePlayer

    @property
    def state(self):
        """The current episodes' task state, ``[N, ...]`` arrays (privileged)."""
        return self._player.state
