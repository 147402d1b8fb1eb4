"""examples/rl_comparison.py: the seed-by-seed comparison of two runs (counts, means, intervals, tests, files) and the
import of PlasticPPO from another commit's agents/ package."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import load_example


@pytest.fixture(scope="module")
def rlc():
    return load_example("rl_comparison")


def payload(finals: dict[str, dict[int, float]], rev: str | None = None, budget: int = 16_384) -> dict:
    """A run JSON as the script writes it, with only what ``compare`` reads."""
    settings = {"n_envs": 16, "lr": 3e-3, **({"agents_rev": rev} if rev else {})}
    results = [{"task": "copy", "method": method, "seed": seed, "final": value, "metric": "recall_mse",
                "curve": [[0, 0.34], [512 * seed, 0.3], [4096, value]]}
               for method, per_seed in finals.items() for seed, value in per_seed.items()]
    return {"budget": budget, "settings": settings, "results": results}


A = {"PlasticPPO hebbian": {0: 0.334, 1: 0.03, 2: 0.2, 3: 0.336}, "PlasticPPO gradient": {0: 0.33, 1: 0.34, 2: 0.31}}
B = {"PlasticPPO hebbian": {0: 0.335, 1: 0.3, 2: 0.01, 3: 0.02, 4: 0.3}, "PlasticPPO gradient": {0: 0.1, 1: 0.2}}


def test_compare_counts_means_and_tests(rlc):
    from scipy.stats import fisher_exact, mannwhitneyu, wilcoxon

    rows = rlc.compare(payload(A, "0" * 40), payload(B))
    assert [(r["task"], r["method"]) for r in rows] == [("copy", "PlasticPPO hebbian"), ("copy", "PlasticPPO gradient")]
    heb, grad = rows
    assert (heb["a"]["n"], heb["a"]["left_plateau"], heb["b"]["n"], heb["b"]["left_plateau"]) == (4, 2, 5, 2)
    assert heb["a"]["mean"] == pytest.approx(np.mean([0.334, 0.03, 0.2, 0.336]))
    assert heb["diff_mean"] == pytest.approx(heb["b"]["mean"] - heb["a"]["mean"])
    a, b = list(A["PlasticPPO hebbian"].values()), list(B["PlasticPPO hebbian"].values())
    assert heb["mannwhitney_p"] == pytest.approx(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    assert heb["fisher_p"] == pytest.approx(fisher_exact([[2, 2], [2, 3]]).pvalue)
    # seeds 0-3 ran in both: seed 2 left the plateau in both, seed 1 only in a, seed 3 only in b
    assert (heb["paired_seeds"], heb["left_both"], heb["left_only_a"], heb["left_only_b"]) == (4, 1, 1, 1)
    assert heb["mcnemar_p"] == pytest.approx(1.0)  # one discordant seed each way
    assert heb["wilcoxon_p"] == pytest.approx(wilcoxon([0.001, 0.27, -0.19, -0.316]).pvalue)
    assert heb["median_escape_step_a"] == 4096 and grad["median_escape_step_a"] is None
    assert (grad["a"]["left_plateau"], grad["b"]["left_plateau"], grad["left_only_b"]) == (0, 2, 2)
    for side in ("a", "b"):
        lo, hi = heb[side]["ci95"]
        assert min(heb[f"finals_{side}"].values()) <= lo <= heb[side]["mean"] <= hi <= max(
            heb[f"finals_{side}"].values())
    assert heb["diff_ci95"][0] <= heb["diff_mean"] <= heb["diff_ci95"][1]
    assert rlc.compare(payload(A, "0" * 40), payload(B)) == rows  # the bootstrap is seeded


def test_compare_constant_values_have_a_point_interval(rlc):
    same = {"PlasticPPO hebbian": {0: 0.2, 1: 0.2, 2: 0.2}}
    (row,) = rlc.compare(payload(same), payload(same))
    assert row["a"]["ci95"] == pytest.approx([0.2, 0.2]) and row["diff_ci95"] == pytest.approx([0.0, 0.0])
    assert row["mannwhitney_p"] == pytest.approx(1.0) and row["fisher_p"] == pytest.approx(1.0)
    assert row["wilcoxon_p"] == 1.0 and row["mcnemar_p"] == 1.0


def test_compare_refuses_different_protocols_and_nothing_in_common(rlc):
    with pytest.raises(ValueError, match="differ in budget or settings"):
        rlc.compare(payload(A), payload(B, budget=4096))
    with pytest.raises(ValueError, match="no plastic method"):
        rlc.compare(payload({"PlasticPPO hebbian": {0: 0.3}}), payload({"PlasticPPO gradient": {0: 0.3}}))


def test_compare_main_writes_table_figure_and_json_and_refuses_to_overwrite(rlc, tmp_path, capsys):
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path, finals, rev in ((paths[0], A, "ab" * 20), (paths[1], B, None)):
        path.write_text(json.dumps(payload(finals, rev)))
    assert rlc.main(["--compare", *map(str, paths), "--out", str(tmp_path)]) == 0
    assert "| copy | PlasticPPO hebbian | 2/4 | 0.225 [" in capsys.readouterr().out
    written = json.loads((tmp_path / "rl_comparison_seeds.json").read_text())
    assert written["a"]["label"] == "agents abababa" and written["b"]["label"] == "agents of this tree"
    assert written["rows"][0]["finals_a"] == {str(k): v for k, v in A["PlasticPPO hebbian"].items()}
    assert (tmp_path / "rl_comparison_seeds.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(SystemExit, match="--force"):
        rlc.main(["--compare", *map(str, paths), "--out", str(tmp_path)])
    rlc.main(["--compare", *map(str, paths), "--out", str(tmp_path), "--labels", "before", "after", "--force"])
    written = json.loads((tmp_path / "rl_comparison_seeds.json").read_text())
    assert (written["a"]["label"], written["b"]["label"], written["a"]["agents_rev"]) == ("before", "after", "ab" * 20)


def test_load_agents_imports_the_package_of_a_commit(rlc):
    pytest.importorskip("torch")
    from plastic_gym.agents import PlasticPPO

    current, sha = rlc.load_agents(None)
    assert sha is None and current.PlasticPPO is PlasticPPO
    old, sha = rlc.load_agents("HEAD")
    assert len(sha) == 40 and old.__name__ == f"rl_comparison_agents_{sha[:12]}"
    assert old.PlasticPPO.__module__ == f"{old.__name__}.ppo" and old.PlasticPPO is not current.PlasticPPO
    assert sys.modules[old.__name__] is old and rlc.load_agents(sha)[0] is old  # imported once per commit
    with pytest.raises(ValueError, match="expected a commit"):
        rlc.load_agents("no-such-revision-xyz")


def test_plot_and_table_of_a_run_of_some_tasks_and_methods(rlc, tmp_path):
    results = [{**r, "cpu_seconds": 1.0, "n_params": 10} for r in payload(A)["results"]]
    rlc.plot(results, tmp_path / "curves.png", 4096, [0, 1, 2, 3])
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    lines = rlc.table(results).splitlines()
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| PlasticPPO hebbian", "| PlasticPPO gradient"]
    assert lines[2].startswith("| PlasticPPO hebbian | - | 0.225 (0.334, 0.030, 0.200, 0.336) | 10 | 1 |")
