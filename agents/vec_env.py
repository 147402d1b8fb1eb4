"""``NativeVecEnv``: a gymnasium ``VectorEnv`` (our native vector envs) presented as a Stable-Baselines3 ``VecEnv``.

SB3 takes only its own ``VecEnv`` (``DummyVecEnv``/``SubprocVecEnv`` over single envs), so the usual route,
``make_vec_env(id, n_envs)``, steps N Python env objects one after another. The native vector envs
(``gym.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``) step all N episodes with a few numpy
operations; this adapter hands that to PPO, RecurrentPPO and PlasticPPO with the conventions of
``DummyVecEnv`` + ``Monitor``:

- ``step`` is one call of the vector env for all envs; envs that end are reset in the same call (the vector env runs
  with ``autoreset_mode="same_step"``), the returned observation is the next episode's first one and the last one is
  in ``info["terminal_observation"]``; ``info["TimeLimit.truncated"]`` is ``truncated and not terminated``;
- an ended env's info also has ``"episode": {"r", "l", "t"}`` (return, length, seconds since the adapter was made)
  as ``Monitor`` writes it, so SB3's ``ep_info_buffer`` and its logger's ``rollout/ep_rew_mean`` work, and
  ``env_is_wrapped(Monitor)`` is True;
- ``seed(s)`` makes the next ``reset`` give env i the episode of ``gym.make(id).reset(seed=s + i)``, which is what
  ``make_vec_env(id, seed=s)`` gives env i; later resets follow each env's own key sequence, as in ``DummyVecEnv``.
  So both produce the same episodes, step for step.

Cost: SB3's API wants one info dict per env per step (its algorithms read ``infos[i]`` for every env), so ``step``
builds that list: one small dict per env from rows of the vector env's info arrays (``tolist`` per key, then one
list comprehension over envs), plus per ended env its ``terminal_observation``, ``episode`` and metrics. That is the
only per-env Python work; actions, observations, rewards, returns and lengths stay numpy arrays. What it costs
against the bare vector env: ``benchmarks/rl_throughput.py --infos``.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

__all__ = ["NativeVecEnv", "make_native_vec_env", "make_plastic_vec_env"]


def _rows(value: Any, n: int) -> list[Any]:
    """Per-env entries of a vector info value: rows of an array, or per-env dicts of a nested info dict."""
    if isinstance(value, dict):
        keys = [k for k in value if not k.startswith("_")]
        columns = [_rows(value[k], n) for k in keys]
        return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
    array = np.asarray(value)
    if array.ndim == 0:
        return [array.item()] * n
    return array.tolist() if array.ndim == 1 and array.dtype != object else list(array)


def _env_infos(info: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Gymnasium's vector info (``{key: [n, ...]}`` with ``_key`` masks) -> SB3's list of per-env dicts. An env
    that a key's mask leaves out does not get that key."""
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, value in info.items():
        if key.startswith("_") or key in ("final_obs", "final_info"):
            continue
        mask = info.get(f"_{key}")
        for i, row in enumerate(_rows(value, n)):
            if mask is None or mask[i]:
                out[i][key] = row
    return out


class NativeVecEnv(VecEnv):
    """An SB3 ``VecEnv`` over one gymnasium ``VectorEnv`` that supports ``autoreset_mode="same_step"``.

    ``NativeVecEnv("PlasticAssoc-v0", num_envs=16, seed=0, n_cues=2)`` makes the vector env with
    ``gym.make_vec(..., vectorization_mode="vector_entry_point", autoreset_mode="same_step")``; a ready
    ``VectorEnv`` can be passed instead of an id (it must run in same-step autoreset mode).
    """

    def __init__(self, env: str | VectorEnv, num_envs: int | None = None, seed: int | None = None, **env_kwargs: Any):
        if isinstance(env, str):
            if num_envs is None or isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) \
                    or num_envs < 1:
                raise ValueError(f"num_envs must be a positive int when an env id is given, got {num_envs!r}")
            env = gym.make_vec(env, num_envs=int(num_envs), vectorization_mode="vector_entry_point",
                               autoreset_mode="same_step", **env_kwargs)
        elif not isinstance(env, VectorEnv):
            raise ValueError(f"NativeVecEnv expects an env id or a gymnasium VectorEnv, got {type(env).__name__}")
        elif env_kwargs or (num_envs is not None and num_envs != env.num_envs):
            raise ValueError("NativeVecEnv: num_envs and env kwargs apply only when an env id is given")
        mode = env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"NativeVecEnv needs a vector env with autoreset_mode='same_step' (SB3 resets an env in "
                             f"the step that ends it), got {mode}")
        self.venv = env
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._returns = np.zeros(self.num_envs)
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)
        self._t_start = time.time()
        self._actions: np.ndarray | None = None
        if seed is not None:
            self.seed(seed)

    # -- the SB3 VecEnv API ---------------------------------------------------------------------------------------
    def reset(self) -> VecEnvObs:
        seeds = self._seeds
        if any(s is not None for s in seeds) and list(seeds) != list(range(seeds[0], seeds[0] + self.num_envs)):
            raise ValueError(f"NativeVecEnv: the vector env seeds env i with seed + i; got per-env seeds {seeds}")
        options = self._options[0] or None
        obs, info = self.venv.reset(seed=seeds[0], options=options)
        self.reset_infos = _env_infos(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        rewards = np.asarray(rewards, dtype=np.float32)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        dones = terminated | truncated
        self._returns += rewards
        self._lengths += 1
        n = self.num_envs
        ended = np.flatnonzero(dones)
        infos = _env_infos(info, n)
        for d in infos:
            d["TimeLimit.truncated"] = False
        if len(ended):  # an ended env's step info is in final_info and its last observation in final_obs
            final_infos = _env_infos(info["final_info"], n)
            final = info["final_obs"]
            elapsed = round(time.time() - self._t_start, 6)
            for i in ended:
                terminal = {k: v[i] for k, v in final.items()} if isinstance(final, dict) else final[i]
                infos[i] = {**final_infos[i], "terminal_observation": terminal,
                            "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                            "episode": {"r": round(float(self._returns[i]), 6), "l": int(self._lengths[i]),
                                        "t": elapsed}}
            self._returns[ended] = 0.0
            self._lengths[ended] = 0
        return obs, rewards, dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The vector env's attribute, once per selected env (``render_mode``, ``spec``, ...)."""
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        if indices is not None and len(list(self._get_indices(indices))) != self.num_envs:
            raise ValueError("NativeVecEnv: attributes belong to the whole vector env; set them for all envs")
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        """Calls the vector env's method once and returns its result for every selected env."""
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        """True for ``Monitor`` (this adapter writes Monitor's episode info), False for any other wrapper."""
        return [issubclass(wrapper_class, Monitor) for _ in self._get_indices(indices)]

    def get_images(self):
        frames = self.venv.render() if self.render_mode == "rgb_array" else None
        return list(frames) if frames is not None else [None] * self.num_envs


def make_native_vec_env(env_id: str, n_envs: int = 1, seed: int | None = None, **env_kwargs: Any) -> NativeVecEnv:
    """``make_vec_env``'s counterpart on the native vector env (rendering off unless ``render_mode`` is given)."""
    return NativeVecEnv(env_id, num_envs=n_envs, seed=seed, **{"render_mode": None, **env_kwargs})


def make_plastic_vec_env(env_id: str, n_envs: int = 1, seed: int | None = None, max_episode_steps: int | None = None,
                         **env_kwargs: Any) -> VecEnv:
    """An SB3 ``DummyVecEnv`` (with ``Monitor``) of a plastic-gym id (SB3 needs its own VecEnv, not a gymnasium
    ``VectorEnv``): ``make_vec_env`` without rendering, and ``max_episode_steps`` adds a ``TimeLimit`` (truncation)."""
    from stable_baselines3.common.env_util import make_vec_env

    env_kwargs = {"render_mode": None, **env_kwargs}
    if max_episode_steps is not None:
        env_kwargs["max_episode_steps"] = max_episode_steps
    return make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs)
