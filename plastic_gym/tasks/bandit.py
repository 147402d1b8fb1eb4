"""PlasticBandit-v0: a K-armed Bernoulli bandit, learned from reward within the episode (SPEC section 6).

Per episode the arms' success probabilities p_k are drawn from the prior; pulling arm a_t pays r_t ~ Bernoulli(p_{a_t}).
The agent sees only its own history, ``[onehot(a_{t-1}), r_{t-1}, t / T]`` (RL^2, Duan et al. 2016; Wang et al.
2016), so it must explore and exploit within the episode. The primary metric is the expected regret
``sum_t (p* - p_{a_t})`` (p* the best arm's probability at step t), which does not depend on the reward noise.

References: the uniform random policy (no memory; regret T (E[max_k p_k] - E[p]), T/6 for two independent arms),
the privileged oracle (always the best arm: regret 0), Thompson sampling with Beta(1, 1) priors, UCB1 (Auer et al.
2002), win-stay lose-shift, and, for the reversal variant, Thompson sampling over a sliding window.
"""

from __future__ import annotations

import numpy as np

from ..core.interactive import InteractiveTask, RandomPolicy, ReferencePolicy
from ..core.rng import KeyedRandom
from ..core.task import _fmt, require, require_choice, require_int
from ..envs import InteractiveEnv, InteractiveVectorEnv

PRIORS = ("independent", "correlated")


class BanditTask(InteractiveTask):
    """K-armed Bernoulli bandit with an optional reversal.

    kwargs: ``n_arms`` (>= 2), ``horizon`` T (>= 1), ``prior`` (``"independent"``: p_k ~ U(0, 1) i.i.d.;
    ``"correlated"``, 2 arms only: p_0 = p ~ U(0, 1), p_1 = 1 - p), ``reversal_at`` (None; an int step in
    [1, T - 1]; or ``"random"``: uniform over [T // 4, 3T // 4]): from that step on the arms' probabilities are
    reversed, p_k -> p_{K-1-k} (for two arms: swapped), once.

    State: ``p [B, K]`` (before the reversal), ``reversal_at [B]`` (T when there is none), ``u [B, T]`` (the uniform
    numbers of the Bernoulli draws: r_t = [u_t < p_{a_t}]), ``regret [B]``.
    """

    primary_metric = "regret"
    higher_is_better = False
    success_threshold = 10.0  # set to T / 10 per instance (random: T / 6 for two independent arms; oracle 0)

    def __init__(self, n_arms: int = 2, horizon: int = 100, prior: str = "independent",
                 reversal_at: int | str | None = None):
        self.n_arms = require_int("n_arms", n_arms, 2)
        self.horizon = require_int("horizon", horizon, 1)
        self.prior = require_choice("prior", prior, PRIORS)
        require(prior != "correlated" or self.n_arms == 2, f"prior='correlated' needs n_arms=2, got n_arms={n_arms!r}")
        if reversal_at is not None and reversal_at != "random":
            require(isinstance(reversal_at, (int, np.integer)) and not isinstance(reversal_at, bool)
                    and 1 <= reversal_at < self.horizon,
                    f"reversal_at must be None, 'random' or an int in [1, horizon - 1 = {self.horizon - 1}], "
                    f"got {reversal_at!r}")
            reversal_at = int(reversal_at)
        self.reversal_at = reversal_at
        self.success_threshold = self.horizon / 10
        self._make_spaces(np.zeros(0), np.zeros(0), self.n_arms, 0.0, 1.0)

    @property
    def episode_length(self) -> int:
        return self.horizon

    def _start(self, rand: KeyedRandom):
        B, K, T = rand.batch_size, self.n_arms, self.horizon
        if self.prior == "independent":
            p = rand.uniform((K,))
        else:
            p0 = rand.uniform()
            p = np.stack([p0, 1.0 - p0], axis=1)
        if self.reversal_at == "random":
            lo, hi = T // 4, max(3 * T // 4, T // 4)
            reversal = lo + rand.integers(hi - lo + 1)
        else:
            reversal = np.full(B, T if self.reversal_at is None else self.reversal_at, np.int64)
        return {"p": p, "reversal_at": reversal, "u": rand.uniform((T,)), "regret": np.zeros(B)}

    def probabilities(self, state) -> np.ndarray:
        """The arms' success probabilities at the current step, ``[B, K]`` (reversed from ``reversal_at`` on)."""
        reversed_ = (state["t"] >= state["reversal_at"])[:, None]
        return np.where(reversed_, state["p"][:, ::-1], state["p"])

    def _advance(self, state, actions):
        p = self.probabilities(state)
        rows = np.arange(len(actions))
        p_a = p[rows, actions]
        reward = (state["u"][rows, state["t"]] < p_a).astype(np.float64)
        step_regret = p.max(1) - p_a
        state["regret"] = state["regret"] + step_regret
        return state, reward, {"expected_reward": p_a, "regret": step_regret}

    def _features(self, state):
        return np.zeros((state["t"].shape[0], 0), np.float32)

    def episode_metrics(self, state):
        return {"regret": state["regret"], "reward": state["return"]}

    def describe(self, obs_row):
        K = self.n_arms
        prev = int(np.argmax(obs_row[:K])) if obs_row[:K].any() else None
        return f"prev_arm={prev} prev_reward={obs_row[K]:.0f} t/T={obs_row[K + 1]:.2f}"

    def describe_state(self, state, i):
        reversal = int(state["reversal_at"][i])
        return (f"p={_fmt(state['p'][i])}" + (f", reversed from t={reversal}" if reversal < self.horizon else "")
                + f", regret so far {state['regret'][i]:.2f}")


# -- references -----------------------------------------------------------------------------------------------------
class BanditOracle(ReferencePolicy):
    """Privileged: always the arm with the highest current probability (regret 0 by definition)."""

    privileged = True

    def act(self, task_state, obs, pstate):
        return self.task.probabilities(task_state).argmax(1), pstate


class _CountingPolicy(ReferencePolicy):
    """Keeps per-arm counts of pulls and successes ``[B, K]``, updated from the previous action and reward in obs."""

    def reset(self, batch_size, rng):
        K = self.task.n_arms
        return {"rng": rng, "pulls": np.zeros((batch_size, K)), "wins": np.zeros((batch_size, K))}

    def update(self, obs, pstate):
        _, prev, reward, _ = self.task.split_obs(obs)
        fresh = (prev < 0)[:, None]  # a new episode starts from zero counts
        taken = prev[:, None] == np.arange(self.task.n_arms)
        pulls, wins = (np.where(fresh, 0.0, pstate[k]) for k in ("pulls", "wins"))
        return {**pstate, "pulls": pulls + taken, "wins": wins + taken * reward[:, None]}


class Thompson(_CountingPolicy):
    """Thompson sampling: draw theta_k ~ Beta(1 + s_k, 1 + f_k) and pull argmax_k theta_k (Beta(1, 1) priors)."""

    def act(self, task_state, obs, pstate):
        pstate = self.update(obs, pstate)
        wins, losses = pstate["wins"], pstate["pulls"] - pstate["wins"]
        return pstate["rng"].beta(1.0 + wins, 1.0 + losses).argmax(1), pstate


class UCB1(_CountingPolicy):
    """UCB1 (Auer, Cesa-Bianchi & Fischer 2002): pull every arm once, then argmax_k mean_k + sqrt(2 ln t / n_k)."""

    def act(self, task_state, obs, pstate):
        pstate = self.update(obs, pstate)
        n, t = pstate["pulls"], pstate["pulls"].sum(1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            index = pstate["wins"] / n + np.sqrt(2.0 * np.log(np.maximum(t, 1.0)) / n)
        index = np.where(n == 0, np.inf, index)  # unpulled arms first, lowest index first
        return index.argmax(1), pstate


class WinStayLoseShift(ReferencePolicy):
    """Win-stay lose-shift: repeat a rewarded arm, otherwise switch to another arm (uniformly among the others);
    the first pull is random."""

    def act(self, task_state, obs, pstate):
        _, prev, reward, _ = self.task.split_obs(obs)
        K, rng = self.task.n_arms, pstate["rng"]
        other = (np.maximum(prev, 0) + 1 + rng.integers(0, K - 1, size=len(obs))) % K
        first = rng.integers(0, K, size=len(obs))
        return np.where(prev < 0, first, np.where(reward > 0, prev, other)), pstate


class ThompsonWindow(ReferencePolicy):
    """Thompson sampling over the last ``window`` pulls only (sliding-window Thompson), so that it tracks a
    reversal: Beta(1 + s_k, 1 + f_k) with the counts of the window. The window is a ring buffer ``[B, window]``."""

    window = 20

    def reset(self, batch_size, rng):
        return {"rng": rng, "arm": np.full((batch_size, self.window), -1), "won": np.zeros((batch_size, self.window)),
                "next": 0}

    def act(self, task_state, obs, pstate):
        _, prev, reward, _ = self.task.split_obs(obs)
        fresh = (prev < 0)[:, None]  # a new episode starts with an empty window
        arm, won = np.where(fresh, -1, pstate["arm"]), np.where(fresh, 0.0, pstate["won"])
        slot = pstate["next"] % self.window
        arm[:, slot], won[:, slot] = prev, reward  # prev = -1 at t = 0 counts as no pull
        taken = arm[..., None] == np.arange(self.task.n_arms)  # [B, window, K]
        wins = (taken * won[..., None]).sum(1)
        losses = taken.sum(1) - wins
        actions = pstate["rng"].beta(1.0 + wins, 1.0 + losses).argmax(1)
        return actions, {**pstate, "arm": arm, "won": won, "next": pstate["next"] + 1}


BanditTask.references = {"no_memory": RandomPolicy, "oracle": BanditOracle, "thompson": Thompson, "ucb1": UCB1,
                         "wsls": WinStayLoseShift, "thompson_window": ThompsonWindow}


class PlasticBanditEnv(InteractiveEnv):
    """K-armed Bernoulli bandit (PlasticBandit-v0): learn which arm pays from the rewards of this episode.

    ## Description
    Each episode draws the arms' success probabilities p_k (``prior="independent"``: i.i.d. U(0, 1);
    ``"correlated"``, two arms: p and 1 - p). Each step the agent pulls an arm and gets reward 1 with probability
    p_{a}. Nothing but its own history tells it which arm is best, so it must explore and then exploit within the
    episode (meta-RL: Wang et al. 2016, Duan et al. 2016). With ``reversal_at`` the probabilities are reversed
    once (two arms: swapped) at that step, or at a uniformly random step in [T/4, 3T/4] (``"random"``).

    ## Action Space
    ``Discrete(n_arms)``: the arm to pull.

    ## Observation Space
    ``Box(0, 1, (n_arms + 2,), float32)``: ``[onehot(previous arm), previous reward, t / horizon]`` (all zero at t = 0).

    ## Rewards
    r_t ~ Bernoulli(p_{a_t}) in {0, 1}.

    ## Episode End
    Terminates after ``horizon`` steps with a zero observation. ``info`` on every step: ``expected_reward`` (p_{a_t})
    and ``regret`` (p* - p_{a_t}); at the end ``episode_metrics``: ``regret`` (primary, lower is better: the expected
    regret sum_t p*_t - p_{a_t}; random: T/6 for two independent arms, T/4 correlated; oracle 0) and ``reward`` (the
    sum of rewards). ``is_success``: ``regret <= horizon / 10``.

    ## Arguments
    ``gym.make("PlasticBandit-v0", n_arms=2, horizon=100, prior="independent", reversal_at=None, render_mode=None)``;
    render modes ``"ansi"``, ``"rgb_array"``.

    ## Version History
    * v0: initial version (suite rl-v0).
    """

    task_class = BanditTask


class PlasticBanditVectorEnv(InteractiveVectorEnv):
    """PlasticBandit-v0 as a native vector env (see ``PlasticBanditEnv``)."""

    task_class = BanditTask
