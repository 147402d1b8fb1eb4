"""Plastic networks (SPEC section 4): fast form == literal reference, step form == sequence form, per-sample
plasticity, NaN-free clipping, config validation and state operations. Small sizes, float64."""

from __future__ import annotations

import copy
import io
import itertools
import pickle

import numpy as np
import pytest
import torch

from plastic_gym.agents import LazyWeights, PlasticConfig, PlasticNetwork, PlasticState, ReferencePlasticNetwork

torch.set_num_threads(1)

CELLS = ["rnn", "lstm"]
RULES = ["hebbian", "gradient", "none"]
B, T, D_IN, D_OUT, H, HX = 3, 7, 4, 2, 5, 6


def make_pair(seed: int = 0, chunk_size: int = 3, **kw) -> tuple[PlasticNetwork, ReferencePlasticNetwork]:
    cfg_kw = dict(input_dim=D_IN, output_dim=D_OUT, hidden_dim=H, input_hidden_dim=HX)
    cfg_kw.update(kw)
    cfg = PlasticConfig(**cfg_kw)
    torch.manual_seed(seed)
    fast = PlasticNetwork(cfg, chunk_size=chunk_size).double()
    ref = ReferencePlasticNetwork(cfg).double()
    ref.load_state_dict(fast.state_dict())
    return fast, ref


def inputs(seed: int = 1, batch: int = B, steps: int = T) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, steps, D_IN, generator=g, dtype=torch.float64)


def outer_loss(out: torch.Tensor, state: PlasticState) -> torch.Tensor:
    """A loss that depends on the outputs and on every part of the final state."""
    loss = (out - 0.3).square().sum()
    for i, v in enumerate(state.to_tensors().values()):
        loss = loss + (i + 1) * 0.1 * v.square().sum()
    return loss


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / max(float(b.norm()), 1e-12))


def assert_rel_close(a: torch.Tensor, b: torch.Tensor, what: str, tol: float = 1e-5) -> None:
    assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
    err = rel_err(a, b)
    assert err <= tol, f"{what}: relative error {err:.2e} > {tol}"


def assert_states_close(s1: PlasticState, s2: PlasticState, tol: float = 1e-5) -> None:
    t1, t2 = s1.to_tensors(), s2.to_tensors()
    assert list(t1) == list(t2)
    for k in t1:
        assert_rel_close(t1[k], t2[k], f"state {k}", tol)


def grads(net: torch.nn.Module, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    names, params = zip(*net.named_parameters(), strict=True)
    gs = torch.autograd.grad(loss, params, allow_unused=True)
    return {n: (torch.zeros_like(p) if g is None else g) for n, p, g in zip(names, params, gs, strict=True)}


def warm_state(ref: ReferencePlasticNetwork, seed: int = 5) -> PlasticState:
    """A mid-episode state (nonzero F, h, c) to start from."""
    with torch.no_grad():
        _, s = ref(inputs(seed, steps=4))
    return s


# ---- fast == reference ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,rule,modulation", list(itertools.product(CELLS, RULES, [True, False])))
@pytest.mark.parametrize("start", ["zero", "warm", "chained"])
@pytest.mark.parametrize("output_dim", [D_OUT, 14], ids=["dense-output", "history-output"])
def test_fast_matches_reference(cell, rule, modulation, start, output_dim):
    """Outputs, final state and gradients of every parameter; "chained" continues a differentiable state from a
    first call, so the outer gradient also flows through the incoming F. A narrow output layer keeps its F
    materialised in the sequence form, a wide one (14 + 4 extra (+ 1) columns) uses the history like the others."""
    fast, ref = make_pair(cell=cell, rule=rule, modulation=modulation, output_dim=output_dim)
    assert fast._dense_layers() == (("output",) if output_dim == D_OUT else ())
    assert list(fast.state_dict()) == list(ref.state_dict())
    x = inputs()
    if start == "chained":
        x0 = inputs(seed=7, steps=4)
        _, st0_f = fast(x0)
        _, st0_r = ref(x0)
    else:
        st0_f = st0_r = None if start == "zero" else warm_state(ref)
    out_f, st_f = fast(x, st0_f)
    out_r, st_r = ref(x, st0_r)
    assert out_f.shape == (B, T, output_dim)
    assert_rel_close(out_f, out_r, "outputs")
    assert_states_close(st_f, st_r)
    g_f, g_r = grads(fast, outer_loss(out_f, st_f)), grads(ref, outer_loss(out_r, st_r))
    for name in g_r:
        assert_rel_close(g_f[name], g_r[name], f"grad {name}")
        assert torch.isfinite(g_f[name]).all()
    # the main parameters really receive gradient
    assert g_f["layers.hh.weight"].abs().sum() > 0
    if rule != "none":
        assert g_f["layers.hh.alpha_weight"].abs().sum() > 0
    if rule == "gradient":
        assert g_f["omega"].abs().sum() > 0


@pytest.mark.parametrize("alpha", ["uniform", "neg_uniform", "none"])
@pytest.mark.parametrize("rule", ["hebbian", "gradient"])
def test_alpha_modes_match_reference(alpha, rule):
    fast, ref = make_pair(rule=rule, alpha=alpha, inner_grad_clip=None, p_lr=0.3)
    names = dict(fast.named_parameters())
    assert ("layers.hh.alpha_weight" in names) == (alpha != "none")
    if alpha == "neg_uniform":
        assert (names["layers.hh.alpha_weight"] == -1).all()
    x = inputs()
    out_f, st_f = fast(x)
    out_r, st_r = ref(x)
    assert_rel_close(out_f, out_r, "outputs")
    assert_states_close(st_f, st_r)
    g_f, g_r = grads(fast, outer_loss(out_f, st_f)), grads(ref, outer_loss(out_r, st_r))
    for name in g_r:
        assert_rel_close(g_f[name], g_r[name], f"grad {name}")


@pytest.mark.parametrize("rule", ["hebbian", "gradient"])
def test_weight_clip_matches_reference(rule):
    fast, ref = make_pair(rule=rule, weight_clip=0.02, p_lr=0.5, inner_grad_clip=None)
    x = inputs()
    out_f, st_f = fast(x)
    out_r, st_r = ref(x)
    assert_rel_close(out_f, out_r, "outputs")
    assert_states_close(st_f, st_r)
    assert max(float(v.detach().abs().max()) for v in st_f.F.values()) <= 0.02 + 1e-12
    g_f, g_r = grads(fast, outer_loss(out_f, st_f)), grads(ref, outer_loss(out_r, st_r))
    for name in g_r:
        assert_rel_close(g_f[name], g_r[name], f"grad {name}")


# ---- the paper's inner-loss scale (gradient rule) -------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("start", ["zero", "chained"])
@pytest.mark.parametrize("output_dim", [D_OUT, 14], ids=["dense-output", "history-output"])
def test_paper_gradient_scale_matches_reference(cell, start, output_dim):
    """gradient_scale="paper" (L_int / 64): fast sequence form == literal reference (outputs, states, gradients)."""
    fast, ref = make_pair(cell=cell, rule="gradient", gradient_scale="paper", output_dim=output_dim)
    x = inputs() * 3.0
    st0_f = st0_r = None
    if start == "chained":
        x0 = inputs(seed=7, steps=4)
        _, st0_f = fast(x0)
        _, st0_r = ref(x0)
    out_f, st_f = fast(x, st0_f)
    out_r, st_r = ref(x, st0_r)
    assert_rel_close(out_f, out_r, "outputs")
    assert_states_close(st_f, st_r)
    g_f, g_r = grads(fast, outer_loss(out_f, st_f)), grads(ref, outer_loss(out_r, st_r))
    for name in g_r:
        assert_rel_close(g_f[name], g_r[name], f"grad {name}")
    assert g_f["omega"].abs().sum() > 0


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("kind", ["fast", "step", "reference"])
def test_paper_gradient_scale_is_g_over_64(cell, kind):
    """Closed form: without the clip, G / 64 with p_lr is the same function as G with p_lr / 64 (lam unchanged), in
    every form; the per-sample default differs from it."""
    x = inputs() * 2.0
    runs = {}
    for name, kw in {"paper": dict(gradient_scale="paper", p_lr=0.3), "sample": dict(p_lr=0.3 / 64),
                     "default": dict(p_lr=0.3)}.items():
        fast, ref = make_pair(cell=cell, rule="gradient", inner_grad_clip=None, **kw)
        if kind == "step":
            st, outs = fast.initial_state(B, dtype=torch.float64), []
            for t in range(T):
                o, st = fast.step(x[:, t], st)
                outs.append(o)
            out = torch.stack(outs, 1)
        else:
            out, st = (fast if kind == "fast" else ref)(x)
        runs[name] = (out, st, grads(fast if kind != "reference" else ref, outer_loss(out, st)))
    (o_p, s_p, g_p), (o_s, s_s, g_s) = runs["paper"], runs["sample"]
    assert_rel_close(o_p, o_s, "outputs", 1e-10)
    assert_states_close(s_p, s_s, 1e-10)
    for name in g_p:
        assert_rel_close(g_p[name], g_s[name], f"grad {name}", 1e-9)
    assert rel_err(runs["default"][1].F["hh"], s_p.F["hh"]) > 1e-2


def test_paper_gradient_scale_independent_of_batch_size():
    fast, _ = make_pair(rule="gradient", gradient_scale="paper")
    x = inputs(batch=5) * 3.0
    out_all, st_all = fast(x)
    for i in (0, 4):
        out_i, st_i = fast(x[i : i + 1])
        assert_rel_close(out_i, out_all[i : i + 1], f"sample {i} output", 1e-10)
        assert_states_close(st_i, st_all[i], 1e-10)


# ---- sequence form == step form ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,rule", list(itertools.product(CELLS, ["hebbian", "gradient"])))
@pytest.mark.parametrize("chunk_size", [1, 3, 100])
def test_parallel_form_equals_step_form(cell, rule, chunk_size):
    fast, ref = make_pair(cell=cell, rule=rule, chunk_size=chunk_size)
    state0 = warm_state(ref)
    x = inputs(steps=8)
    out_p, st_p = fast(x, state0)
    st = state0
    outs = []
    for t in range(x.shape[1]):
        o, st = fast.step(x[:, t], st)
        assert o.shape == (B, D_OUT)
        outs.append(o)
    out_s = torch.stack(outs, 1)
    assert_rel_close(out_p, out_s, "outputs", 1e-10)
    assert_states_close(st_p, st, 1e-10)
    g_p, g_s = grads(fast, outer_loss(out_p, st_p)), grads(fast, outer_loss(out_s, st))
    for name in g_p:
        assert_rel_close(g_p[name], g_s[name], f"grad {name}", 1e-9)
    # splitting a sequence into two calls continues the same episode
    o1, s1 = fast(x[:, :5], state0)
    o2, s2 = fast(x[:, 5:], s1)
    assert_rel_close(torch.cat([o1, o2], 1), out_p, "split outputs", 1e-10)
    assert_states_close(s2, st_p, 1e-10)


# ---- per-sample plasticity -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,rule", list(itertools.product(CELLS, ["hebbian", "gradient"])))
@pytest.mark.parametrize("kind", ["fast", "reference"])
def test_results_independent_of_batch_size(cell, rule, kind):
    fast, ref = make_pair(cell=cell, rule=rule)
    net = fast if kind == "fast" else ref
    x = inputs(batch=5) * 3.0  # large inputs: the inner-gradient clip is active
    out_all, st_all = net(x)
    for i in range(5):
        out_i, st_i = net(x[i : i + 1])
        assert_rel_close(out_i, out_all[i : i + 1], f"sample {i} output", 1e-10)
        assert_states_close(st_i, st_all[i], 1e-10)
    out_2, _ = net(x[:2])
    assert_rel_close(out_2, out_all[:2], "first two samples", 1e-10)


# ---- NaN-free clipping ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,rule", list(itertools.product(CELLS, ["hebbian", "gradient"])))
def test_zero_activity_is_nan_free(cell, rule):
    fast, ref = make_pair(cell=cell, rule=rule)
    for net in (fast, ref):
        with torch.no_grad():
            for p in net.parameters():
                if p is not getattr(net, "omega", None):
                    p.zero_()
        x = torch.zeros(B, T, D_IN, dtype=torch.float64)
        out, st = net(x)
        loss = outer_loss(out, st)
        g = grads(net, loss)
        assert torch.isfinite(out).all()
        assert all(torch.isfinite(v).all() for v in st.to_tensors().values())
        not_finite = {k: v for k, v in g.items() if not torch.isfinite(v).all()}
        assert not not_finite, not_finite


def test_reference_gradient_rule_under_no_grad():
    fast, ref = make_pair(rule="gradient")
    x = inputs()
    out, st = ref(x)
    with torch.no_grad():
        out_ng, st_ng = ref(x)
        out_fng, _ = fast(x)
    assert not out_ng.requires_grad and not any(v.requires_grad for v in st_ng.to_tensors().values())
    assert_rel_close(out_ng, out.detach(), "no_grad output", 1e-12)
    assert_rel_close(out_fng, out.detach(), "fast no_grad output")


# ---- config ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field,value",
    [
        ("input_dim", 0),
        ("output_dim", -1),
        ("hidden_dim", 2.5),
        ("cell", "gru"),
        ("rule", "oja"),
        ("modulation", 1),
        ("alpha", "zeros"),
        ("p_lr", -0.1),
        ("p_wd", float("nan")),
        ("inner_grad_clip", 0.0),
        ("extra_dim", -1),
        ("weight_clip", -1.0),
        ("input_hidden_dim", 0),
        ("gradient_scale", "batch"),
    ],
)
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        PlasticConfig(**{"input_dim": 3, "output_dim": 1, field: value})


def test_config_round_trip_and_sizes():
    cfg = PlasticConfig(input_dim=16, output_dim=1, cell="lstm", rule="hebbian", weight_clip=0.5, input_hidden_dim=32)
    d = cfg.to_dict()
    assert PlasticConfig.from_dict(d) == cfg
    assert d["rule"] == "hebbian" and d["input_hidden_dim"] == 32
    assert cfg.full_output_dim == 1 + 4 + 1
    assert PlasticConfig(input_dim=2, output_dim=3, modulation=False, extra_dim=0).full_output_dim == 3
    assert cfg.layer_shapes() == {"input": (16, 32), "hh": (128, 512), "ih": (32, 512), "output": (128, 6)}
    with pytest.raises(ValueError, match="unknown"):
        PlasticConfig.from_dict({**d, "bogus": 1})
    with pytest.raises(ValueError, match="PlasticConfig"):
        PlasticNetwork({"input_dim": 3})
    assert PlasticConfig(input_dim=2, output_dim=1, rule="gradient", gradient_scale="paper").inner_loss_factor == 1 / 64
    assert PlasticConfig.from_dict({"input_dim": 2, "output_dim": 1}).gradient_scale == "sample"
    with pytest.raises(ValueError, match="gradient_scale.*rule='gradient'"):
        PlasticConfig(input_dim=2, output_dim=1, rule="hebbian", gradient_scale="paper")


# ---- state ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell,rule", [("rnn", "gradient"), ("lstm", "hebbian"), ("rnn", "none")])
def test_initial_state_shapes_and_size(cell, rule):
    fast, _ = make_pair(cell=cell, rule=rule)
    s = fast.initial_state(4)
    assert s.batch_size == 4 and s.dtype == torch.float64
    assert all((v == 0).all() for v in s.to_tensors().values())
    assert (s.c is None) == (cell == "rnn")
    shapes = fast.config.layer_shapes()
    if rule == "none":
        assert s.F == {} and s.f == {}
    else:
        assert {k: tuple(v.shape[1:]) for k, v in s.F.items()} == shapes
    n = H * (2 if cell == "lstm" else 1) + 1
    if rule != "none":
        n += sum(i * o + o for i, o in shapes.values())
    assert s.state_floats() == n
    with pytest.deprecated_call():
        assert s.num_floats_per_sample() == n
    assert fast.initial_state(2, dtype=torch.float32).dtype == torch.float32


def test_state_ops():
    fast, ref = make_pair(cell="lstm", rule="gradient")
    x = inputs(batch=4)
    out, st = fast(x)
    # reset_where zeroes exactly the masked rows and is not in place
    mask = np.array([True, False, True, False])
    r = st.reset_where(mask)
    for k, v in r.to_tensors().items():
        assert (v[[0, 2]] == 0).all(), k
        assert torch.equal(v[[1, 3]], st.to_tensors()[k][[1, 3]]), k
    assert st.h[0].abs().sum() > 0
    # a reset row continues exactly like a fresh episode
    x2 = inputs(seed=9, batch=4)
    o_reset, _ = fast(x2, r)
    o_fresh, _ = fast(x2[[0, 2]])
    assert_rel_close(o_reset[[0, 2]], o_fresh, "reset rows", 1e-10)
    with pytest.raises(ValueError, match="bool mask"):
        st.reset_where(np.array([1, 0, 1, 0]))
    with pytest.raises(ValueError, match="bool mask"):
        st.reset_where(np.array([True, False]))
    # selecting rows == running those rows
    sel = st[torch.tensor([3, 1])]
    o_sel, _ = fast(x2[[3, 1]], sel)
    o_all, _ = fast(x2, st)
    assert_rel_close(o_sel, o_all[[3, 1]], "selected rows", 1e-10)
    assert st[2].batch_size == 1 and st[1:3].batch_size == 2
    # cat is the inverse of selection
    joined = PlasticState.cat([st[0:1], st[1:4]])
    assert_states_close(joined, st, 0.0)
    with pytest.raises(ValueError):
        PlasticState.cat([])
    with pytest.raises(ValueError, match="different tensors"):
        PlasticState.cat([st, make_pair(cell="rnn", rule="gradient")[0].initial_state(1)])
    # detach
    assert st.h.requires_grad and not st.detach().h.requires_grad
    # flat dict round trip (and through torch.save)
    flat = st.detach().to_tensors()
    assert set(flat) == {"h", "c", "m"} | {f"F.{k}" for k in st.F} | {f"f.{k}" for k in st.f}
    buf = io.BytesIO()
    torch.save(flat, buf)
    buf.seek(0)
    back = PlasticState.from_tensors(torch.load(buf))
    assert_states_close(back, st.detach(), 0.0)
    with pytest.raises(ValueError, match="unexpected key"):
        PlasticState.from_tensors({**flat, "z": flat["h"]})
    with pytest.raises(ValueError, match="batch size"):
        PlasticState.from_tensors({**flat, "h": flat["h"][:2]})


@pytest.mark.parametrize("rule", ["hebbian", "gradient"])
def test_final_weights_are_formed_when_read_and_as_of_the_call(rule):
    """The sequence form hands back F as LazyWeights: not formed until read, and then equal to what it was at the
    call, whatever happened in between (an optimizer step on alpha, a no_grad block)."""
    fast, ref = make_pair(rule=rule)
    x = inputs()
    with torch.no_grad():
        _, st_ref = ref(x)
    out, st = fast(x)
    assert isinstance(st.F, LazyWeights) and not st.F.materialized
    assert list(st.F) == ["input", "hh", "ih", "output"] and "not formed" in repr(st.F)
    out.sum().backward()  # a training step reads only the outputs
    with torch.no_grad():
        for p in fast.parameters():
            p.add_(0.5)
    with torch.no_grad():
        F = {k: st.F[k] for k in st.F}  # read later, in another grad mode
    assert st.F.materialized
    for k in F:
        assert_rel_close(F[k], st_ref.F[k], f"F.{k}", 1e-10)
    assert st.F["hh"].requires_grad  # formed in the grad mode of the call
    with pytest.raises(KeyError):
        st.F["nope"]
    # pickling and deep copies see a plain dict
    with torch.no_grad():
        _, st2 = fast(x)
    assert not st2.F.materialized
    for back in (pickle.loads(pickle.dumps(st2)), copy.deepcopy(st2)):
        assert type(back.F) is dict
        assert_states_close(back, st2, 0.0)
    assert not st2.F["hh"].requires_grad


def test_input_and_state_validation():
    fast, ref = make_pair(rule="hebbian")
    for net in (fast, ref):
        with pytest.raises(ValueError, match="input_dim"):
            net(torch.zeros(2, 3, D_IN + 1, dtype=torch.float64))
        with pytest.raises(ValueError, match="input_dim"):
            net(torch.zeros(2, D_IN, dtype=torch.float64))
        with pytest.raises(ValueError, match="input_dim"):
            net.step(torch.zeros(2, 3, D_IN, dtype=torch.float64), net.initial_state(2))
        with pytest.raises(ValueError, match="batch size"):
            net(torch.zeros(2, 3, D_IN, dtype=torch.float64), net.initial_state(3))
        with pytest.raises(ValueError, match="LSTM"):
            lstm_state = make_pair(cell="lstm", rule="hebbian")[0].initial_state(2)
            net.step(torch.zeros(2, D_IN, dtype=torch.float64), lstm_state)
    with pytest.raises(ValueError, match="chunk_size"):
        PlasticNetwork(fast.config, chunk_size=0)
    out, st = fast(torch.zeros(2, 0, D_IN, dtype=torch.float64))
    assert out.shape == (2, 0, D_OUT)


@pytest.mark.parametrize("cell,rule", list(itertools.product(CELLS, RULES)))
def test_inplace_step_equals_the_step_bit_for_bit(cell, rule):
    """``step(inplace=True)`` (the acting agents' step) gives the same outputs and states as ``step``, exactly, over
    several steps with a plastic bias and alpha; it overwrites the F of the state passed in (one work buffer per
    shape is reused) and refuses to run with gradients on, where the old F may still be needed."""
    net, _ = make_pair(cell=cell, rule=rule)
    x = inputs()
    with torch.no_grad():
        fresh = inplace = net.initial_state(B)
        for t in range(T):
            out_a, fresh = net.step(x[:, t], fresh)
            out_b, inplace = net.step(x[:, t], inplace, inplace=True)
            assert torch.equal(out_a, out_b)
            a, b = fresh.to_tensors(), inplace.to_tensors()
            assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
        if rule != "none":
            kept = inplace.clone()
            net.step(x[:, 0], inplace, inplace=True)
            assert any(not torch.equal(inplace.F[k], kept.F[k]) for k in kept.F)  # the state passed in changed
            kept = fresh.clone()
            net.step(x[:, 0], fresh)
            assert all(torch.equal(fresh.F[k], kept.F[k]) for k in kept.F)  # the plain step leaves its input
    with pytest.raises(ValueError, match="no_grad"):
        net.step(x[:, 0], net.initial_state(B), inplace=True)
