"""Encoder pretraining, meta-training on a frozen pretrained encoder, and the prototypical-network reference."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import OMNIGLOT_DIR as OMNIGLOT  # noqa: E402
from test_oneshot import needs_omniglot  # noqa: E402

import plastic_gym  # noqa: E402
from plastic_gym.agents.checkpoint import load_model  # noqa: E402
from plastic_gym.agents.encoder import Conv4Encoder  # noqa: E402
from plastic_gym.agents.pretrain import (  # noqa: E402
    PretrainConfig,
    evaluate_encoder,
    heldout_task,
    pretrain_encoder,
    prototype_logits,
)
from plastic_gym.agents.pretrain_data import OmniglotClasses  # noqa: E402
from plastic_gym.agents.prototype import PrototypeAgent  # noqa: E402
from plastic_gym.agents.trainer import TrainConfig, Trainer  # noqa: E402
from plastic_gym.leaderboard.agents import load_agent  # noqa: E402
from plastic_gym.leaderboard.protocol import TaskContext  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TINY = dict(steps=60, batch_size=64, n_classes=40, eval_every=60, eval_episodes=64)


def tiny_encoder(seed: int = 0) -> Conv4Encoder:
    torch.manual_seed(seed)
    return Conv4Encoder(1, 28, channels=8, out_dim=32)


def test_pretraining_separates_held_out_classes():
    """Measured on a tiny run: the mean pairwise cosine of the class features of test-split (never trained) glyph
    classes falls from the fresh encoder's near-1 plateau, and the nearest-class-mean accuracy rises."""
    summary = pretrain_encoder(tiny_encoder(), PretrainConfig(**TINY), progress=False)
    first, last = summary["records"][0]["val"], summary["records"][-1]["val"]
    assert first["cosine"] > 0.95  # the plateau the issue measured (0.999 for a fresh Conv-4)
    assert last["cosine"] < first["cosine"] - 0.3
    assert last["prototype_accuracy"] > first["prototype_accuracy"]
    assert summary["n_classes"] == 40 and summary["steps"] == 60


def test_features_are_rescaled_without_changing_prototype_decisions():
    config = dict(TINY, steps=10, eval_every=10, eval_episodes=16)
    raw = tiny_encoder()  # the head is drawn from torch's global generator: seed it the same for both runs
    pretrain_encoder(raw, PretrainConfig(**config, feature_rms=None), progress=False)
    scaled = tiny_encoder()
    summary = pretrain_encoder(scaled, PretrainConfig(**config, feature_rms=2.0), progress=False)
    task = heldout_task(PretrainConfig(), 28)
    ep = task.sample(16, np.random.default_rng([0, 3, 1]))  # the pretraining's held-out batch (seed 0)
    image = torch.as_tensor(ep.obs["image"].reshape(-1, 1, 28, 28))
    with torch.no_grad():
        f_raw, f_scaled = raw.eval()(image), scaled.eval()(image)
    assert float(f_scaled.pow(2).mean().sqrt()) == pytest.approx(2.0, rel=1e-5)
    torch.testing.assert_close(f_scaled, f_raw * summary["feature_scale"], rtol=1e-4, atol=1e-5)
    other = task.sample(32, 5)
    assert evaluate_encoder(raw, task, other) == pytest.approx(evaluate_encoder(scaled, task, other), abs=1e-6)


def test_pretraining_resumes_exactly(tmp_path):
    config = dict(TINY, steps=4, eval_every=2, eval_episodes=8)
    whole = tiny_encoder()
    pretrain_encoder(whole, PretrainConfig(**config), tmp_path / "whole", progress=False)
    parts = tiny_encoder()
    pretrain_encoder(parts, PretrainConfig(**dict(config, steps=2)), tmp_path / "parts", progress=False)
    resumed = tiny_encoder(seed=1)  # other initial weights: everything must come from pretrain.pt
    summary = pretrain_encoder(resumed, PretrainConfig(**config), tmp_path / "parts", progress=False)
    assert summary["steps"] == 4 and [r["step"] for r in summary["records"]] == [0, 2, 4]
    for key, value in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="other options.*n_classes"):
        pretrain_encoder(tiny_encoder(), PretrainConfig(**dict(config, n_classes=41)), tmp_path / "parts",
                         progress=False)
    # what acts after pretraining, or where the data lies, does not make another state: a finished one serves it
    after = dict(config, freeze=True, normalize=True, feature_rms=None, root=str(tmp_path / "elsewhere"))
    again = pretrain_encoder(tiny_encoder(seed=2), PretrainConfig(**after), tmp_path / "parts", progress=False)
    assert again["steps"] == 4 and again["records"] == summary["records"]


@pytest.mark.parametrize("bad, message", [
    ({"method": "simclr"}, "method must be one of"), ({"source": "mnist"}, "source must be one of"),
    ({"steps": -1}, "steps must be an int >= 0"), ({"n_classes": 1}, "n_classes must be an int >= 2"),
    ({"jitter": 1.5}, "0 <= jitter < 1"), ({"feature_rms": 0}, "feature_rms must be a number > 0 or None"),
    ({"normalize": 1}, "normalize must be a bool"), ({"episode_way": 1}, "episode_way must be an int >= 2"),
    ({"method": "prototypical", "batch_size": 60, "episode_way": 32}, "at least 2 drawings"),
    ({"colour": True}, r"PretrainConfig got unknown kwarg\(s\) \['colour'\]"),
])
def test_bad_pretrain_config(bad, message):
    with pytest.raises(ValueError, match=message):
        PretrainConfig.from_dict(bad)


def test_prototypical_pretraining_separates_held_out_classes():
    """The episodic objective (nearest class mean on episodes of training classes), measured on a tiny run like the
    classifier's: held-out class features separate and the prototype accuracy rises."""
    config = PretrainConfig(**TINY, method="prototypical", episode_way=16)
    summary = pretrain_encoder(tiny_encoder(), config, progress=False)
    first, last = summary["records"][0]["val"], summary["records"][-1]["val"]
    assert last["cosine"] < first["cosine"] - 0.1
    assert last["prototype_accuracy"] > first["prototype_accuracy"] + 0.1


def test_old_pretraining_state_resumes_with_the_new_options_at_their_defaults(tmp_path):
    """A pretraining state written before an option existed stands for that option's default."""
    config = dict(TINY, steps=2, eval_every=2, eval_episodes=8)
    pretrain_encoder(tiny_encoder(), PretrainConfig(**config), tmp_path, progress=False)
    state = torch.load(tmp_path / "pretrain.pt", weights_only=True)
    del state["config"]["episode_way"]
    torch.save(state, tmp_path / "pretrain.pt")
    assert pretrain_encoder(tiny_encoder(), PretrainConfig(**config), tmp_path, progress=False)["steps"] == 2
    with pytest.raises(RuntimeError, match="other options.*episode_way"):
        pretrain_encoder(tiny_encoder(), PretrainConfig(**config, episode_way=8), tmp_path, progress=False)


@needs_omniglot
def test_omniglot_episodes_hold_distinct_drawings_of_distinct_classes():
    source = OmniglotClasses(str(OMNIGLOT), 28, rotations=True)
    images = source.episode(np.random.default_rng(1), 8, 5)[:, 0].reshape(8, 5, 28, 28)
    flat = images.reshape(40, -1)
    assert len({f.tobytes() for f in flat}) == 40  # no drawing twice
    for cls in images:  # each group is one class: its drawings come from one character in one rotation
        hits = [(c, t) for c in range(source.data.n_characters) for t in range(4)
                if all(any(np.array_equal(np.rot90(img, -t), d) for d in source.data.images[c]) for img in cls)]
        assert len(hits) >= 1
    with pytest.raises(ValueError, match="at most 20 drawings per class"):
        source.episode(np.random.default_rng(1), 2, 21)
    with pytest.raises(ValueError, match="episode of 545 classes needs at least 545 training classes, got 544"):
        source.episode(np.random.default_rng(1), 545, 2)


@needs_omniglot
def test_omniglot_rotations_are_classes():
    source = OmniglotClasses(str(OMNIGLOT), 28, rotations=True)
    data = source.data
    assert source.n_classes == 4 * data.n_characters == 4 * 136
    images, labels = source.batch(np.random.default_rng(0), 200)
    assert set(labels // data.n_characters) == {0, 1, 2, 3}
    for image, label in zip(images[:, 0], labels, strict=True):
        char, turn = label % data.n_characters, label // data.n_characters
        upright = np.rot90(image, -turn)
        assert any(np.array_equal(upright, d) for d in data.images[char])


def test_prototype_logits_match_a_plain_loop():
    g = torch.Generator().manual_seed(0)
    support, query = torch.randn(3, 6, 4, generator=g), torch.randn(3, 2, 4, generator=g)
    labels = torch.tensor([[0, 1, 2, 0, 1, 2], [2, 2, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1]])
    logits = prototype_logits(support, labels, query, 4)
    for b in range(3):
        for k in range(4):
            members = support[b, labels[b] == k]
            for q in range(2):
                want = -((query[b, q] - members.mean(0)) ** 2).sum() if len(members) else -float("inf")
                torch.testing.assert_close(logits[b, q, k], torch.as_tensor(want))


def play(agent, episodes) -> np.ndarray:
    """Step ``agent`` through whole episodes (the leaderboard's protocol); actions ``[B, T]``."""
    B, T = episodes.scored.shape
    state, actions = agent.reset(B), []
    for t in range(T):
        act, state = agent.act(episodes.obs_at(t), state, np.full(B, t == 0))
        actions.append(act)
    return np.stack(actions, 1)


def test_prototype_agent_is_perfect_when_the_query_is_a_support_image():
    task = plastic_gym.make_task("PlasticOneShot-v0", n_way=5, n_shot=1, n_query=6)
    ep = task.sample(16, 0)
    S = task.support_length
    image, labels = ep.obs["image"].copy(), ep.extras["label"]
    # the query of label l shows the support drawing of label l (distance 0 to its class mean)
    first = np.argmax(labels[:, :S, None] == np.arange(5), axis=1)  # [B, 5]
    image[:, S:] = np.take_along_axis(image, np.take_along_axis(first, labels[:, S:], 1)[..., None, None, None], 1)
    ep = type(ep)({"image": image, "label": ep.obs["label"]}, ep.target, ep.scored, ep.phase, ep.keys, ep.extras)
    agent = PrototypeAgent(tiny_encoder().eval(), n_way=5)
    assert task.episode_metrics(play(agent, ep), ep)["accuracy"].tolist() == [1.0] * 16
    # ... and its per-step answers equal the batch form over whole episodes (one rule, two views)
    ep2 = task.sample(16, 1)
    feats = agent.encoder(torch.as_tensor(ep2.obs["image"].reshape(-1, 1, 28, 28))).reshape(16, task.episode_length, -1)
    lab = torch.as_tensor(ep2.extras["label"])
    batch = prototype_logits(feats[:, :S], lab[:, :S], feats[:, S:], 5).argmax(-1).numpy()
    np.testing.assert_array_equal(play(agent, ep2)[:, S:], batch)


def test_prototype_agent_resets_at_episode_start():
    task = plastic_gym.make_task("PlasticOneShot-v0")
    agent = PrototypeAgent(tiny_encoder().eval(), n_way=5)
    a, b = task.sample(4, 0), task.sample(4, 1)
    fresh = play(agent, b)
    state = agent.reset(4)
    for t in range(a.length):  # play a, then b in the same state: the episode start must clear a's sums
        _, state = agent.act(a.obs_at(t), state, np.full(4, t == 0))
    out = []
    for t in range(b.length):
        act, state = agent.act(b.obs_at(t), state, np.full(4, t == 0))
        out.append(act)
    np.testing.assert_array_equal(np.stack(out, 1), fresh)


def tiny_trainer(tmp_path, freeze: bool, steps: int = 2) -> Trainer:
    pre = dict(TINY, steps=3, eval_every=3, eval_episodes=8, freeze=freeze)
    config = TrainConfig("PlasticOneShot-v0", steps=steps, hidden_dim=16, batch_size=4, val_every=steps,
                         val_episodes=8, encoder_channels=8, pretrain=pre)
    return Trainer(config, tmp_path, progress=False)


def test_checkpoint_with_a_pretrained_frozen_encoder_round_trips(tmp_path):
    trainer = tiny_trainer(tmp_path, freeze=True)
    fresh = {k: v.clone() for k, v in trainer.model.encoder.state_dict().items()}
    trainer.run()
    raw = torch.load(tmp_path / "checkpoint.pt", map_location="cpu", weights_only=True)
    pretrained = torch.load(tmp_path / "pretrain.pt", map_location="cpu", weights_only=True)["encoder"]
    assert raw["train"]["pretrain"]["freeze"] is True and raw["pretrain"]["steps"] == 3
    assert set(raw["pretrain"]["records"][-1]["val"]) == {"cosine", "prototype_accuracy"}
    weight = "encoder.features.0.weight"
    assert not torch.equal(raw["state_dict"][weight], fresh["features.0.weight"])  # pretraining moved it
    scale = raw["pretrain"]["feature_scale"]  # the projection was rescaled after pretraining (feature_rms)
    for key, value in pretrained.items():  # frozen: meta-training left the pretrained encoder as it was
        want = value * scale if key.startswith("proj.") else value
        torch.testing.assert_close(raw["state_dict"][f"encoder.{key}"], want, rtol=1e-6, atol=0, msg=key)
    model, task, _ = load_model(tmp_path / "checkpoint.pt")
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    ep = task.sample(3, 0)
    torch.testing.assert_close(model(ep.obs)[0], trainer.model.eval()(ep.obs)[0])
    assert trainer.summary()["pretrain_elapsed_s"] >= 0
    # resuming keeps the encoder frozen
    resumed = Trainer(TrainConfig.from_dict(dict(trainer.config.to_dict(), steps=3)), tmp_path,
                      resume=tmp_path / "checkpoint.pt", progress=False)
    resumed.run()
    assert torch.equal(resumed.model.state_dict()[weight], raw["state_dict"][weight])


def test_normalized_features_lie_on_the_sphere_and_round_trip(tmp_path):
    """``normalize``: the same pretrained state (``pretrain.pt`` serves both), features sqrt(D) z / ||z|| of the
    raw projection z; the flag is in the model config, so a loaded checkpoint computes the same features, and a
    run of a version without the options (no ``normalize`` or task ``rotations`` key) still resumes."""
    raw = tiny_trainer(tmp_path / "raw", freeze=True)
    raw.run()
    pre = dict(TINY, steps=3, eval_every=3, eval_episodes=8, freeze=True, normalize=True, feature_rms=None)
    (tmp_path / "unit").mkdir()
    (tmp_path / "unit" / "pretrain.pt").write_bytes((tmp_path / "raw" / "pretrain.pt").read_bytes())
    config = TrainConfig("PlasticOneShot-v0", steps=2, hidden_dim=16, batch_size=4, val_every=2, val_episodes=8,
                         encoder_channels=8, pretrain=pre)
    unit = Trainer(config, tmp_path / "unit", progress=False)
    unit.run()
    image = torch.as_tensor(unit.task.sample(4, 3).obs["image"]).reshape(-1, 1, 28, 28)
    with torch.no_grad():
        z = raw.model.encoder.eval()(image) / raw.pretrain_summary["feature_scale"]  # the raw projection
        f = unit.model.encoder.eval()(image)
    radius = unit.model.encoder.out_dim**0.5
    torch.testing.assert_close(f.norm(dim=1), torch.full((len(f),), radius))
    torch.testing.assert_close(f, z * radius / z.norm(dim=1, keepdim=True), rtol=1e-5, atol=1e-6)
    model, _, ckpt = load_model(tmp_path / "unit" / "checkpoint.pt")
    assert ckpt["model"]["encoder"]["normalize"] is True and "normalize" not in raw.model.config.encoder
    with torch.no_grad():
        torch.testing.assert_close(model.encoder(image), f)
    old = torch.load(tmp_path / "raw" / "checkpoint.pt", map_location="cpu", weights_only=True)
    del old["train"]["pretrain"]["normalize"]  # as written before the options existed
    del old["task"]["kwargs"]["rotations"]
    torch.save(old, tmp_path / "raw" / "checkpoint.pt")
    Trainer(TrainConfig.from_dict(dict(raw.config.to_dict(), steps=3)), tmp_path / "raw",
            resume=tmp_path / "raw" / "checkpoint.pt", progress=False).run()


def test_fine_tuned_encoder_moves_and_frozen_flag_needs_pretraining(tmp_path):
    trainer = tiny_trainer(tmp_path, freeze=False)
    trainer.run()
    pretrained = torch.load(tmp_path / "pretrain.pt", map_location="cpu", weights_only=True)["encoder"]
    assert not torch.equal(trainer.model.encoder.state_dict()["features.0.weight"], pretrained["features.0.weight"])
    with pytest.raises(ValueError, match="only image tasks have an encoder"):
        Trainer(TrainConfig("PlasticAssoc-v0", steps=1, pretrain={}), None, progress=False)


def test_cli_flags(tmp_path, capsys):
    from plastic_gym.cli import main

    assert main(["train", "--task", "PlasticOneShot-v0", "--rule", "none", "--cell", "rnn", "--steps", "1",
                 "--out", str(tmp_path / "x"), "--freeze-encoder"]) == 2
    assert "--freeze-encoder needs --pretrain-encoder" in capsys.readouterr().err


def test_prototype_spec_plays_any_n_way(tmp_path):
    tiny_trainer(tmp_path, freeze=True).run()
    factory = load_agent(f"prototype:{tmp_path / 'checkpoint.pt'}")
    assert factory.metadata.name == "prototype-reference" and not factory.metadata.privileged
    assert "unranked" in factory.metadata.description and factory.metadata.reference  # an unranked row
    for n_way in (5, 20):
        task = plastic_gym.make_task("PlasticOneShot-v0", n_way=n_way, split="test")
        ctx = TaskContext("oneshot", "PlasticOneShot-v0", {}, task, task.observation_space, task.action_space, 4)
        agent = factory.for_task(ctx)
        assert isinstance(agent, PrototypeAgent) and agent.n_way == n_way
    assoc = plastic_gym.make_task("PlasticAssoc-v0")
    ctx = TaskContext("assoc", "PlasticAssoc-v0", {}, assoc, assoc.observation_space, assoc.action_space, 4)
    assert factory.for_task(ctx) is None


def test_evaluate_encoder_on_the_held_out_split():
    task = heldout_task(PretrainConfig(), 28)
    assert task.split == "test" and task.source == "glyphs"
    out = evaluate_encoder(tiny_encoder(), task, task.sample(8, 0))
    assert set(out) == {"cosine", "prototype_accuracy"} and 0 <= out["prototype_accuracy"] <= 1


def test_cli_pretraining_flags_reach_the_config():
    from plastic_gym.agents.cli import pretrain_options
    from plastic_gym.cli import build_parser

    args = build_parser().parse_args(["train", "--task", "PlasticOneShot-v0", "--rule", "gradient", "--cell", "rnn",
                                      "--steps", "1", "--out", "x", "--pretrain-encoder", "prototypical",
                                      "--pretrain-way", "16", "--pretrain-batch", "64", "--freeze-encoder"])
    config = PretrainConfig.from_dict(pretrain_options(args))
    assert (config.method, config.episode_way, config.batch_size, config.freeze) == ("prototypical", 16, 64, True)
