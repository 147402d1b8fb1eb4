"""The README's "Using with rl_zoo3 / SB3 image tasks" section runs as written.

The SB3 snippet runs in the default test run; the rl_zoo3 recipe (its train script, conf file and commands, with a
small step budget) runs with ``pytest -m slow`` where rl_zoo3 is installed (it is not a dependency).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")

README = Path(__file__).resolve().parents[1] / "README.md"


def section_blocks() -> list[tuple[str, str]]:
    """(language, body) of every fenced block in the section."""
    text = README.read_text()
    start = text.index("### Using with rl_zoo3 / SB3 image tasks")
    end = text.index("\n## ", start)
    return re.findall(r"```(\w+)\n(.*?)```", text[start:end], re.S)


def test_image_task_snippet_builds_a_model_that_acts():
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    snippet = next(body for lang, body in section_blocks() if lang == "python" and "ImageLabelExtractor" in body
                   and "rl_zoo3" not in body)
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102  (the README's own code)
    model, envs = namespace["model"], namespace["envs"]
    assert type(model.policy.features_extractor).__name__ == "ImageLabelExtractor"
    actions, _ = model.predict(envs.reset(), deterministic=True)
    assert actions.shape == (envs.num_envs,)
    # What the section says happens without it: SB3's NatureCNN does not fit 28x28 images.
    with pytest.raises(RuntimeError, match="[Kk]ernel size"):
        PPO("MultiInputPolicy", envs)


@pytest.mark.slow
def test_rl_zoo3_recipe_trains_ppo_plastic_ppo_and_the_image_task(tmp_path):
    pytest.importorskip("rl_zoo3")
    blocks = section_blocks()
    (tmp_path / "train_plastic.py").write_text(next(b for lang, b in blocks if b.startswith("# train_plastic.py")))
    (tmp_path / "plastic.yml").write_text(next(b for lang, b in blocks if lang == "yaml"))
    command = next(b for lang, b in blocks if lang == "bash").split()
    assert command[:3] == ["python", "-m", "rl_zoo3.train"]
    env_id = command[command.index("--env") + 1]
    common = command[command.index("--gym-packages"):]  # --gym-packages plastic_gym --conf-file plastic.yml
    runs = {  # (algo, env id) -> command line
        ("ppo", env_id): [sys.executable, *command[1:]],
        ("plastic_ppo", "PlasticAssoc-v0"): [sys.executable, "train_plastic.py", "--algo", "plastic_ppo", "--env",
                                             "PlasticAssoc-v0", *common],
        ("ppo", "PlasticOneShot-v0"): [sys.executable, "train_plastic.py", "--algo", "ppo", "--env",
                                       "PlasticOneShot-v0", *common],
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for (algo, env_id), run in runs.items():
        out = subprocess.run([*run, "-n", "256", "--eval-freq", "-1", "-f", "logs"], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-3000:]
        assert (tmp_path / "logs" / algo / f"{env_id}_1" / f"{env_id}.zip").exists()
