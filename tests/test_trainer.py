"""Supervised meta-trainer: checkpoints, resume, errors, learning, CLI, CheckpointAgent, image model (issue 3)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plastic_gym import make_task  # noqa: E402
from plastic_gym.agents.agent import CheckpointAgent  # noqa: E402
from plastic_gym.agents.checkpoint import CheckpointError, load_checkpoint, load_model  # noqa: E402
from plastic_gym.agents.model import ModelConfig, build_model, outputs_to_actions, size_matched_hidden  # noqa: E402
from plastic_gym.agents.trainer import CHECKPOINT_NAME, TrainConfig, Trainer, predict, sequence_loss, train  # noqa: E402
from plastic_gym.cli import main  # noqa: E402

TINY = dict(hidden_dim=8, batch_size=8, val_episodes=16, val_every=2, device="cpu")


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    """Every test here runs torch on one thread (see conftest)."""


def tiny(rule: str = "hebbian", steps: int = 4, **kw) -> TrainConfig:
    return TrainConfig("PlasticAssoc-v0", rule=rule, steps=steps, **{**TINY, **kw})


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("rule", ["hebbian", "gradient", "none"])
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, rule):
    trainer = train(tiny(rule, steps=2), tmp_path, progress=False)
    model, task, ckpt = load_model(tmp_path / CHECKPOINT_NAME)
    episodes = task.sample(5, 123)
    assert np.array_equal(predict(model, episodes), predict(trainer.model, episodes))
    assert ckpt["step"] == 2 and ckpt["task"] == {"id": "PlasticAssoc-v0", "kwargs": task.kwargs}
    # plain content only: the file loads with weights_only=True
    raw = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert raw["format"] == "plastic-gym-checkpoint" and [r["step"] for r in raw["metrics"]] == [0, 2]


@pytest.mark.parametrize("rule", ["hebbian", "gradient"])
def test_resume_continues_bit_identically(tmp_path, rule):
    straight = train(tiny(rule, steps=4), tmp_path / "a", progress=False)
    train(tiny(rule, steps=2), tmp_path / "b", progress=False)
    resumed = train(tiny(rule, steps=4), tmp_path / "b", resume=tmp_path / "b" / CHECKPOINT_NAME, progress=False)
    assert resumed.step == straight.step == 4
    assert state_equal(straight.model.state_dict(), resumed.model.state_dict())
    opt_a, opt_b = straight.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    assert all(state_equal(opt_a[k], opt_b[k]) for k in opt_a)
    strip = lambda recs: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in recs]  # noqa: E731
    assert strip(straight.records) == strip(resumed.records)
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [0, 2, 4]


def test_resuming_a_finished_run_leaves_its_checkpoint_file_as_it_is(tmp_path):
    train(tiny(steps=2), tmp_path, progress=False)
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()
    again = train(tiny(steps=2), tmp_path, resume=tmp_path / CHECKPOINT_NAME, progress=False)
    assert again.step == 2 and (tmp_path / CHECKPOINT_NAME).read_bytes() == before
    longer = train(tiny(steps=4), tmp_path, resume=tmp_path / CHECKPOINT_NAME, progress=False)
    assert longer.step == 4 and load_checkpoint(tmp_path / CHECKPOINT_NAME)["step"] == 4


def test_refuses_to_overwrite_without_force(tmp_path):
    train(tiny(steps=1), tmp_path, progress=False)
    with pytest.raises(RuntimeError, match="refusing to overwrite"):
        Trainer(tiny(steps=1), tmp_path, progress=False)
    Trainer(tiny(steps=1), tmp_path, force=True, progress=False)


def test_corrupt_and_foreign_checkpoints_raise_clear_errors(tmp_path):
    train(tiny(steps=1), tmp_path, progress=False)
    good = (tmp_path / CHECKPOINT_NAME).read_bytes()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(bad)
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        CheckpointAgent.from_checkpoint(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(CheckpointError, match="not a plastic-gym checkpoint"):
        load_checkpoint(bad)
    data = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    torch.save({**data, "version": 99}, bad)
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(bad)


@pytest.mark.parametrize("change, field", [
    (dict(rule="gradient"), "model.rule"),
    (dict(hidden_dim=12), "model.hidden_dim"),
    (dict(task_kwargs={"n_cues": 3}), "task.kwargs"),
    (dict(loss="all"), "train.loss"),
    (dict(seed=1), "train.seed"),
])
def test_resume_from_mismatched_checkpoint_names_the_mismatch(tmp_path, change, field):
    train(tiny(steps=1), tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=field.replace(".", r"\.")):
        Trainer(tiny(steps=2, **change), tmp_path, resume=tmp_path / CHECKPOINT_NAME, progress=False)


def test_loss_decreases_on_a_tiny_problem():
    # Loss on every step: copying the reward shown at study steps is learnable within a few dozen steps.
    cfg = TrainConfig("PlasticAssoc-v0", rule="hebbian", steps=60, hidden_dim=16, batch_size=16, lr=1e-2, loss="all",
                      val_every=60, val_episodes=64, task_kwargs={"n_cues": 2, "stim_dim": 3, "trial_length": 6})
    trainer = train(cfg, progress=False)
    first, last = trainer.records[0], trainer.records[-1]
    assert last["step"] == 60
    assert last["val_loss"] < 0.7 * first["val_loss"]
    assert last["val"]["all_mse"] < 0.7 * first["val"]["all_mse"]


def test_sequence_loss_masks_and_classification():
    out = torch.tensor([[[1.0], [3.0]]])
    target = torch.zeros(1, 2, 1)
    task = make_task("PlasticAssoc-v0")
    assert sequence_loss(task, out, target, None).item() == pytest.approx(5.0)
    assert sequence_loss(task, out, target, torch.tensor([[False, True]])).item() == pytest.approx(9.0)

    class Cls:
        kind = "classification"

    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]])
    onehot = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    expected = torch.nn.functional.cross_entropy(logits[0], torch.tensor([0, 0]))
    assert sequence_loss(Cls, logits, onehot, None).item() == pytest.approx(expected.item())


def test_size_matching_is_explicit():
    base = dict(input="vector", input_dim=3, output_dim=1, hidden_dim=128)
    assert ModelConfig(**base, rule="none").effective_hidden_dim == 192
    assert ModelConfig(**base, rule="none", size_match=False).effective_hidden_dim == 128
    assert ModelConfig(**base, rule="hebbian").effective_hidden_dim == 128
    assert ModelConfig(**base, rule="none", cell="lstm").effective_hidden_dim == 192  # the paper matches LSTMs too
    assert ModelConfig(**base, rule="hebbian", cell="lstm").effective_hidden_dim == 128
    assert size_matched_hidden(64, "none") == 96 and size_matched_hidden(64, "gradient") == 64
    assert size_matched_hidden(64, "none", size_match=False) == 64
    task = make_task("PlasticAssoc-v0")
    for cell in ("rnn", "lstm"):  # the trainer's models are sized by the same rule
        assert build_model(task, cell, "none", hidden_dim=8).net.config.hidden_dim == 12
    with pytest.raises(ValueError, match="nonplastic_scale"):
        ModelConfig(**base, nonplastic_scale=0)


def test_configs_without_a_recorded_scale_keep_their_size():
    """A model config that does not record ``nonplastic_scale`` matched the RNN only: it is rebuilt at its size."""
    base = dict(input="vector", input_dim=3, output_dim=1, hidden_dim=128, rule="none")
    assert ModelConfig.from_dict({**base, "cell": "lstm"}).effective_hidden_dim == 128
    assert ModelConfig.from_dict({**base, "cell": "rnn"}).effective_hidden_dim == 192
    new = ModelConfig(**base, cell="lstm")
    assert ModelConfig.from_dict(new.to_dict()) == new


def test_checkpoint_without_a_recorded_scale_loads_at_its_recorded_size(tmp_path):
    """A non-plastic checkpoint written before ``nonplastic_scale`` was recorded loads as it was trained: an LSTM at
    its recorded hidden size (the size match was then RNN-only), a non-plastic RNN size-matched from it."""
    for cell, recorded in (("lstm", 12), ("rnn", 8)):
        out = tmp_path / cell
        train(tiny("none", steps=1, cell=cell), out, progress=False)
        data = torch.load(out / CHECKPOINT_NAME, weights_only=True)
        old = {k: v for k, v in data["model"].items() if k != "nonplastic_scale"}
        torch.save({**data, "model": {**old, "hidden_dim": recorded}}, out / "old.pt")
        model, _, ckpt = load_model(out / "old.pt")
        assert "nonplastic_scale" not in ckpt["model"] and model.net.config.hidden_dim == 12


@pytest.mark.parametrize("entry", ["lstm-s0", "lstm-s1", "rnn-s0", "rnn-s1"])
def test_committed_non_plastic_checkpoints_still_load(entry):
    """The committed entries load at the size they were trained at: 192 for both cells once the size match is
    recorded; before, the LSTM at its recorded 128 (the RNN-only match), the RNN at 192."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "baselines" / "checkpoints" / entry / "assoc.pt"
    if not path.exists():
        pytest.skip(f"{path} not in this checkout")
    model, task, ckpt = load_model(path)
    legacy = "nonplastic_scale" not in ckpt["model"]
    expected = 128 if legacy and entry.startswith("lstm") else 192
    assert model.net.config.hidden_dim == expected


def test_resume_of_a_checkpoint_without_a_recorded_scale(tmp_path):
    """The model config is compared as this version reads it: a non-plastic RNN run without the field resumes, an
    LSTM run sized by the RNN-only match is refused with the field named."""
    for cell, ok in (("rnn", True), ("lstm", False)):
        out = tmp_path / cell
        train(tiny("none", steps=1, cell=cell), out, progress=False)
        data = torch.load(out / CHECKPOINT_NAME, weights_only=True)
        old = {k: v for k, v in data["model"].items() if k != "nonplastic_scale"}
        torch.save({**data, "model": {**old, "hidden_dim": 8 if cell == "rnn" else 12}}, out / "old.pt")
        if ok:
            assert Trainer(tiny("none", steps=2, cell=cell), out, resume=out / "old.pt", progress=False).step == 1
        else:
            with pytest.raises(CheckpointError, match=r"model\.(hidden_dim|nonplastic_scale)"):
                Trainer(tiny("none", steps=2, cell=cell), out, resume=out / "old.pt", progress=False)


def test_weight_decay_default_is_the_papers_zero():
    assert TrainConfig("PlasticAssoc-v0").weight_decay == 0.0
    trainer = Trainer(tiny(weight_decay=0.05), progress=False)
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 0.05
    assert Trainer(tiny(), progress=False).optimizer.param_groups[0]["weight_decay"] == 0.0
    with pytest.raises(ValueError, match="weight_decay"):
        TrainConfig("PlasticAssoc-v0", weight_decay=-1.0)


def test_device_choice(monkeypatch):
    from plastic_gym.agents.trainer import resolve_device

    assert TrainConfig("PlasticAssoc-v0").device == "auto"
    with pytest.raises(ValueError, match="device"):
        TrainConfig("PlasticAssoc-v0", device="tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        resolve_device("cuda")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        Trainer(tiny(device="cuda:0"), progress=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")


def test_resume_may_change_the_device(tmp_path):
    """The device is not part of a run's identity: a checkpoint resumes under another device setting."""
    train(tiny(steps=2, device="cpu"), tmp_path, progress=False)
    data = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert data["train"]["device"] == "cpu" and data["summary"]["device"] == "cpu"
    torch.save({**data, "train": {**data["train"], "device": "cuda"}}, tmp_path / "other.pt")
    assert Trainer(tiny(steps=4), tmp_path, resume=tmp_path / "other.pt", progress=False).step == 2


def test_cli_train_smoke(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--task", "PlasticAssoc-v0", "--rule", "hebbian", "--cell", "rnn", "--steps", "5", "--out",
            str(out), "--hidden", "8", "--batch", "4", "--val-every", "5", "--val-episodes", "8", "--no-progress"]
    assert main(args) == 0
    for name in ("checkpoint.pt", "metrics.jsonl", "curve.png", "summary.json"):
        assert (out / name).is_file()
    assert json.loads((out / "summary.json").read_text())["step"] == 5
    assert main(args) == 2  # refuses to overwrite
    resume = [a if a != "5" else "7" for a in args] + ["--resume", str(out / "checkpoint.pt")]
    assert main(resume) == 0
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 7
    mismatch = [a if a != "hebbian" else "gradient" for a in resume]
    assert main(mismatch) == 2


def test_cli_train_paper_settings(tmp_path):
    """--weight-decay, --gradient-scale and --device reach the run's config (and its checkpoint)."""
    out = tmp_path / "run"
    args = ["train", "--task", "PlasticAssoc-v0", "--rule", "gradient", "--cell", "rnn", "--steps", "1", "--out",
            str(out), "--hidden", "8", "--batch", "4", "--val-every", "1", "--val-episodes", "8", "--no-progress",
            "--weight-decay", "0.02", "--gradient-scale", "paper", "--device", "cpu"]
    assert main(args) == 0
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["train"]["weight_decay"] == 0.02 and ckpt["train"]["device"] == "cpu"
    assert ckpt["model"]["plastic"] == {"gradient_scale": "paper"}
    model, _, _ = load_model(out / "checkpoint.pt")
    assert model.net.config.inner_loss_factor == 1 / 64
    assert main([*args[:-6], "--force", "--plastic", "gradient_scale=sample", "--gradient-scale", "paper"]) == 2
    assert main([*args[:-6], "--force", "--device", "gpu"]) == 2
    assert main([*args[:-6], "--force", "--rule", "hebbian", "--gradient-scale", "paper"]) == 2


def test_cli_module_does_not_import_torch_at_top():
    import ast
    import inspect

    import plastic_gym.agents.cli as cli

    top = [n for n in ast.parse(inspect.getsource(cli)).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name.split(".")[0] for n in top for a in n.names} | {getattr(n, "module", None) for n in top}
    assert "torch" not in names and ".trainer" not in names


@pytest.mark.parametrize("rule", ["hebbian", "gradient"])
def test_checkpoint_agent_matches_the_model_and_resets_at_episode_starts(tmp_path, rule):
    train(tiny(rule, steps=2), tmp_path, progress=False)
    agent = CheckpointAgent.from_checkpoint(tmp_path / CHECKPOINT_NAME)
    meta = agent.metadata
    assert meta["name"] == f"plastic-rnn-{rule}" and meta["parameters"] > 0 and meta["state_floats"] > 0
    assert meta["budget"] == "2 steps x batch 8" and meta["regime"] == "supervised-bptt" and not meta["privileged"]
    assert "PlasticAssoc-v0" in meta["description"]
    from plastic_gym.leaderboard.agents import load_agent

    factory = load_agent(f"checkpoint:{tmp_path / CHECKPOINT_NAME}")  # the leaderboard's loader accepts it
    assert factory.metadata.name == meta["name"] and factory.metadata.state_floats == meta["state_floats"]

    episodes = agent.task.sample(3, 7)
    expected = outputs_to_actions(agent.task, predict(agent.model, episodes))  # whole-sequence forward
    state = agent.reset(3)
    actions = []
    for t in range(episodes.length):
        a, state = agent.act(episodes.obs_at(t), state, np.full(3, t == 0))
        assert a.shape == (3, 1) and a.dtype == np.float32
        actions.append(a)
    np.testing.assert_allclose(np.stack(actions, 1), expected, atol=1e-5)

    # A second episode on a dirty state: episode_start zeroes it, so the actions repeat exactly; env 1 starts late.
    again = []
    start = np.array([True, False, True])
    for t in range(episodes.length):
        a, state = agent.act(episodes.obs_at(t), state, start if t == 0 else np.zeros(3, bool))
        again.append(a)
    again = np.stack(again, 1)
    np.testing.assert_allclose(again[[0, 2]], expected[[0, 2]], atol=1e-5)
    assert not np.allclose(again[1], expected[1], atol=1e-5)

    with pytest.raises(ValueError, match="bool"):
        agent.act(episodes.obs_at(0), state, np.zeros(3, int))
    with pytest.raises(ValueError, match="3 env"):
        agent.act(episodes.obs_at(0)[:2], state, np.zeros(2, bool))


def _oneshot():
    try:
        return make_task("PlasticOneShot-v0", n_way=3, n_query=2)
    except (ImportError, AttributeError) as err:  # the task module is not there yet
        pytest.skip(f"PlasticOneShot-v0 not importable: {err}")


def test_image_model_trains_and_acts(tmp_path):
    task = _oneshot()
    kwargs = {"n_way": 3, "n_query": 2}
    model = build_model(task, "rnn", "hebbian", hidden_dim=8, encoder_dim=16)
    episodes = task.sample(4, 0)
    out, _ = model(episodes.obs)
    assert out.shape == (4, task.episode_length, 3)

    cfg = TrainConfig("PlasticOneShot-v0", rule="hebbian", steps=2, hidden_dim=8, batch_size=4, val_episodes=4,
                      val_every=2, task_kwargs=kwargs)
    trainer = train(cfg, tmp_path, progress=False)
    assert set(trainer.records[-1]["val"]) == {"accuracy"}
    agent = CheckpointAgent.from_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert agent.model.encoder is not None
    expected = outputs_to_actions(task, predict(agent.model, episodes))
    state = agent.reset(4)
    for t in range(episodes.length):
        a, state = agent.act(episodes.obs_at(t), state, np.full(4, t == 0))
        assert a.shape == (4,) and a.dtype == np.int64
        np.testing.assert_array_equal(a, expected[:, t])


def test_entry_budget_states_the_weight_decay(tmp_path):
    """A baseline entry's budget line names settings that differ from the paper's defaults, once for the entry:
    nothing when every model was trained with weight decay 0 (the paper's), each value with its tasks when they
    differ (the first entries: 0.01, 0 for their one-shot models)."""
    import shutil
    from pathlib import Path

    from plastic_gym.baselines.recipes import load_recipe
    from plastic_gym.baselines.supervised import write_manifest

    entry = Path(__file__).resolve().parents[1] / "baselines" / "checkpoints" / "rnn-s0"
    if not entry.exists():
        pytest.skip(f"{entry} not in this checkout")
    folder = tmp_path / "rnn-s0"
    shutil.copytree(entry, folder)
    for path in folder.glob("*.pt"):
        data = torch.load(path, weights_only=True)
        torch.save({**data, "train": {**data["train"], "weight_decay": 0.0}}, path)
    budget = json.loads(write_manifest(load_recipe("rnn"), 0, folder).read_text())["metadata"]["budget"]
    assert "weight decay" not in budget
    for path in folder.glob("*.pt"):
        if path.stem != "oneshot":
            data = torch.load(path, weights_only=True)
            torch.save({**data, "train": {**data["train"], "weight_decay": 0.01}}, path)
    budget = json.loads(write_manifest(load_recipe("rnn"), 0, folder).read_text())["metadata"]["budget"]
    assert budget.endswith("; AdamW weight decay 0.01 (copy, copy-delay40, assoc, assoc-noise0.5, regression, "
                           "regression-mlp), 0 (oneshot)") and budget.count("weight decay") == 1


@pytest.mark.parametrize("field, bad", [("steps", -1), ("hidden_dim", True), ("batch_size", 0), ("lr", 0.0),
                                        ("lr", float("nan")), ("grad_clip", float("inf")), ("loss", "mse"),
                                        ("weight_decay", -1e-3)])
def test_train_config_refuses_bad_values_naming_the_field(field, bad):
    with pytest.raises(ValueError, match=f"^{field} must be"):
        TrainConfig("PlasticAssoc-v0", **{field: bad})


def test_train_config_defaults_and_unknown_fields():
    from plastic_gym.agents import defaults

    config = TrainConfig("PlasticAssoc-v0")
    assert (config.rule, config.cell, config.hidden_dim) == (defaults.RULE, defaults.CELL, defaults.HIDDEN_DIM)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match=r"unknown TrainConfig field\(s\) \['hiden_dim'\]"):
        TrainConfig.from_dict({"task_id": "PlasticAssoc-v0", "hiden_dim": 64})


def test_summary_names_the_state_size_state_floats():
    summary = Trainer(tiny(steps=0), progress=False).summary()
    assert summary["state_floats"] > 0 and "state_floats_per_env" not in summary


def test_plots_module_does_not_import_torch(tmp_path):
    """``agents/plots.py`` draws curves from plain records, so reading a run's metrics needs no torch."""
    import subprocess
    import sys

    code = ("import sys; from plastic_gym.agents.plots import plot_curves; "
            "recs = [{'step': 0, 'val': {'mse': 1.0}, 'train_loss': None}, {'step': 5, 'val': {'mse': 0.5}, "
            "'train_loss': 0.7}]; "
            f"plot_curves({{'run': recs}}, {str(tmp_path / 'c.png')!r}); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_curves_draw_a_spiking_training_loss_on_a_log_scale():
    """An early spike of the training loss (a factor of 10 above its lowest value) would flatten the rest of the
    curve on a linear axis; a loss within a factor of 10 stays linear, as do the validation panels."""
    from plastic_gym.agents.plots import curves_figure

    def records(losses):
        return [{"step": 100 * i, "val": {"mse": 0.5}, "train_loss": v} for i, v in enumerate(losses)]

    spiking = curves_figure({"run": records([None, 0.3, 6.7, 0.3, 0.15])}).axes
    calm = curves_figure({"run": records([None, 0.3, 0.2, 0.15])}).axes
    assert [ax.get_yscale() for ax in spiking] == ["linear", "log"]
    assert [ax.get_yscale() for ax in calm] == ["linear", "linear"]


def test_curves_give_a_recipe_one_color_and_a_seed_one_line_style():
    """Runs labelled "<recipe> s<seed>" (``baseline curves`` over seeds): a recipe's seeds share a color, each seed
    has its line style wherever it appears (s0 solid, s1 dashed); other labels get colors of their own, solid. Up to
    four runs each panel has a legend; with more, one legend beside the panels names every run once."""
    from plastic_gym.agents.plots import curves_figure

    recs = [{"step": 0, "val": {"mse": 0.5}, "train_loss": 0.6}, {"step": 100, "val": {"mse": 0.4}, "train_loss": 0.5}]
    labels = ["lstm s0", "lstm s1", "hebbian s1", "hebbian s0", "paper"]
    ax = curves_figure(dict.fromkeys(labels, recs), train_loss=False).axes[0]
    style = {line.get_label(): (line.get_color(), line.get_linestyle()) for line in ax.get_lines()}
    assert style == {"lstm s0": ("C0", "-"), "lstm s1": ("C0", "--"), "hebbian s1": ("C1", "--"),
                     "hebbian s0": ("C1", "-"), "paper": ("C2", "-")}
    many = curves_figure(dict.fromkeys(labels, recs))
    assert [ax.get_legend() for ax in many.axes] == [None, None]
    assert [t.get_text() for t in many.legends[0].get_texts()] == labels and len(many.legends) == 1
    few = curves_figure(dict.fromkeys(labels[:4], recs))
    assert not few.legends and [len(ax.get_legend().get_texts()) for ax in few.axes] == [4, 4]
