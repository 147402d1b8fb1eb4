"""Registration of the suite's env ids with gymnasium, and ``make_task`` (the supervised view of an id)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from .core.interactive import InteractiveTask
from .core.task import Task

#: id -> (task module, env class stem, default kwargs that differ from the task's own defaults)
_ENVS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "PlasticCopy-v0": ("copy", "PlasticCopy", {}),
    "PlasticAssoc-v0": ("assoc", "PlasticAssoc", {}),
    "PlasticRegression-v0": ("regression", "PlasticRegression", {}),
    "PlasticRegressionMLP-v0": ("regression", "PlasticRegression", {"mode": "mlp", "n_var": 6}),
    "PlasticOneShot-v0": ("oneshot", "PlasticOneShot", {}),
    "PlasticOmniglot-v0": ("oneshot", "PlasticOneShot", {"source": "omniglot"}),
}

#: The suite-v0 ids (SPEC section 2), in the order of the README's task table.
ENV_IDS: tuple[str, ...] = tuple(_ENVS)

#: The interactive meta-RL tasks (SPEC section 6), same layout as ``_ENVS``.
_RL_ENVS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "PlasticBandit-v0": ("bandit", "PlasticBandit", {}),
    "PlasticHarlow-v0": ("harlow", "PlasticHarlow", {}),
    "PlasticMaze-v0": ("maze", "PlasticMaze", {}),
}

#: The interactive ids, in the order of the README's meta-RL table.
RL_ENV_IDS: tuple[str, ...] = tuple(_RL_ENVS)


def register_envs() -> None:
    """Register every id (idempotent; runs on ``import plastic_gym``)."""
    for env_id, (module, stem, kwargs) in {**_ENVS, **_RL_ENVS}.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=f"plastic_gym.tasks.{module}:{stem}Env",
            vector_entry_point=f"plastic_gym.tasks.{module}:{stem}VectorEnv",
            kwargs=dict(kwargs),
            disable_env_checker=False,
        )


def task_class(env_id: str) -> type[Task] | type[InteractiveTask]:
    """The task class behind a registered id (a ``Task``, or an ``InteractiveTask`` for the ids of ``RL_ENV_IDS``)."""
    if env_id not in gym.registry:
        raise ValueError(f"unknown env id {env_id!r}; registered plastic-gym ids: {list(ENV_IDS + RL_ENV_IDS)}")
    spec = gym.spec(env_id)
    env_cls = gym.envs.registration.load_env_creator(spec.entry_point)
    if not hasattr(env_cls, "task_class"):
        raise ValueError(f"{env_id!r} is not a plastic-gym task (its entry point has no task_class)")
    return env_cls.task_class


def make_task(env_id: str, **kwargs: Any) -> Task | InteractiveTask:
    """The task behind a registered id, with the id's registered kwargs updated by ``kwargs``.

    ``make_task("PlasticAssoc-v0").sample(64, rng)`` gives the same episodes as the env views of that id.
    """
    register_envs()
    cls = task_class(env_id)
    return cls.from_kwargs(**{**gym.spec(env_id).kwargs, **kwargs})
