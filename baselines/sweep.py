"""Run a recipe over several seeds: local processes by default, Ray tasks when Ray is installed (``[ray]`` extra).

Each seed is one independent ``entries.run`` (train every task, evaluate, write the result file); seeds
share nothing, so they parallelize trivially. Submitting to the leaderboard happens afterwards in the parent, one
seed at a time, so two workers never render the leaderboard at once.

With Ray, the seeds run on an existing cluster when an address is given (``ray_address=``, ``plastic-gym baseline
sweep --ray-address``, or the ``RAY_ADDRESS`` environment variable; the cluster's nodes need plastic-gym installed
and see the same file system for the outputs), otherwise on a local Ray instance of ``workers`` CPUs started for
the sweep and stopped after it.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .recipes import load_recipe


def _run_seed(recipe_name: str, seed: int, train_kwargs: dict[str, Any]) -> dict[str, Any]:
    """One seed in a worker: torch limited to one thread so that workers do not oversubscribe the cores."""
    import torch

    from .entries import run

    torch.set_num_threads(1)
    return run(load_recipe(recipe_name), seed, submit=False, **train_kwargs)


def sweep(recipe_name: str, seeds: list[int], workers: int = 1, backend: str = "process",
          ray_address: str | None = None, **train_kwargs: Any) -> list[dict[str, Any]]:
    """Train ``recipe_name`` for every seed in ``seeds``; returns each seed's paths (in the order of ``seeds``).

    ``ray_address`` (backend ``"ray"``; default ``$RAY_ADDRESS``): connect to that running cluster instead of starting
    a local one (Ray refuses ``num_cpus`` when connecting, so ``workers`` then does not apply: the cluster's CPUs
    decide how many seeds run at once)."""
    load_recipe(recipe_name)  # fail early on an unknown recipe
    if ray_address is not None and backend != "ray":
        raise ValueError(f"ray_address needs backend='ray', got backend={backend!r}")
    if backend == "ray":
        try:
            import ray
        except ImportError:
            raise ValueError("backend='ray' needs Ray: pip install 'plastic-gym[ray]'") from None
        address = ray_address or os.environ.get("RAY_ADDRESS") or None
        started_here = not ray.is_initialized()
        if started_here and address:
            ray.init(address=address, log_to_driver=False)
        elif started_here:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        try:
            remote = ray.remote(num_cpus=1)(_run_seed)
            return ray.get([remote.remote(recipe_name, s, train_kwargs) for s in seeds])
        finally:
            if started_here:
                ray.shutdown()
    if backend != "process":
        raise ValueError(f"backend must be 'process' or 'ray', got {backend!r}")
    if workers == 1:
        return [_run_seed(recipe_name, s, train_kwargs) for s in seeds]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_run_seed, [recipe_name] * len(seeds), seeds, [train_kwargs] * len(seeds)))
