"""Train a reinforcement-learning baseline recipe: one Stable-Baselines3 model per suite task at one env-step budget.

A recipe of kind ``"rl"`` (see ``configs/ppo-framestack4.json``)::

    {"name": "ppo-framestack4", "kind": "rl", "description": "...",
     "train": {"algo": "PPO", "frame_stack": 4, "n_envs": 16, "n_steps": 128, "batch_size": 256, "n_epochs": 4,
               "learning_rate": 0.001, "gamma": 0.0, "gae_lambda": 0.0, "policy_kwargs": {"net_arch": [64, 64]}},
     "steps": 50000, "seeds": [0], "suite": "v0"}

- ``steps``: the env-step budget of every task (the RL recipes share one, so they compare at equal experience);
- ``algo``: ``PPO`` (an MLP policy), ``RecurrentPPO`` (sb3-contrib, LSTM policy) or ``PlasticPPO`` (a plastic network
  policy, ``plastic_gym.agents``);
- ``frame_stack``: an int k (SB3's ``VecFrameStack``), ``"episode"`` (k = the task's episode length, so the stack
  covers the whole episode) or absent;
- ``image_channels``: the width of the Conv-4 ``ImageLabelExtractor`` that every algorithm uses on the image tasks
  (so that the methods differ only in their memory);
- every other ``train`` field goes to the algorithm's constructor.

gamma = 0 is exact on the suite's tasks, not a shortcut: a step's reward depends only on that step's action and
actions never change later observations, so no method profits from credit assignment over time.

Outputs of one run (recipe ``NAME``, seed ``S``), all in ``checkpoints/NAME-sS/``: ``<task>.zip`` (the SB3 model, its
spec ``sb3:ALGO:<task>.zip``), ``curves.json`` (the primary metric of the training episodes, per rollout),
``curves.png`` and ``manifest.json``.

Long runs survive interruption: every ``snapshot_every`` env steps the model and its curve so far are written to the
run folder ``runs_dir/NAME/sS/<task>/`` (``model.zip``, ``records.json``, and ``run.json``, the settings they were
trained with). Training a task whose run folder holds a snapshot of the same settings continues from it, up to the
budget asked for now (so a run can also be extended to a larger budget, into an entry folder that does not hold
that task yet). A resumed run starts fresh
episodes (env seed ``S + steps done``) and fresh random streams, so it is not bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import io
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from plastic_gym.io import folder_lock, read_json_file, write_atomic
from plastic_gym.leaderboard.results import write_json_atomic

from .common import check_not_trained, entry_dir, select_tasks, training_kwargs, write_entry_manifest
from .recipes import Recipe

ALGOS = ("PPO", "RecurrentPPO", "PlasticPPO")
#: Env steps between two resumable snapshots of a run (the recipes' rollouts are 2048 steps: one every 32 rollouts).
SNAPSHOT_EVERY = 65_536
REGIMES = {"PPO": "ppo", "RecurrentPPO": "recurrent-ppo", "PlasticPPO": "plastic-ppo"}
_OWN_FIELDS = ("algo", "frame_stack", "image_channels")


def frame_stack_of(settings: dict[str, Any], task) -> int:
    """The stack size k of ``settings`` on ``task`` (1 = no stacking)."""
    k = settings.get("frame_stack")
    if k is None:
        return 1
    if k == "episode":
        return int(task.episode_length)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"frame_stack must be an int >= 1, 'episode' or absent, got {k!r}")
    return k


def make_task_vec_env(env_id: str, kwargs: dict[str, Any], n_envs: int, seed: int, frame_stack: int = 1):
    """The SB3 VecEnv of one task, frame-stacked when ``frame_stack > 1``: the native vector env through
    ``NativeVecEnv`` (the episodes of ``make_vec_env`` for the same seed, stepped with one numpy call per step)."""
    from stable_baselines3.common.vec_env import VecFrameStack

    from plastic_gym.agents import make_native_vec_env

    env = make_native_vec_env(env_id, n_envs=n_envs, seed=seed, **kwargs)
    return VecFrameStack(env, frame_stack) if frame_stack > 1 else env


def algo_class(algo: Any, where: str = "recipe"):
    """The SB3 algorithm class named ``algo`` (one of ``ALGOS``)."""
    from sb3_contrib import RecurrentPPO
    from stable_baselines3 import PPO

    from plastic_gym.agents import PlasticPPO

    if algo not in ALGOS:
        raise ValueError(f"{where}: algo must be one of {ALGOS}, got {algo!r}")
    return {"PPO": PPO, "RecurrentPPO": RecurrentPPO, "PlasticPPO": PlasticPPO}[algo]


def task_env(env_id: str, kwargs: dict[str, Any], n_envs: int, frame_stack: int, seed: int):
    """``make_task_vec_env`` with the seed last (the env factory of a run, ``partial``-bound to its task)."""
    return make_task_vec_env(env_id, kwargs, n_envs, seed, frame_stack)


def build_algorithm(settings: dict[str, Any], env, seed: int, where: str = "recipe"):
    """The SB3 algorithm of ``settings`` on ``env`` (policy class chosen for the observation space)."""
    from gymnasium import spaces

    from plastic_gym.agents import PlasticRecurrentPolicy
    from plastic_gym.agents.sb3_policy import ImageLabelExtractor

    algo = settings.get("algo")
    cls = algo_class(algo, where)
    kwargs = {k: v for k, v in settings.items() if k not in _OWN_FIELDS}
    policy_kwargs = dict(kwargs.pop("policy_kwargs", {}))
    image = isinstance(env.observation_space, spaces.Dict)
    if image:
        policy_kwargs.setdefault("features_extractor_class", ImageLabelExtractor)
        policy_kwargs.setdefault("features_extractor_kwargs", {"channels": settings.get("image_channels", 32)})
    policy = {
        "PPO": "MultiInputPolicy" if image else "MlpPolicy",
        "RecurrentPPO": "MultiInputLstmPolicy" if image else "MlpLstmPolicy",
        "PlasticPPO": PlasticRecurrentPolicy,
    }[algo]
    try:
        return cls(policy, env, seed=seed, device="cpu", policy_kwargs=policy_kwargs, verbose=0, **kwargs)
    except TypeError as err:
        raise ValueError(f"{where}: bad settings for {algo}: {err}") from None


def metric_curve_callback(primary: str, records: list[dict[str, Any]]):
    """An SB3 callback that appends, after every rollout, the mean ``primary`` metric of the training episodes that
    ended in it (``info["episode_metrics"]``, from the stochastic training policy) to ``records``."""
    from stable_baselines3.common.callbacks import BaseCallback

    class MetricCurve(BaseCallback):
        def _on_rollout_start(self) -> None:
            self.values: list[float] = []

        def _on_step(self) -> bool:
            infos = self.locals["infos"]  # an episode's metrics come with its last step: look at the ended envs only
            self.values += [float(infos[i]["episode_metrics"][primary]) for i in np.flatnonzero(self.locals["dones"])
                            if "episode_metrics" in infos[i]]
            return True

        def _on_rollout_end(self) -> None:
            if self.values:
                records.append({"step": int(self.num_timesteps), "val": {primary: float(np.mean(self.values))},
                                "episodes": len(self.values)})

    return MetricCurve()


def snapshot_callback(run_dir: Path, records: list[dict[str, Any]], every: int, seconds_before: float = 0.0):
    """An SB3 callback that writes the model and ``records`` to ``run_dir`` (atomically) after the rollout in which
    the env-step count crosses a multiple of ``every``, and once more when training ends. ``seconds_before``: the
    training time of the run before this ``learn`` (a resumed run), added to the time measured here."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Snapshot(BaseCallback):
        def _on_training_start(self) -> None:
            self.last = self.num_timesteps
            self.start = time.perf_counter()

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            if self.num_timesteps // every > self.last // every:
                self.save()

        def _on_training_end(self) -> None:
            if self.num_timesteps != self.last:
                self.save()

        def save(self) -> None:
            save_snapshot(self.model, records, run_dir, seconds_before + time.perf_counter() - self.start)
            self.last = self.num_timesteps

    return Snapshot()


def save_model(model, path: Path) -> None:
    """Write an SB3 model's zip to ``path`` atomically (serialized in memory first)."""
    buffer = io.BytesIO()
    model.save(buffer)
    write_atomic(path, buffer.getvalue(), overwrite=True)


def save_snapshot(model, records: list[dict[str, Any]], run_dir: Path, seconds: float) -> None:
    """Write ``model.zip`` and then ``records.json`` (the curve up to the model's step, and the training seconds so
    far) into ``run_dir``."""
    save_model(model, run_dir / "model.zip")
    snapshot = {"env_steps": int(model.num_timesteps), "train_seconds": round(seconds, 1), "records": records}
    write_json_atomic(run_dir / "records.json", snapshot, overwrite=True)


def resume_or_build(settings: dict[str, Any], make_env, seed: int, run_dir: Path, force: bool, where: str):
    """The model to train, its curve and its training seconds so far: the snapshot in ``run_dir`` if it was trained
    with the same ``settings`` (and not ``force``), else a new model (the run folder is then started afresh).
    ``make_env(env_seed)`` builds the training env: seeded ``seed`` for a new model, ``seed + steps done`` for a
    resumed one, so that it plays fresh episodes."""
    run_file = run_dir / "run.json"
    wanted = {"seed": seed, "settings": settings}
    if not force and (run_dir / "model.zip").exists() and run_file.exists():
        stored = read_json_file(run_file, "run settings")
        if stored != wanted:
            raise ValueError(f"{where}: {run_dir} holds a snapshot trained with other settings ({stored}); "
                             f"use force=True (--force) to start that task over")
        saved = read_json_file(run_dir / "records.json", "records")
        env = make_env(seed + int(saved["env_steps"]))
        model = algo_class(settings["algo"], where).load(run_dir / "model.zip", env=env, device="cpu")
        model._last_obs = None  # the next learn() resets the (new) env and starts every episode afresh
        records = [r for r in saved["records"] if r["step"] <= model.num_timesteps]
        return model, records, float(saved.get("train_seconds", 0.0))
    model = build_algorithm(settings, make_env(seed), seed, where=where)
    write_json_atomic(run_file, wanted, overwrite=True)
    return model, [], 0.0


def run_settings(recipe: Recipe, task_name: str) -> dict[str, Any]:
    """The settings a run folder of ``recipe`` on ``task_name`` records in ``run.json`` (the algorithm's, without the
    budget and the number of envs): a snapshot is resumed only under the same ones."""
    return {k: v for k, v in recipe.train_fields(task_name).items() if k not in ("steps", "n_envs")}


def train_recipe(recipe: Recipe, seed: int, runs_dir: str | Path = "runs/baselines", steps: int | None = None,
                 tasks: list[str] | None = None, checkpoint_dir: str | Path | None = None,
                 force: bool = False, progress: bool = True, snapshot_every: int = SNAPSHOT_EVERY) -> Path:
    """Train one model per suite task (or the named ``tasks``) for ``steps`` env steps (default: the recipe's), save
    them with their curves and write the manifest. Returns the manifest path.

    A task that the entry folder already holds is refused unless ``force``. A task whose run folder under
    ``runs_dir`` holds a snapshot of the same settings continues from it (module docstring); ``force`` starts over.
    """
    from plastic_gym import make_task

    selected = select_tasks(recipe, tasks)
    out = entry_dir(recipe, seed, checkpoint_dir)
    check_not_trained(out, selected, ".zip", force)
    curves_path = out / "curves.json"
    for task in selected:
        settings = recipe.train_fields(task.name)
        budget = int(steps if steps is not None else settings["steps"])
        kwargs = training_kwargs(task)
        spec = make_task(task.env_id, **kwargs)
        n_envs = int(settings.get("n_envs", 16))
        algo_settings = run_settings(recipe, task.name)
        where = f"recipe {recipe.name}, task {task.name}"
        run_dir = Path(runs_dir) / recipe.name / f"s{seed}" / task.name
        make_env = partial(task_env, task.env_id, kwargs, n_envs, frame_stack_of(settings, spec))
        model, records, seconds = resume_or_build(algo_settings, make_env, seed, run_dir, force, where)
        done = int(model.num_timesteps)
        start = time.perf_counter()
        if budget > done:
            model.learn(budget - done, reset_num_timesteps=False, progress_bar=progress,
                        callback=[metric_curve_callback(spec.primary_metric, records),
                                  snapshot_callback(run_dir, records, snapshot_every, seconds)])
        seconds += time.perf_counter() - start
        save_model(model, out / f"{task.name}.zip")
        with folder_lock(out):  # a campaign may train other tasks of this entry in other processes
            curves = read_json_file(curves_path, "curves") if curves_path.exists() else {}
            curves[task.name] = {"algo": settings["algo"], "env_steps": int(model.num_timesteps),
                                 "train_seconds": round(seconds, 1), "records": records}
            write_json_atomic(curves_path, curves, overwrite=True)
        model.get_env().close()
    return write_manifest(recipe, seed, out)


def write_manifest(recipe: Recipe, seed: int, out: Path) -> Path:
    """(Re)write ``manifest.json`` and ``curves.png`` from the models and ``curves.json`` of the entry folder."""
    curves = read_json_file(out / "curves.json", "curves") if (out / "curves.json").exists() else {}
    trained = [p.stem for p in out.glob("*.zip")]
    algo = recipe.train.get("algo")
    budgets = sorted({curves[t]["env_steps"] for t in trained if t in curves})
    return write_entry_manifest(
        recipe, seed, out, regime=REGIMES.get(algo, "rl"),
        budget=f"{'/'.join(map(str, budgets)) or '?'} env steps per task",
        tasks={t: f"sb3:{curves.get(t, {}).get('algo', algo)}:{t}.zip" for t in trained},
        curves={t: curves[t]["records"] for t in trained if t in curves},
        curve_title="primary metric of the training episodes (stochastic policy)", xlabel="env steps",
        train_loss=False)
