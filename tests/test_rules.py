"""The plasticity-rule registry (agents/rules) and the one default of each shared setting (agents/defaults.py).

The end-to-end test registers a rule defined here, as CONTRIBUTING.md's "Add a plasticity rule" shows: a rule is
one ``PlasticityRule`` subclass, and its step form, sequence form and literal reference agree without any change to
the network. Small sizes, float64.
"""

from __future__ import annotations

import itertools
import pathlib
import re
import subprocess
import sys

import pytest
import torch

from plastic_gym.agents import PlasticConfig, PlasticNetwork, ReferencePlasticNetwork, build_model, defaults, rules
from plastic_gym.agents.cell import sq_norm
from plastic_gym.agents.rules.base import PlasticityRule, joint_sq_norm

torch.set_num_threads(1)

B, T, D_IN, H, HX = 3, 8, 4, 5, 6
AGENTS = pathlib.Path(__file__).resolve().parents[1] / "agents"


def bounded(v: torch.Tensor) -> torch.Tensor:
    """v / (1 + ||v||^2) per sample: the post of an Oja-style rule whose updates stay bounded."""
    return v / (1.0 + sq_norm(v)).unsqueeze(-1)


class NormalisedHebbian(PlasticityRule):
    """G = pre ⊗ post / (1 + ||post||^2), hh and ih sharing the recurrent post (CONTRIBUTING.md's example)."""

    name = "normalised_hebbian"

    def factors(self, net, cache, linear_transposed, prepared):
        recurrent = bounded(cache.post)
        return {
            "input": (cache.u, bounded(cache.x)),
            "hh": (cache.h_prev, recurrent),
            "ih": (cache.x, recurrent),
            "output": (cache.h, bounded(cache.o)),
        }


class SeparatePostsWithBias(NormalisedHebbian):
    """The same with a plastic bias (G_b = post) and a separate post tensor per recurrent linear, so the sequence
    form runs hh and ih as two history products and carries plastic biases."""

    name = "separate_posts_with_bias"
    plastic_bias = True

    def factors(self, net, cache, linear_transposed, prepared):
        return {**super().factors(net, cache, linear_transposed, prepared), "ih": (cache.x, bounded(cache.post))}


@pytest.fixture
def registered():
    """Registers the two test rules for one test."""
    added = [NormalisedHebbian(), SeparatePostsWithBias()]
    for rule in added:
        rules.register_rule(rule)
    yield added
    for rule in added:
        rules.unregister_rule(rule.name)


def make_pair(rule: str, output_dim: int, chunk_size: int, cell: str = "rnn", seed: int = 0):
    cfg = PlasticConfig(input_dim=D_IN, output_dim=output_dim, hidden_dim=H, input_hidden_dim=HX, cell=cell, rule=rule)
    torch.manual_seed(seed)
    fast = PlasticNetwork(cfg, chunk_size=chunk_size).double()
    ref = ReferencePlasticNetwork(cfg).double()
    ref.load_state_dict(fast.state_dict())
    return fast, ref


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).norm() / max(float(b.detach().norm()), 1e-12))


def loss_of(out: torch.Tensor, state) -> torch.Tensor:
    """Depends on the outputs and every part of the final state."""
    return (out - 0.3).square().sum() + sum((i + 1) * 0.1 * v.square().sum()
                                            for i, v in enumerate(state.to_tensors().values()))


def parameter_grads(net, loss: torch.Tensor) -> list[torch.Tensor]:
    """d loss / d parameter for every parameter (zeros for one the loss does not use)."""
    params = list(net.parameters())
    return [torch.zeros_like(p) if g is None else g
            for p, g in zip(params, torch.autograd.grad(loss, params, allow_unused=True), strict=True)]


def run_steps(net, x, state):
    outs = []
    for t in range(x.shape[1]):
        o, state = net.step(x[:, t], state)
        outs.append(o)
    return torch.stack(outs, 1), state


# ---- a rule registered here works end to end ------------------------------------------------------------------------
@pytest.mark.parametrize("rule,cell", list(itertools.product(["normalised_hebbian", "separate_posts_with_bias"],
                                                             ["rnn", "lstm"])))
@pytest.mark.parametrize("output_dim", [2, 14], ids=["dense-output", "history-output"])
@pytest.mark.parametrize("chunk_size", [1, 3, 100])
def test_registered_rule_step_equals_sequence_equals_reference(registered, rule, cell, output_dim, chunk_size):
    """Outputs, final states and the gradients of every parameter agree across the three forms, from an episode
    start and from a mid-episode state."""
    fast, ref = make_pair(rule, output_dim, chunk_size, cell)
    assert fast.rule is registered[0] or fast.rule is registered[1]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, D_IN, generator=g, dtype=torch.float64) * 2.0
    with torch.no_grad():
        _, warm = ref(torch.randn(B, 4, D_IN, generator=g, dtype=torch.float64))
    for start in (None, warm):
        runs = {"sequence": fast(x, start),
                "step": run_steps(fast, x, fast.initial_state(B, dtype=torch.float64) if start is None else start),
                "reference": ref(x, start)}
        grads = {name: parameter_grads(ref if name == "reference" else fast, loss_of(*run))
                 for name, run in runs.items()}
        for name in ("step", "reference"):
            assert rel_err(runs["sequence"][0], runs[name][0]) < 1e-10, name
            flat, other = runs["sequence"][1].to_tensors(), runs[name][1].to_tensors()
            assert list(flat) == list(other)
            for key in flat:
                assert rel_err(flat[key], other[key]) < 1e-10, (name, key)
            for a, b in zip(grads["sequence"], grads[name], strict=True):
                assert rel_err(a, b) < 1e-9, name
        assert runs["sequence"][1].F["hh"].abs().sum() > 0  # the rule really changed the weights
        assert (runs["sequence"][1].f["hh"].abs().sum() > 0) == fast.rule.plastic_bias


def test_registered_rule_reaches_config_and_cli(registered):
    assert rules.RULES[-2:] == ("normalised_hebbian", "separate_posts_with_bias")
    assert PlasticConfig(input_dim=2, output_dim=1, rule="normalised_hebbian").plastic
    with pytest.raises(ValueError, match="gradient_scale"):  # no inner loss, so no scale of one
        PlasticConfig(input_dim=2, output_dim=1, rule="normalised_hebbian", gradient_scale="paper")
    from plastic_gym.cli import build_parser

    args = build_parser().parse_args(["train", "--task", "PlasticAssoc-v0", "--rule", "normalised_hebbian",
                                      "--cell", "rnn", "--steps", "1", "--out", "unused"])
    assert args.rule == "normalised_hebbian"


def test_cli_rule_choices_are_the_registry(capsys):
    from plastic_gym.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--task", "PlasticAssoc-v0", "--rule", "oja", "--cell", "rnn",
                                   "--steps", "1", "--out", "unused"])
    assert "choose from 'hebbian', 'gradient', 'none'" in capsys.readouterr().err


# ---- the registry ---------------------------------------------------------------------------------------------------
def test_builtin_rules():
    assert rules.RULES == ("hebbian", "gradient", "none")
    hebbian, gradient, none = (rules.get_rule(n) for n in rules.RULES)
    assert [r.name for r in (hebbian, gradient, none)] == list(rules.RULES)
    assert (hebbian.plastic, hebbian.plastic_bias, hebbian.inner_loss) == (True, False, False)
    assert (gradient.plastic, gradient.plastic_bias, gradient.inner_loss) == (True, True, True)
    assert not none.plastic
    assert rules.get_rule("hebbian") is hebbian  # one object per name


def test_registry_errors(registered):
    with pytest.raises(ValueError, match=r"unknown plasticity rule 'oja'.*'hebbian', 'gradient', 'none'"):
        rules.get_rule("oja")
    with pytest.raises(ValueError, match="rule"):
        PlasticConfig(input_dim=2, output_dim=1, rule="oja")
    with pytest.raises(ValueError, match="already registered"):
        rules.register_rule(NormalisedHebbian())
    rules.register_rule(NormalisedHebbian(), replace=True)
    assert rules.RULES.count("normalised_hebbian") == 1
    with pytest.raises(ValueError, match="built in"):
        rules.register_rule(type("Fake", (NormalisedHebbian,), {"name": "hebbian"})())
    with pytest.raises(ValueError, match="built in"):
        rules.unregister_rule("gradient")
    with pytest.raises(ValueError, match="identifier"):
        rules.register_rule(type("Bad", (NormalisedHebbian,), {"name": "no spaces"})())
    with pytest.raises(ValueError, match="PlasticityRule instance"):
        rules.register_rule(NormalisedHebbian)
    with pytest.raises(ValueError, match="not registered"):
        rules.unregister_rule("oja")


def test_registry_and_config_import_no_torch():
    code = ("import sys; import plastic_gym.agents.rules as r, plastic_gym.agents.config, plastic_gym.agents.defaults;"
            "r.RULES; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("rule,cell", list(itertools.product(["hebbian", "gradient"], ["rnn", "lstm"])))
def test_joint_norm_is_the_norm_of_the_explicit_updates(rule, cell):
    """||G||^2 from the factors (shared posts summed first) == the sum of squares of every explicit G_W and G_b."""
    fast, _ = make_pair(rule, 2, 3, cell)
    x = torch.randn(B, 1, D_IN, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    captured = {}
    original = fast._plasticity

    def spy(cache, linear_transposed, prepared):
        captured["factors"] = fast.rule.factors(fast, cache, linear_transposed, prepared)
        return original(cache, linear_transposed, prepared)

    fast._plasticity = spy
    fast.step(x[:, 0], fast.initial_state(B, dtype=torch.float64))
    factors = captured["factors"]
    explicit = sum((pre.unsqueeze(2) * post.unsqueeze(1)).square().sum((1, 2))
                   + (post.square().sum(1) if fast.rule.plastic_bias else 0.0) for pre, post in factors.values())
    assert rel_err(joint_sq_norm(factors, fast.rule.plastic_bias), explicit) < 1e-12


def test_network_modules_name_no_rule():
    """The networks read everything rule-specific from the rule object: no rule name appears in their code."""
    for name in ("network.py", "sequence.py", "reference.py", "plastic_linear.py", "cell.py", "chunk_start.py"):
        text = (AGENTS / name).read_text()
        for rule in ("hebbian", "gradient"):
            assert f'"{rule}"' not in text and f"'{rule}'" not in text, (name, rule)
        assert not re.search(r"rule\s*(==|!=|\bin\b)", text), name


# ---- one default per setting ----------------------------------------------------------------------------------------
def test_one_default_per_setting():
    from plastic_gym.agents import ModelConfig, TrainConfig
    from plastic_gym.cli import build_parser

    assert (defaults.RULE, defaults.HIDDEN_DIM, defaults.CELL) == ("hebbian", 128, "rnn")
    cfg = PlasticConfig(input_dim=2, output_dim=1)
    assert (cfg.rule, cfg.hidden_dim, cfg.cell) == (defaults.RULE, defaults.HIDDEN_DIM, defaults.CELL)
    model = ModelConfig("vector", 2, 1)
    assert (model.rule, model.hidden_dim, model.cell) == (defaults.RULE, defaults.HIDDEN_DIM, defaults.CELL)
    train = TrainConfig("PlasticAssoc-v0")
    assert (train.rule, train.hidden_dim, train.cell) == (defaults.RULE, defaults.HIDDEN_DIM, defaults.CELL)
    import plastic_gym

    built = build_model(plastic_gym.make_task("PlasticAssoc-v0")).config
    assert (built.rule, built.hidden_dim, built.cell) == (defaults.RULE, defaults.HIDDEN_DIM, defaults.CELL)
    args = build_parser().parse_args(["train", "--task", "PlasticAssoc-v0", "--rule", "none", "--cell", "rnn",
                                      "--steps", "1", "--out", "unused"])
    assert args.hidden == defaults.HIDDEN_DIM
