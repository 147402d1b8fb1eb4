"""``sequence.forward_from_partial_start``: a batch whose first rows start from a state and the rest from an episode
start runs as one call of the sequence form, equal (outputs, final state and gradients) to the plain call with the
state padded by zero rows; ``ppo_windows.forward_windows`` cuts that call where windows end, with the same outputs and
gradients on the real steps."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plastic_gym.agents import PlasticConfig, PlasticNetwork  # noqa: E402
from plastic_gym.agents.sequence import forward_from_partial_start  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    """Every test here runs torch on one thread (see conftest)."""


def a_state(net: PlasticNetwork, rows: int, steps: int = 5):
    """A nonzero state of ``rows`` rows: ``steps`` steps of the network from an episode start."""
    with torch.no_grad():
        _, state = net(torch.randn(rows, steps, net.config.input_dim))
    return state.map(lambda t: t.detach().clone())


@pytest.mark.parametrize("rule,cell,output_dim,steps", [("hebbian", "rnn", 24, 40), ("gradient", "rnn", 24, 40),
                                                         ("gradient", "lstm", 6, 30), ("hebbian", "rnn", 6, 12)])
def test_partial_start_equals_the_zero_padded_state(rule, cell, output_dim, steps):
    torch.manual_seed(0)
    net = PlasticNetwork(PlasticConfig(input_dim=5, output_dim=output_dim, hidden_dim=12, rule=rule, cell=cell))
    start = a_state(net, 3)
    x = torch.randn(7, steps, 5)
    padded = start.map(lambda t: torch.cat([t, t.new_zeros(4, *t.shape[1:])]))

    def run(fn):
        net.zero_grad()
        out, state = fn()
        (out.square().sum() + sum(v.square().sum() for v in state.F.values())).backward()
        grads = {k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None}
        return out.detach(), state.to_tensors(), grads

    out, state, grads = run(lambda: forward_from_partial_start(net, x, start))
    ref_out, ref_state, ref_grads = run(lambda: net(x, padded))
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    for k in ref_state:
        torch.testing.assert_close(state[k].detach(), ref_state[k].detach(), rtol=1e-5, atol=1e-6, msg=k)
    assert sorted(grads) == sorted(ref_grads)
    for k in ref_grads:
        torch.testing.assert_close(grads[k], ref_grads[k], rtol=1e-5, atol=1e-6, msg=k)


def test_partial_start_of_every_row_is_the_plain_call():
    torch.manual_seed(1)
    net = PlasticNetwork(PlasticConfig(input_dim=4, output_dim=8, hidden_dim=8, rule="hebbian"))
    start, x = a_state(net, 3), torch.randn(3, 9, 4)
    torch.testing.assert_close(forward_from_partial_start(net, x, start)[0], net(x, start)[0], rtol=0, atol=0)


@pytest.mark.parametrize("options", [{"rule": "none"}, {"rule": "hebbian", "weight_clip": 0.5}])
def test_networks_outside_the_sequence_form_get_the_padded_state(options):
    torch.manual_seed(2)
    net = PlasticNetwork(PlasticConfig(input_dim=4, output_dim=8, hidden_dim=8, **options))
    start, x = a_state(net, 2), torch.randn(5, 6, 4)
    padded = start.map(lambda t: torch.cat([t, t.new_zeros(3, *t.shape[1:])]))
    torch.testing.assert_close(forward_from_partial_start(net, x, start)[0], net(x, padded)[0])


def test_a_state_with_more_rows_than_the_batch_is_refused():
    net = PlasticNetwork(PlasticConfig(input_dim=4, output_dim=8, hidden_dim=8, rule="hebbian"))
    with pytest.raises(ValueError, match="batch size"):
        forward_from_partial_start(net, torch.randn(2, 6, 4), a_state(net, 3))


@pytest.mark.parametrize("rule", ["hebbian", "gradient"])
def test_forward_windows_cut_where_windows_end_equals_one_uncut_call(rule):
    """Windows that end early are dropped at cuts (here at steps 2, 4 and 12); the real steps' outputs and the
    gradients equal those of one call over the whole length."""
    from plastic_gym.agents.ppo_windows import forward_windows

    torch.manual_seed(3)
    net = PlasticNetwork(PlasticConfig(input_dim=5, output_dim=24, hidden_dim=12, rule=rule))
    lengths = np.array([30, 4, 12, 30, 2, 25, 30])
    start, x = a_state(net, 3), torch.randn(7, 30, 5)
    mask = torch.as_tensor(np.arange(30)[None, :] < lengths[:, None], dtype=torch.float32)[:, :, None]

    def run(fn):
        net.zero_grad()
        out = fn() * mask
        out.square().sum().backward()
        return out.detach(), {k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None}

    out, grads = run(lambda: forward_windows(net, x, lengths, start))
    ref_out, ref_grads = run(lambda: forward_from_partial_start(net, x, start)[0])
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    assert sorted(grads) == sorted(ref_grads)
    for k in ref_grads:
        torch.testing.assert_close(grads[k], ref_grads[k], rtol=1e-5, atol=1e-6, msg=k)
    no_start, _ = run(lambda: forward_windows(net, x, lengths))
    torch.testing.assert_close(no_start, run(lambda: net(x)[0])[0], rtol=1e-5, atol=1e-6)
