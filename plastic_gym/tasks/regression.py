"""PlasticRegression-v0 / PlasticRegressionMLP-v0: learn a fresh random function from a few examples (SPEC
section 3)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from ..core.rng import KeyedRandom
from ..core.task import QUERY, STUDY, Episodes, Task, require_choice, require_float, require_int
from ..envs import PlasticEnv, PlasticVectorEnv

MODES = ("linear", "mlp")
MLP_HIDDEN = 2
#: |y| of a z-scored episode of T points is at most sqrt(T - 1); 10 covers every default episode.
ACTION_BOUND = 10.0


class RegressionTask(Task):
    """Few-shot regression.

    f is fresh per episode: ``linear`` f(x) = w.x + b, w, b ~ U(-1/sqrt(n_var), 1/sqrt(n_var)); or ``mlp``
    ``Linear(n_var, 2) -> tanh -> Linear(2, 1)`` with that init per layer (fan-in of the layer).
    x ~ U(-1,1)^{n_var}; y = f(x) z-scored over the episode's points.
    obs ``[x, y + N(0, noise^2) or 0, train_flag]`` (flag 1 on the ``train_length`` train steps);
    target: clean y at every step; scored: the ``test_length`` test steps.
    """

    kind = "regression"
    primary_metric = "test_mse"
    success_threshold = 0.25  # no memory: about 1 (y is z-scored); the oracle's value depends on mode and noise

    def __init__(self, n_var: int = 12, train_length: int = 20, test_length: int = 20, noise: float = 0.1,
                 mode: str = "linear"):
        self.n_var = require_int("n_var", n_var, 1)
        self.train_length = require_int("train_length", train_length, 1)
        self.test_length = require_int("test_length", test_length, 1)
        self.noise = require_float("noise", noise, 0.0)
        self.mode = require_choice("mode", mode, MODES)
        # Shown y is within ACTION_BOUND plus noise clipped at 10 sigma, so the bounds are finite.
        self._y_bound = ACTION_BOUND + 10 * self.noise
        low = np.r_[np.full(self.n_var, -1.0), -self._y_bound, 0.0].astype(np.float32)
        self.observation_space = spaces.Box(low, np.abs(low).clip(1.0), dtype=np.float32)
        self.action_space = spaces.Box(-ACTION_BOUND, ACTION_BOUND, (1,), np.float32)

    @property
    def episode_length(self) -> int:
        return self.train_length + self.test_length

    def _generate(self, rand: KeyedRandom) -> Episodes:
        B, T, n, n_train = rand.batch_size, self.episode_length, self.n_var, self.train_length
        x = rand.uniform((T, n), -1.0, 1.0)
        if self.mode == "linear":
            bound = 1.0 / np.sqrt(n)
            w, b = rand.uniform((n,), -bound, bound), rand.uniform((1,), -bound, bound)
            y = np.einsum("btn,bn->bt", x, w) + b
        else:
            b1, b2 = 1.0 / np.sqrt(n), 1.0 / np.sqrt(MLP_HIDDEN)
            w1, c1 = rand.uniform((n, MLP_HIDDEN), -b1, b1), rand.uniform((MLP_HIDDEN,), -b1, b1)
            w2, c2 = rand.uniform((MLP_HIDDEN,), -b2, b2), rand.uniform((1,), -b2, b2)
            y = np.einsum("bth,bh->bt", np.tanh(np.einsum("btn,bnh->bth", x, w1) + c1[:, None]), w2) + c2
        y = (y - y.mean(1, keepdims=True)) / np.maximum(y.std(1, keepdims=True), 1e-8)
        train = np.arange(T) < n_train
        shown = np.where(train, np.clip(y + self.noise * rand.normal((T,)), -self._y_bound, self._y_bound), 0.0)
        obs = np.empty((B, T, n + 2), np.float32)
        obs[..., :n] = x
        obs[..., n] = shown
        obs[..., n + 1] = train
        phase = np.broadcast_to(np.where(train, STUDY, QUERY).astype(np.int8), (B, T)).copy()
        return Episodes(obs, y[..., None].astype(np.float32), phase == QUERY, phase, rand.keys)

    def oracle_actions(self, episodes: Episodes) -> np.ndarray:
        """The best estimator from the train points (computable from the observations alone).

        Train steps: the shown noisy y. Test steps, ``linear``: Bayesian linear regression (ridge with the prior
        that matches z-scored targets, per-coefficient variance 3/n_var); ``mlp``: the true model class fitted by
        full-batch Adam from several initializations, best train loss kept.
        """
        n, n_train = self.n_var, self.train_length
        x = episodes.obs[..., :n].astype(np.float64)
        y_shown = episodes.obs[:, :n_train, n].astype(np.float64)
        fit = _fit_linear if self.mode == "linear" else _fit_mlp
        pred = fit(x[:, :n_train], y_shown, x, self.noise)
        pred[:, :n_train] = y_shown
        return pred.astype(np.float32)[..., None]


def _fit_linear(x_train, y_train, x_all, noise):
    """Posterior-mean linear fit per episode: (X'X + lam I)^-1 X'y with lam = noise^2 / prior variance."""
    n = x_train.shape[-1]
    design = np.concatenate([x_train, np.ones_like(x_train[..., :1])], -1)
    lam = max(noise, 1e-3) ** 2 / (3.0 / n)
    gram = design.transpose(0, 2, 1) @ design + lam * np.eye(n + 1)
    beta = np.linalg.solve(gram, (design.transpose(0, 2, 1) @ y_train[..., None]))[..., 0]
    return np.einsum("btn,bn->bt", np.concatenate([x_all, np.ones_like(x_all[..., :1])], -1), beta)


def _fit_mlp(x_train, y_train, x_all, noise, restarts=8, iterations=400, lr=0.05, weight_decay=1e-3, seed=0):
    """Fit y = tanh(x W1 + c1) . w2 + c2 per episode by full-batch Adam, ``restarts`` inits in parallel."""
    rng = np.random.default_rng(seed)
    B, N, n = x_train.shape
    h = MLP_HIDDEN
    params = {
        "w1": rng.uniform(-1, 1, (B, restarts, n, h)) / np.sqrt(n),
        "c1": rng.uniform(-1, 1, (B, restarts, h)) / np.sqrt(n),
        "w2": rng.uniform(-1, 1, (B, restarts, h)),
        "c2": np.zeros((B, restarts)),
    }
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    xt, yt = x_train[:, None], y_train[:, None]  # [B, 1, N, n], [B, 1, N]
    for step in range(1, iterations + 1):
        hidden = np.tanh(np.einsum("brnd,brdh->brnh", np.broadcast_to(xt, (B, restarts, N, n)), params["w1"])
                         + params["c1"][:, :, None])
        err = np.einsum("brnh,brh->brn", hidden, params["w2"]) + params["c2"][..., None] - yt  # [B, R, N]
        d_out = 2.0 * err / N
        d_hidden = d_out[..., None] * params["w2"][:, :, None] * (1 - hidden ** 2)
        grads = {
            "w2": np.einsum("brn,brnh->brh", d_out, hidden) + weight_decay * params["w2"],
            "c2": d_out.sum(-1),
            "w1": (np.einsum("brnd,brnh->brdh", np.broadcast_to(xt, (B, restarts, N, n)), d_hidden)
                   + weight_decay * params["w1"]),
            "c1": d_hidden.sum(2),
        }
        for k in params:
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
            params[k] -= lr * (m[k] / (1 - 0.9 ** step)) / (np.sqrt(v[k] / (1 - 0.999 ** step)) + 1e-8)
    best = np.argmin((err ** 2).mean(-1), axis=1)  # [B]
    pick = lambda a: a[np.arange(B), best]  # noqa: E731
    hidden = np.tanh(np.einsum("btd,bdh->bth", x_all, pick(params["w1"])) + pick(params["c1"])[:, None])
    return np.einsum("bth,bh->bt", hidden, pick(params["w2"])) + pick(params["c2"])[:, None]


class PlasticRegressionEnv(PlasticEnv):
    """Few-shot regression (PlasticRegression-v0; PlasticRegressionMLP-v0 with ``mode="mlp", n_var=6``).

    ## Description
    Each episode draws a fresh random function f. The first ``train_length`` steps show points x with noisy
    values of f(x); on the ``test_length`` test steps only x is shown and the agent must output f(x). The agent
    has to fit a function within the episode. y is z-scored over the episode's points, so predicting 0 scores
    about 1.

    ## Action Space
    ``Box(-10, 10, (1,), float32)``: the predicted y (values outside the box are scored as given; SB3 clips to it).

    ## Observation Space
    ``Box(low, high, (n_var + 2,), float32)``: ``[x, y + N(0, noise^2) or 0, train_flag]``; the flag is 1 on train
    steps (note: the opposite polarity of PlasticAssoc-v0's query flag).

    ## Rewards
    On test steps ``-(a_t - y_t)^2``, else 0.

    ## Episode End
    Terminates after ``train_length + test_length`` steps with a zero observation. ``info["episode_metrics"]``:
    ``test_mse`` (primary, lower is better; no memory about 1) and ``all_mse``. ``is_success``: ``test_mse <= 0.25``.

    ## Arguments
    ``gym.make("PlasticRegression-v0", n_var=12, train_length=20, test_length=20, noise=0.1, mode="linear",
    render_mode=None)``; render modes: ``"ansi"``.

    ## Version History
    * v0: initial version (suite v0).
    """

    task_class = RegressionTask


class PlasticRegressionVectorEnv(PlasticVectorEnv):
    """PlasticRegression-v0 as a native vector env (see ``PlasticRegressionEnv``)."""

    task_class = RegressionTask
