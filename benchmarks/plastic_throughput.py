"""Training-step throughput of the fast plastic network vs the literal reference, side by side.

One training step = forward over a whole batch of episodes + MSE on the scored steps + backward + grad-norm clip 5 +
AdamW(lr 1e-3, amsgrad) step, batch 64, hidden 128, one thread. Rows: cue-reward (PlasticAssoc-v0, T=20) for both
cells and both rules, and sequence copy (PlasticCopy-v0, T=60) for the hebbian RNN.

Times: one fresh process per row builds both networks (same parameters), takes one warm-up step of each, then runs
rounds of ``--repeats / --ref-repeats`` fast steps followed by one reference step, so both see the same state of a
shared, noisy machine; the ratio is the reference's median over the fast network's median (and min over min).
Times are the thread's CPU time (what the step costs, robust to other processes) and wall time.

Peak memory: each network's first step in a fresh process of its own, as the resident memory added by the step
(Linux VmHWM after resetting it through /proc/self/clear_refs; ru_maxrss otherwise).

    python benchmarks/plastic_throughput.py [--quick] [--repeats N] [--ref-repeats N] [--skip-lstm-reference]
                                            [--device cpu|cuda]

On CUDA (``--device cuda``) every step ends with ``loss.item()``, which waits for the device, so the wall time is
the step's time and the ratio is taken on wall times; peak memory is the device memory the step adds
(``torch.cuda.max_memory_allocated``); the CPU time targets are not checked there.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time

ASSOC, COPY = "PlasticAssoc-v0", "PlasticCopy-v0"
# (task, cell, rule, target seconds or None) -- targets from the issue, for the fast network's CPU time
ROWS = [
    (ASSOC, "rnn", "hebbian", 0.10),
    (ASSOC, "rnn", "gradient", 0.15),
    (ASSOC, "lstm", "hebbian", None),
    (ASSOC, "lstm", "gradient", None),
    (COPY, "rnn", "hebbian", 0.60),
]
MIN_SPEEDUP = 5.0


def _rss_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def training_step(kind, task_id: str, cell: str, rule: str, seed: int = 0, device: str = "cpu", config_class=None,
                  hidden_dim: int = 128):
    """A closure running one training step and returning its loss.

    ``kind``: "fast" (``PlasticNetwork``), "reference" (``ReferencePlasticNetwork``) or a network class with their
    constructor (a variant of ``PlasticNetwork``, see ``network_ab.py``), built from a ``config_class`` config
    (default ``PlasticConfig``; a variant from another revision brings its own) with ``hidden_dim`` units.
    """
    import torch

    import plastic_gym
    from plastic_gym.agents import PlasticConfig, PlasticNetwork, ReferencePlasticNetwork

    ep = plastic_gym.make_task(task_id).sample(64, seed)
    x = torch.as_tensor(ep.obs, dtype=torch.float32, device=device)
    y = torch.as_tensor(ep.target, dtype=torch.float32, device=device)
    w = torch.as_tensor(ep.scored, dtype=torch.float32, device=device).unsqueeze(-1)
    cfg = (config_class or PlasticConfig)(input_dim=x.shape[-1], output_dim=y.shape[-1], hidden_dim=hidden_dim,
                                          cell=cell, rule=rule)
    net_class = {"fast": PlasticNetwork, "reference": ReferencePlasticNetwork}.get(kind, kind)
    torch.manual_seed(seed)
    net = net_class(cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, amsgrad=True)

    def train_step() -> float:
        out, _ = net(x)
        loss = ((out - y).square() * w).sum() / w.sum().clamp(min=1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        return loss.item()

    return train_step


def peak_memory(kind: str, task_id: str, cell: str, rule: str, device: str = "cpu") -> float:
    """Runs in a fresh process: MB of resident (or CUDA device) memory added by the network's first training step."""
    import torch

    torch.set_num_threads(1)
    train_step = training_step(kind, task_id, cell, rule, device=device)
    if device != "cpu":
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        train_step()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    rss0 = _rss_kb("VmRSS")
    if _reset_peak() and rss0 is not None:
        train_step()
        peak_kb = (_rss_kb("VmHWM") or 0) - rss0
    else:  # ru_maxrss is a high-water mark since process start (kB on Linux)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        train_step()
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return peak_kb / 1024.0


def timings(task_id: str, cell: str, rule: str, repeats: int, ref_repeats: int, reference: bool,
            device: str = "cpu") -> dict:
    """Runs in a fresh process: CPU and wall seconds per step, fast and reference steps interleaved."""
    import torch

    torch.set_num_threads(1)
    kinds = ["fast", "reference"] if reference else ["fast"]
    steps = {k: training_step(k, task_id, cell, rule, device=device) for k in kinds}
    for step in steps.values():  # warm-up
        step()
    times: dict[str, dict[str, list[float]]] = {k: {"cpu": [], "wall": []} for k in kinds}

    def timed(kind: str) -> None:
        c0, w0 = time.thread_time(), time.perf_counter()
        steps[kind]()
        times[kind]["cpu"].append(time.thread_time() - c0)
        times[kind]["wall"].append(time.perf_counter() - w0)

    rounds = ref_repeats if reference else 1
    per_round = math.ceil(repeats / rounds)
    for _ in range(rounds):
        for _ in range(per_round):
            timed("fast")
        if reference:
            timed("reference")
    return {
        k: {"cpu": statistics.median(t["cpu"]), "cpu_min": min(t["cpu"]), "wall": statistics.median(t["wall"])}
        for k, t in times.items()
    }


def _fmt(d: dict | None, key: str, digits: int) -> str:
    return "-" if d is None else f"{d[key]:.{digits}f}"


def _run_isolated(pool_ctx, fn, *args):
    with pool_ctx.Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(fn, args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (fast 2, reference 1)")
    ap.add_argument("--repeats", type=int, default=None, help="timed steps of the fast network (default 10)")
    ap.add_argument("--ref-repeats", type=int, default=None,
                    help="timed steps of the reference, one per round of fast steps (default 5)")
    ap.add_argument("--skip-lstm-reference", action="store_true", help="the LSTM reference takes ~10 s per step")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    args = ap.parse_args(argv)
    reps = args.repeats or (2 if args.quick else 10)
    ref_reps = args.ref_repeats or (1 if args.quick else 5)
    if reps < 1 or ref_reps < 1:
        ap.error("--repeats and --ref-repeats must be >= 1")

    on_cpu = args.device == "cpu"
    ctx = mp.get_context("spawn")
    print(f"plastic training step on {args.device}, batch 64, hidden 128, torch threads 1, pid {os.getpid()}, "
          f"{ref_reps} rounds of {math.ceil(reps / ref_reps)} fast steps + 1 reference step (medians); "
          "times in seconds",
          flush=True)
    header = (f"{'task':<16} {'T':>3} {'cell':<4} {'rule':<8} | {'fast cpu':>8} {'(min)':>6} | "
              f"{'ref cpu':>7} {'(min)':>6} | {'ratio':>5} {'(min)':>6} | {'fast wall':>9} {'ref wall':>8} | "
              f"{'fast MB':>7} {'ref MB':>6} | target (median)")
    print(header)
    print("-" * len(header), flush=True)
    failures = []
    for task_id, cell, rule, target in ROWS:
        T = 20 if task_id == ASSOC else 60
        with_ref = not (cell == "lstm" and args.skip_lstm_reference)
        t = _run_isolated(ctx, timings, task_id, cell, rule, reps, ref_reps, with_ref, args.device)
        fast, ref = t["fast"], t.get("reference")
        fast["peak_mb"] = _run_isolated(ctx, peak_memory, "fast", task_id, cell, rule, args.device)
        if ref is not None:
            ref["peak_mb"] = _run_isolated(ctx, peak_memory, "reference", task_id, cell, rule, args.device)
        key = "cpu" if on_cpu else "wall"
        ratio = ref[key] / fast[key] if ref else float("nan")
        ratio_min = ref["cpu_min"] / fast["cpu_min"] if ref and on_cpu else float("nan")
        verdicts = []
        if target is not None and on_cpu:
            ok = fast["cpu"] < target
            verdicts.append(f"<{target:g}s {'ok' if ok else 'MISSED'}")
            if not ok:
                failures.append(f"{task_id} {cell} {rule}: {fast['cpu']:.3f}s >= {target}s")
        if ref is not None and task_id == ASSOC and cell == "rnn" and on_cpu:
            ok = ratio >= MIN_SPEEDUP
            verdicts.append(f">={MIN_SPEEDUP:g}x {'ok' if ok else 'MISSED'}")
            if not ok:
                failures.append(f"{task_id} {cell} {rule}: speedup {ratio:.1f}x < {MIN_SPEEDUP}x")
        print(f"{task_id:<16} {T:>3} {cell:<4} {rule:<8} | {fast['cpu']:>8.3f} {fast['cpu_min']:>6.3f} | "
              f"{_fmt(ref, 'cpu', 3):>7} {_fmt(ref, 'cpu_min', 3):>6} | {ratio:>4.1f}x {ratio_min:>5.1f}x | "
              f"{fast['wall']:>9.3f} {_fmt(ref, 'wall', 3):>8} | "
              f"{fast['peak_mb']:>7.0f} {_fmt(ref, 'peak_mb', 0):>6} | "
              f"{', '.join(verdicts)}", flush=True)
    print()
    print("cpu: the thread's CPU seconds per step, median (and min) of the repeats; wall: median wall seconds.")
    print("peak MB: resident memory added by one training step (fresh process). ratio: reference / fast CPU time,")
    print("both timed interleaved in one process.")
    if not on_cpu:
        print(f"on {args.device}: the ratio is reference / fast wall time, peak MB is device memory; targets are "
              "for the CPU and not checked.")
    if failures:
        print("targets missed on this run (the machine may be shared and noisy):\n  " + "\n  ".join(failures))
    else:
        print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
