"""Learning comparison on two short memory tasks at one env-step budget: PPO (MLP), PPO with frame stacking,
RecurrentPPO (LSTM) and PlasticPPO (hebbian and gradient plasticity).

Every method sees the same env steps, seeds and PPO settings (rollouts of ``N_ENVS x N_STEPS``, ``N_EPOCHS`` epochs,
minibatches of ``BATCH`` transitions, learning rate ``LR``, initial action std e^-1, gamma = 0). gamma = 0 is exact
for these tasks, not a shortcut: the reward of step t depends only on the action of step t and actions never change
later observations, so the per-step reward is the whole advantage signal and no method profits from credit
assignment over time. What separates the methods is memory:

- PPO (MLP) sees only the current observation (the no-memory level: 1/3 on both metrics);
- frame stacking sees the last ``N_STACK`` observations (a fixed window);
- RecurrentPPO carries an LSTM state, PlasticPPO a plastic network (fast weights F, SPEC section 4).

The metric is the task's primary metric (``query_mse`` / ``recall_mse``, lower is better) of the deterministic policy
on a fixed set of ``N_EVAL`` held-out episodes, evaluated ``N_POINTS`` times during training. Output: a PNG of the
curves (mean over seeds, band: min-max) and a JSON of all numbers, in ``--out`` (default ``docs/``); the markdown
table for ``docs/rl_comparison.md`` is printed. Existing outputs are kept unless ``--force``.

    nice python examples/rl_comparison.py                # full run (budget and seeds below; about 4 CPU minutes)
    nice python examples/rl_comparison.py --budget 4096 --seeds 0 --out /tmp/rlc   # quick look
    nice python examples/rl_comparison.py --seeds 2 --out /tmp/s2    # one more seed, then merge it:
    nice python examples/rl_comparison.py --from-json docs/rl_comparison.json /tmp/s2/rl_comparison.json --force

Two versions of PlasticPPO under the same protocol: ``--agents-rev REV`` trains with the ``agents/`` package of commit
REV of this repository (exported by ``git archive`` into a temporary folder and imported under its own name; the
tasks, envs and everything else are this tree's), and ``--compare A.json B.json`` trains nothing: it compares the
final values of the plastic methods of two runs seed by seed (how many runs leave the no-memory plateau, means with
95% bootstrap intervals, a Mann-Whitney U test) and writes ``rl_comparison_seeds.{png,json}``:

    nice python examples/rl_comparison.py --agents-rev 4346332~1 --tasks copy --seeds $(seq 0 19) \
        --methods "PlasticPPO hebbian" "PlasticPPO gradient" --out /tmp/before
    nice python examples/rl_comparison.py --tasks copy --seeds $(seq 0 19) \
        --methods "PlasticPPO hebbian" "PlasticPPO gradient" --out /tmp/after
    python examples/rl_comparison.py --compare /tmp/before/rl_comparison.json /tmp/after/rl_comparison.json
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

TASKS = {
    "assoc": ("plastic_gym:PlasticAssoc-v0", {"n_cues": 2, "trial_length": 6, "stim_dim": 4}),
    "copy": ("plastic_gym:PlasticCopy-v0", {"seq_length": 3, "delay": 2}),
}
METHODS = ("PPO (MLP)", "PPO + frame stack", "RecurrentPPO (LSTM)", "PlasticPPO hebbian", "PlasticPPO gradient")
BUDGET = 16_384
SEEDS = (0, 1, 2, 3, 4)
N_ENVS, N_STEPS, N_EPOCHS, LR, BATCH = 16, 32, 4, 3e-3, 128
N_STACK = 4
N_EVAL, N_POINTS = 256, 8
EVAL_SEED = 10_000
STD = {"log_std_init": -1.0}  # initial action std e^-1 = 0.37 for every method (actions live in [-1, 1])
PLASTIC = ("PlasticPPO hebbian", "PlasticPPO gradient")
PLATEAU = 0.25  # a final value below this has left the no-memory plateau (1/3) on Copy
N_BOOT = 10_000  # bootstrap resamples of the 95% intervals
REPO = Path(__file__).resolve().parents[1]
_EXPORTS: list[tempfile.TemporaryDirectory] = []  # exported agents/ folders, kept until the process ends


def load_agents(rev: str | None) -> tuple[ModuleType, str | None]:
    """The package that provides ``PlasticPPO`` and ``PlasticRecurrentPolicy``, and the full commit hash it came from.

    ``rev`` None: this tree's ``plastic_gym.agents`` (hash None). Otherwise the ``agents/`` folder of commit ``rev``
    of this repository (never the working tree), written by ``git archive`` into a temporary folder and imported as
    the package ``rl_comparison_agents_<hash>``: its relative imports resolve inside the export, while ``plastic_gym``
    (tasks, envs, io) stays this tree's. That is what a before/after comparison of one agents/ change needs."""
    if rev is None:
        from plastic_gym import agents

        return agents, None

    def git(*args: str) -> bytes:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True)
        if done.returncode:
            raise ValueError(f"--agents-rev {rev!r}: expected a commit of {REPO} with an agents/ folder; git "
                             f"{args[0]} said: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    sha = git("rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}").decode().strip()
    name = f"rl_comparison_agents_{sha[:12]}"
    if name not in sys.modules:
        export = tempfile.TemporaryDirectory(prefix=f"{name}_")
        _EXPORTS.append(export)
        with tarfile.open(fileobj=io.BytesIO(git("archive", sha, "agents"))) as tar:
            tar.extractall(export.name, filter="data")
        folder = Path(export.name) / "agents"
        spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name], sha


def make_model(method: str, env, seed: int, agents: ModuleType | None = None):
    """The five learners, with the same PPO settings; sizes chosen to be comparable (see the docs). ``agents``: the
    package whose ``PlasticPPO`` and ``PlasticRecurrentPolicy`` to use (``load_agents``; default this tree's)."""
    from sb3_contrib import RecurrentPPO
    from stable_baselines3 import PPO

    if agents is None:
        agents = load_agents(None)[0]
    PlasticPPO, PlasticRecurrentPolicy = agents.PlasticPPO, agents.PlasticRecurrentPolicy
    common = dict(n_steps=N_STEPS, n_epochs=N_EPOCHS, learning_rate=LR, gamma=0.0, gae_lambda=0.0, seed=seed,
                  device="cpu")
    if method in ("PPO (MLP)", "PPO + frame stack"):
        return PPO("MlpPolicy", env, batch_size=BATCH, policy_kwargs={"net_arch": [64, 64], **STD}, **common)
    if method == "RecurrentPPO (LSTM)":
        return RecurrentPPO("MlpLstmPolicy", env, batch_size=BATCH,
                            policy_kwargs={"lstm_hidden_size": 32, "net_arch": [32], **STD}, **common)
    rule = method.split()[-1]
    return PlasticPPO(PlasticRecurrentPolicy, env, batch_size=BATCH,
                      policy_kwargs={"rule": rule, "hidden_dim": 32, "latent_dim": 32, "net_arch": [32], **STD},
                      **common)


def make_env(task: str, method: str, n_envs: int, seed: int):
    from stable_baselines3.common.vec_env import VecFrameStack

    from plastic_gym.agents import make_native_vec_env

    env_id, kwargs = TASKS[task]
    env = make_native_vec_env(env_id, n_envs=n_envs, seed=seed, **kwargs)  # the episodes of make_vec_env, faster
    return VecFrameStack(env, N_STACK) if method == "PPO + frame stack" else env


def evaluate(model, env, metric: str) -> float:
    """Mean primary metric of the deterministic policy over the fixed evaluation episodes (all the same length,
    stepped in lockstep; the recurrent state is threaded through ``predict``)."""
    env.seed(EVAL_SEED)
    obs = env.reset()
    state, start = None, np.ones(env.num_envs, bool)
    while True:
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        obs, _, start, infos = env.step(action)
        if start.all():
            return float(np.mean([info["episode_metrics"][metric] for info in infos]))


def run(task: str, method: str, seed: int, budget: int, agents: ModuleType | None = None) -> dict:
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from plastic_gym import make_task

    torch.set_num_threads(1)
    metric = make_task(TASKS[task][0].split(":")[1], **TASKS[task][1]).primary_metric
    env = make_env(task, method, N_ENVS, seed)
    eval_env = make_env(task, method, N_EVAL, EVAL_SEED)
    model = make_model(method, env, seed, agents)
    every = budget // N_POINTS
    curve = [(0, evaluate(model, eval_env, metric))]

    class Curve(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps // every > (self.num_timesteps - env.num_envs) // every:
                curve.append((self.num_timesteps, evaluate(model, eval_env, metric)))
            return True

    start = time.process_time()
    model.learn(budget, callback=Curve())
    seconds = time.process_time() - start
    n_params = sum(p.numel() for p in model.policy.parameters())
    return {"task": task, "method": method, "seed": seed, "metric": metric, "curve": curve, "final": curve[-1][1],
            "cpu_seconds": seconds, "n_params": int(n_params)}


def _save_png(fig, path: Path) -> None:
    """``fig`` as a PNG at ``path``, written atomically (``plastic_gym.io.atomic_path``)."""
    from plastic_gym.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")


def _save_json(payload: dict, path: Path) -> None:
    """``payload`` as indented JSON at ``path``, written atomically (``plastic_gym.io.write_atomic``)."""
    from plastic_gym.io import write_atomic

    write_atomic(path, json.dumps(payload, indent=1).encode(), overwrite=True)


def plot(results: list[dict], path: Path, budget: int, seeds) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in TASKS if any(r["task"] == t for r in results)]  # a run of some tasks plots only those
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for method in METHODS:
            runs = [r for r in results if r["task"] == task and r["method"] == method]
            if not runs:
                continue
            metric = runs[0]["metric"]
            steps = np.array([s for s, _ in runs[0]["curve"]])
            values = np.array([[v for _, v in r["curve"]] for r in runs])
            ax.plot(steps, values.mean(0), label=method, marker="o", ms=3)
            ax.fill_between(steps, values.min(0), values.max(0), alpha=0.15)
        env_id, kwargs = TASKS[task]
        ax.axhline(1 / 3, color="grey", ls="--", lw=1, label="no memory (1/3)")
        ax.set_title(f"{env_id.split(':')[1]} {kwargs}", fontsize=9)
        ax.set_xlabel("env steps")
        ax.set_ylabel(metric + " (lower is better)")
        ax.set_ylim(0, 0.6)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"budget {budget} env steps, seeds {list(seeds)}, mean and min-max over seeds", fontsize=10)
    fig.tight_layout()
    _save_png(fig, path)


def table(results: list[dict]) -> str:
    metrics = {r["task"]: r["metric"] for r in results}
    lines = ["| method | " + " | ".join(f"{t} ({metrics.get(t, '-')})" for t in TASKS) + " | params | CPU s / run |",
             "|---|" + "---|" * (len(TASKS) + 2)]
    for method in METHODS:
        cells, params, cpu = [], set(), []
        for task in TASKS:
            runs = [r for r in results if r["task"] == task and r["method"] == method]
            finals = [r["final"] for r in runs]
            cells.append(f"{np.mean(finals):.3f} ({', '.join(f'{f:.3f}' for f in finals)})" if runs else "-")
            params |= {r["n_params"] for r in runs}
            cpu += [r["cpu_seconds"] for r in runs]
        if not cpu:  # a method this run did not train
            continue
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {'/'.join(map(str, sorted(params)))} | "
                     f"{np.mean(cpu):.0f} |")
    return "\n".join(lines)


def _finals(payload: dict, task: str, method: str) -> dict[int, float]:
    """Final value per seed of one method on one task in a run's JSON."""
    return {r["seed"]: r["final"] for r in payload["results"] if r["task"] == task and r["method"] == method}


def _escape_steps(payload: dict, task: str, method: str) -> dict[int, int | None]:
    """Per seed, the first evaluation point (env steps) whose value is below ``PLATEAU`` (None: never)."""
    return {r["seed"]: next((step for step, value in r["curve"] if value < PLATEAU), None)
            for r in payload["results"] if r["task"] == task and r["method"] == method}


def _median_step(steps: dict[int, int | None]) -> float | None:
    """Median first step below the plateau over the runs that got there (None if none did)."""
    reached = [s for s in steps.values() if s is not None]
    return float(np.median(reached)) if reached else None


def _label(payload: dict) -> str:
    rev = payload["settings"].get("agents_rev")
    return f"agents {rev[:7]}" if rev else "agents of this tree"


def _summary(values: np.ndarray, rng: np.random.Generator) -> dict:
    """n, how many runs left the plateau (final < ``PLATEAU``), the mean and its 95% percentile-bootstrap interval
    (``N_BOOT`` resamples of the seeds with replacement)."""
    boot = values[rng.integers(0, len(values), (N_BOOT, len(values)))].mean(axis=1)
    return {"n": len(values), "left_plateau": int((values < PLATEAU).sum()), "mean": float(values.mean()),
            "ci95": [float(q) for q in np.percentile(boot, [2.5, 97.5])]}


def compare(a: dict, b: dict, seed: int = 0) -> list[dict]:
    """Per task and plastic method in both runs ``a`` and ``b`` (payloads of this script's JSON, same budget and
    settings but for ``agents_rev``): the per-seed finals, each side's ``_summary``, the difference of means b - a
    with a 95% bootstrap interval (seeds resampled independently on each side), a two-sided Mann-Whitney U test of
    the finals, Fisher's exact test of the plateau counts, the median first evaluation step below the plateau of the
    runs that left it, and, over the seeds both ran (the same seed: the same initial weights and envs), how many left
    the plateau in both, only in a, only in b, with McNemar's exact test of those discordant seeds and a Wilcoxon
    signed-rank test of the paired finals. Each run's outcome is close to all-or-nothing on Copy (it leaves the
    plateau or it does not), so the counts and the rank tests say more than the means."""
    from scipy.stats import binomtest, fisher_exact, mannwhitneyu, wilcoxon

    def setup(payload: dict) -> str:
        settings = {k: v for k, v in payload["settings"].items() if k != "agents_rev"}
        return json.dumps([payload["budget"], settings], sort_keys=True)

    if setup(a) != setup(b):
        raise ValueError("--compare: the two runs differ in budget or settings (other than agents_rev); expected "
                         "two runs of the same protocol")
    rng = np.random.default_rng(seed)
    rows = []
    for task in TASKS:
        for method in PLASTIC:
            fa, fb = _finals(a, task, method), _finals(b, task, method)
            if not fa or not fb:
                continue
            va, vb = np.array(list(fa.values())), np.array(list(fb.values()))
            sa, sb = _summary(va, rng), _summary(vb, rng)
            diff = (vb[rng.integers(0, len(vb), (N_BOOT, len(vb)))].mean(axis=1)
                    - va[rng.integers(0, len(va), (N_BOOT, len(va)))].mean(axis=1))
            u = mannwhitneyu(va, vb, alternative="two-sided")
            table = [[sa["left_plateau"], sa["n"] - sa["left_plateau"]],
                     [sb["left_plateau"], sb["n"] - sb["left_plateau"]]]
            both = sorted(set(fa) & set(fb))
            left_a = np.array([fa[s] < PLATEAU for s in both], bool)
            left_b = np.array([fb[s] < PLATEAU for s in both], bool)
            only_a, only_b = int((left_a & ~left_b).sum()), int((~left_a & left_b).sum())
            paired = np.array([fb[s] - fa[s] for s in both])
            wilcoxon_p = float(wilcoxon(paired).pvalue) if np.any(paired != 0) else 1.0
            rows.append({"task": task, "method": method, "finals_a": fa, "finals_b": fb, "a": sa, "b": sb,
                         "diff_mean": sb["mean"] - sa["mean"],
                         "diff_ci95": [float(q) for q in np.percentile(diff, [2.5, 97.5])],
                         "mannwhitney_u": float(u.statistic), "mannwhitney_p": float(u.pvalue),
                         "fisher_p": float(fisher_exact(table).pvalue),
                         "median_escape_step_a": _median_step(_escape_steps(a, task, method)),
                         "median_escape_step_b": _median_step(_escape_steps(b, task, method)),
                         "paired_seeds": len(both), "left_both": int((left_a & left_b).sum()),
                         "left_only_a": only_a, "left_only_b": only_b,
                         "mcnemar_p": float(binomtest(only_a, only_a + only_b).pvalue) if only_a + only_b else 1.0,
                         "wilcoxon_p": wilcoxon_p})
    if not rows:
        raise ValueError("--compare: no plastic method was run on the same task in both runs")
    return rows


def compare_table(rows: list[dict], label_a: str, label_b: str) -> str:
    """The markdown table of ``compare``'s rows."""
    def side(s: dict) -> str:
        return f"{s['left_plateau']}/{s['n']} | {s['mean']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"

    def step(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    lines = [f"| task | method | left plateau, {label_a} | mean [95% CI], {label_a} | left plateau, {label_b} | "
             f"mean [95% CI], {label_b} | difference [95% CI] | Mann-Whitney p | Fisher p | median first step "
             "below the plateau | paired seeds: left in both / only first / only second | McNemar p | Wilcoxon p |",
             "|---|" + "---|" * 12]
    for r in rows:
        lines.append(f"| {r['task']} | {r['method']} | {side(r['a'])} | {side(r['b'])} | {r['diff_mean']:+.3f} "
                     f"[{r['diff_ci95'][0]:+.3f}, {r['diff_ci95'][1]:+.3f}] | {r['mannwhitney_p']:.2f} | "
                     f"{r['fisher_p']:.2f} | {step(r['median_escape_step_a'])} / {step(r['median_escape_step_b'])} | "
                     f"{r['left_both']} / {r['left_only_a']} / {r['left_only_b']} | {r['mcnemar_p']:.2f} | "
                     f"{r['wilcoxon_p']:.2f} |")
    return "\n".join(lines)


def plot_compare(rows: list[dict], path: Path, label_a: str, label_b: str) -> None:
    """One panel per task and method: each seed's final value in run a and in run b joined by a line (the same seed
    means the same initial weights and envs), the mean with its 95% bootstrap interval beside each column, the
    no-memory level and the plateau threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(3.6 * len(rows), 4.2), squeeze=False)
    for ax, r in zip(axes[0], rows, strict=True):
        both = sorted(set(r["finals_a"]) & set(r["finals_b"]))
        pairs = np.array([[r["finals_a"][s], r["finals_b"][s]] for s in both]).reshape(-1, 2)
        ax.plot([0, 1], pairs.T, color="grey", lw=0.7, alpha=0.6)
        for x, key, finals in ((0, "a", r["finals_a"]), (1, "b", r["finals_b"])):
            values = np.array(list(finals.values()))
            ax.scatter(np.full(len(values), x), values, s=14, zorder=3,
                       c=np.where(values < PLATEAU, "tab:blue", "tab:red"))
            s = r[key]
            ax.errorbar(x + (0.12 if x else -0.12), s["mean"], fmt="D", color="black", ms=5, capsize=3,
                        yerr=[[s["mean"] - s["ci95"][0]], [s["ci95"][1] - s["mean"]]])
        ax.axhline(1 / 3, color="grey", ls="--", lw=1, label="no memory (1/3)")
        ax.axhline(PLATEAU, color="tab:red", ls=":", lw=1, label=f"plateau threshold {PLATEAU}")
        ax.set_xticks([0, 1], [f"{label_a}\n{r['a']['left_plateau']}/{r['a']['n']} below {PLATEAU}",
                               f"{label_b}\n{r['b']['left_plateau']}/{r['b']['n']} below {PLATEAU}"], fontsize=8)
        ax.set_xlim(-0.4, 1.4)
        ax.set_ylim(0, 0.4)
        ax.set_title(f"{r['task']}, {r['method']}\nMann-Whitney p = {r['mannwhitney_p']:.2f}", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0, 0].set_ylabel("final value per seed (lower is better)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle("final values per seed (lines join a seed; diamonds: mean and 95% bootstrap interval)", fontsize=9)
    fig.tight_layout()
    _save_png(fig, path)


def compare_main(paths: list[Path], out: Path, force: bool, labels: list[str] | None = None) -> int:
    """``--compare A B``: ``compare`` the two runs, print the table, write ``rl_comparison_seeds.{png,json}``;
    ``labels`` name the runs (default: ``_label``, or the file names where both labels are the same)."""
    from plastic_gym.io import read_json_file

    a, b = (read_json_file(p, "run JSON") for p in paths)
    png, js = out / "rl_comparison_seeds.png", out / "rl_comparison_seeds.json"
    if not force and (png.exists() or js.exists()):
        raise SystemExit(f"{png} or {js} exists; pass --force to replace them")
    rows = compare(a, b)
    label_a, label_b = labels or (_label(a), _label(b))
    if label_a == label_b:
        label_a, label_b = f"{label_a} ({paths[0]})", f"{label_b} ({paths[1]})"
    payload = {"a": {"json": str(paths[0]), "label": label_a, "agents_rev": a["settings"].get("agents_rev")},
               "b": {"json": str(paths[1]), "label": label_b, "agents_rev": b["settings"].get("agents_rev")},
               "budget": a["budget"], "plateau": PLATEAU, "n_boot": N_BOOT, "rows": rows}
    _save_json(payload, js)
    plot_compare(rows, png, label_a, label_b)
    print(compare_table(rows, label_a, label_b))
    print(f"wrote {png} and {js}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=BUDGET, help="env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--from-json", type=Path, nargs="+", metavar="JSON",
                        help="train nothing: merge the results of earlier runs (same budget and settings, e.g. "
                             "other seeds), then write the merged JSON and the PNG and print the table")
    parser.add_argument("--agents-rev", metavar="REV",
                        help="train PlasticPPO from the agents/ package of commit REV of this repository (a "
                             "before/after comparison of an agents/ change); default: this tree's")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("A_JSON", "B_JSON"),
                        help="train nothing: compare the plastic methods' final values of two runs seed by seed "
                             "and write rl_comparison_seeds.png and .json in --out")
    parser.add_argument("--labels", nargs=2, metavar=("A", "B"),
                        help="names of the two --compare runs in its table and figure (default: their agents/ "
                             "revision)")
    args = parser.parse_args(argv)
    if args.compare:
        return compare_main(args.compare, args.out, args.force, args.labels)
    png, js = args.out / "rl_comparison.png", args.out / "rl_comparison.json"
    if args.from_json:
        loaded = [json.loads(p.read_text()) for p in args.from_json]  # read before anything is replaced
    if not args.force and (png.exists() or js.exists()):
        raise SystemExit(f"{png} or {js} exists; pass --force to replace them")

    if args.from_json:
        if len({(d["budget"], json.dumps(d["settings"], sort_keys=True)) for d in loaded}) != 1:
            raise ValueError("--from-json: the runs differ in budget or settings; only runs of one setup can merge")
        payload = {**loaded[0], "seeds": sorted({s for d in loaded for s in d["seeds"]}),
                   "tasks": {k: v for d in loaded for k, v in d["tasks"].items()},
                   "results": [r for d in loaded for r in d["results"]]}
        _save_json(payload, js)
        plot(payload["results"], png, payload["budget"], payload["seeds"])
        print(table(payload["results"]))
        print(f"wrote {png} and {js}")
        return 0

    from tqdm import tqdm

    agents, sha = load_agents(args.agents_rev)
    jobs = [(t, m, s) for t in args.tasks for m in args.methods for s in args.seeds]
    results = []
    for task, method, seed in tqdm(jobs, desc="runs"):
        results.append(run(task, method, seed, args.budget, agents))
        tqdm.write(f"{task:6s} {method:22s} seed {seed}: {results[-1]['metric']} {results[-1]['final']:.3f} "
                   f"({results[-1]['cpu_seconds']:.0f} CPU s)")
        payload = {"budget": args.budget, "seeds": args.seeds, "tasks": {t: TASKS[t] for t in args.tasks},
                   "settings": {"n_envs": N_ENVS, "n_steps": N_STEPS, "n_epochs": N_EPOCHS, "lr": LR,
                                "batch_size": BATCH, "gamma": 0.0, **STD, "n_stack": N_STACK, "n_eval": N_EVAL,
                                "eval_seed": EVAL_SEED, **({"agents_rev": sha} if sha else {})},
                   "results": results}
        _save_json(payload, js)
    plot(results, png, args.budget, args.seeds)
    print(table(results))
    print(f"wrote {png} and {js}")
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
