"""Side-by-side measurement for the benchmark scripts: variants measured in turn, round after round, so that each sees
the same machine (the cores here are shared and noisy; only ratios measured this way are compared)."""

from __future__ import annotations

from collections.abc import Callable


def interleaved(variants: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Call every variant's measurement once per round, in the given order; returns each variant's measurements."""
    out: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, measure in variants.items():
            out[name].append(measure())
    return out
