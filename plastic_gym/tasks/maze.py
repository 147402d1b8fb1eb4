"""PlasticMaze-v0: Miconi's maze (Miconi et al. 2018, differentiable plasticity; 2019, Backpropamine), SPEC section 6.

The agent walks a fixed 9x9 maze and sees only the 3x3 neighbourhood of walls around it. An invisible reward cell
is drawn per episode; reaching it pays +10 and teleports the agent to a random free cell, so the agent has to
find the cell once and then come back to it from wherever it lands, as often as it can within the horizon.

Layout (Miconi's): the 9x9 interior is surrounded by a wall, and every cell whose row and column (counted from the
border, 0..10) are both even is a wall, a lattice of pillars. ``#`` wall, ``.`` free (65 free cells)::

    ###########
    #.........#
    #.#.#.#.#.#
    #.........#
    #.#.#.#.#.#
    #.........#
    #.#.#.#.#.#
    #.........#
    #.#.#.#.#.#
    #.........#
    ###########

Most views are alike (the pillars repeat), so the agent cannot tell where it is from one view; it can localize
by following walls and its own moves, and the reward cannot be seen from afar. The shortest-path table of the
layout (``layout().dist`` and ``next_action``) is computed once, so the oracle and the explorer are vectorized.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from ..core.interactive import InteractiveTask, RandomPolicy, ReferencePolicy
from ..core.rng import KeyedRandom
from ..core.task import require_int
from ..envs import InteractiveEnv, InteractiveVectorEnv

SIZE = 11  # the 9x9 interior and its border
#: Actions: 0 N, 1 E, 2 S, 3 W, as (row, column) steps.
MOVES = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])
ACTION_NAMES = ("N", "E", "S", "W")
HIT_REWARD, WALL_PENALTY = 10.0, 0.1


@dataclass(frozen=True)
class Layout:
    """The maze's tables over its C free cells (ids in row-major order)."""

    walls: np.ndarray  # [SIZE, SIZE] bool
    cells: np.ndarray  # [C, 2] (row, column) of each free cell
    move: np.ndarray  # [C, 4] the cell an action leads to (the same cell when a wall blocks it)
    blocked: np.ndarray  # [C, 4] bool, the action bumps into a wall
    view: np.ndarray  # [C, 9] float32, the 3x3 neighbourhood's walls, row-major (index 4: the cell itself, 0)
    dist: np.ndarray  # [C, C] int64, shortest-path lengths
    next_action: np.ndarray  # [C, C] an action on a shortest path from cell to goal (N first among ties; 0 if equal)

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    def text(self, marks: dict[tuple[int, int], str] | None = None) -> str:
        rows = [["#" if w else "." for w in row] for row in self.walls]
        for (r, c), ch in (marks or {}).items():
            rows[r][c] = ch
        return "\n".join("".join(row) for row in rows)


@cache
def layout() -> Layout:
    """Build the tables once: moves, views and all-pairs shortest paths (breadth-first, all sources at once)."""
    r, c = np.indices((SIZE, SIZE))
    walls = (r == 0) | (c == 0) | (r == SIZE - 1) | (c == SIZE - 1) | ((r % 2 == 0) & (c % 2 == 0))
    cells = np.argwhere(~walls)
    index = np.full((SIZE, SIZE), -1)
    index[cells[:, 0], cells[:, 1]] = np.arange(len(cells))
    target = cells[:, None] + MOVES[None]  # [C, 4, 2]
    blocked = walls[target[..., 0], target[..., 1]]
    move = np.where(blocked, np.arange(len(cells))[:, None], index[target[..., 0], target[..., 1]])
    offsets = np.array([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)])
    around = cells[:, None] + offsets[None]
    view = walls[around[..., 0], around[..., 1]].astype(np.float32)

    C = len(cells)
    adjacent = np.zeros((C, C), bool)
    adjacent[np.repeat(np.arange(C), 4), move.reshape(-1)] = True
    dist = np.full((C, C), -1, np.int64)
    np.fill_diagonal(dist, 0)
    frontier, d = np.eye(C, dtype=bool), 0
    while frontier.any():
        d += 1
        frontier = ((frontier.astype(np.int64) @ adjacent.astype(np.int64)) > 0) & (dist < 0)
        dist[frontier] = d
    assert (dist >= 0).all(), "the maze must be connected"
    after = np.where(blocked[:, :, None], np.iinfo(np.int64).max, dist[move])  # [C, 4, C]: distance after acting
    next_action = after.argmin(1)
    return Layout(walls, cells, move, blocked, view, dist, next_action)


class MazeTask(InteractiveTask):
    """The maze with an invisible reward cell.

    State: ``pos [B]`` and ``goal [B]`` (free-cell ids), ``teleport [B, T]`` (where a hit at step t sends the agent:
    the ``teleport[t]``-th free cell after the goal, cyclically, so uniform over the other cells), ``hits [B]``.
    """

    primary_metric = "reward"
    higher_is_better = True
    success_threshold = 100.0  # ten hits net of bumps (reference scores: README, `plastic-gym tasks`)

    def __init__(self, horizon: int = 200):
        self.horizon = require_int("horizon", horizon, 1)
        self.layout = layout()
        self._make_spaces(np.zeros(9), np.ones(9), 4, -WALL_PENALTY, HIT_REWARD)

    @property
    def episode_length(self) -> int:
        return self.horizon

    def _start(self, rand: KeyedRandom):
        C = self.layout.n_cells
        goal = rand.integers(C)
        start = (goal + 1 + rand.integers(C - 1)) % C  # any free cell but the goal
        return {"goal": goal, "pos": start, "teleport": rand.integers(C - 1, (self.horizon,)),
                "hits": np.zeros(len(goal))}

    def _advance(self, state, actions):
        lay, pos, goal = self.layout, state["pos"], state["goal"]
        nxt, bump = lay.move[pos, actions], lay.blocked[pos, actions]
        hit = nxt == goal
        landing = (goal + 1 + state["teleport"][np.arange(len(pos)), state["t"]]) % lay.n_cells
        state["pos"] = np.where(hit, landing, nxt)
        state["hits"] = state["hits"] + hit
        reward = HIT_REWARD * hit - WALL_PENALTY * bump
        return state, reward, {"hit": hit, "bump": bump}

    def _features(self, state):
        return self.layout.view[state["pos"]]

    def episode_metrics(self, state):
        return {"reward": state["return"], "hits": state["hits"]}

    def describe(self, obs_row):
        view = "/".join("".join("#" if w else "." for w in obs_row[i:i + 3]) for i in (0, 3, 6))
        prev = obs_row[9:13]
        name = ACTION_NAMES[int(np.argmax(prev))] if prev.any() else None
        return f"view={view} prev_action={name} prev_reward={obs_row[13]:+.1f}"

    def describe_state(self, state, i):
        """The maze with the agent (A) and the reward cell (R)."""
        cells = self.layout.cells
        marks = {tuple(cells[state["goal"][i]]): "R", tuple(cells[state["pos"][i]]): "A"}
        return self.layout.text(marks) + f"\nhits so far: {int(state['hits'][i])}"

    def picture(self, state, i):
        """The maze, 16 pixels a cell: walls dark, the reward cell green, the agent red."""
        rgb = np.where(self.layout.walls[..., None], np.uint8(60), np.uint8(235)).repeat(3, -1)
        cells = self.layout.cells
        rgb[tuple(cells[state["goal"][i]])] = (60, 170, 80)
        rgb[tuple(cells[min(state["pos"][i], self.layout.n_cells - 1)])] = (210, 50, 50)
        return np.kron(rgb, np.ones((16, 16, 1), np.uint8))


# -- references -----------------------------------------------------------------------------------------------------
class MazeOracle(ReferencePolicy):
    """Privileged: knows its cell and the reward cell and walks a shortest path to it."""

    privileged = True

    def act(self, task_state, obs, pstate):
        return self.task.layout.next_action[task_state["pos"], task_state["goal"]], pstate


class Explorer(ReferencePolicy):
    """Explore then exploit, from the observations alone: localize, visit the cells that may hold the reward (the
    nearest first), and once the reward cell is known walk shortest paths back to it after every teleport.

    Memory: ``where [B, C]`` the cells the agent may be in, and ``goal [B, C]`` the cells that may hold the reward.
    Each step keeps the cells consistent with the last move (a bump or not), the reward and the new view; a hit
    narrows the reward to the cells the move could have entered and resets the position to every cell with the
    view (a teleport). A visited cell is ruled out when the position is certain. While the position is not
    certain the agent heads for the north-west corner (north while it can, else west): the only cell with walls to
    its north and west, where the position becomes certain.
    """

    def reset(self, batch_size, rng):
        C = self.task.layout.n_cells
        return {"rng": rng, "where": np.ones((batch_size, C), bool), "goal": np.ones((batch_size, C), bool)}

    def act(self, task_state, obs, pstate):
        lay = self.task.layout
        B, C = len(obs), lay.n_cells
        view, prev, reward, _ = self.task.split_obs(obs)
        seen = (view[:, None, :] == lay.view[None]).all(-1)  # [B, C] the cells with this view
        first, hit, bump = prev < 0, reward > HIT_REWARD / 2, reward < 0
        a = np.maximum(prev, 0)
        came = pstate["where"] & (bump[:, None] == lay.blocked[:, a].T)  # [B, C] cells consistent with the bump
        rows, cells = np.nonzero(came)
        entered = np.zeros((B, C), bool)
        entered[rows, lay.move[cells, a[rows]]] = True
        goal = np.where(first[:, None], True, np.where(hit[:, None], pstate["goal"] & entered, pstate["goal"]))
        where = np.where((hit | first)[:, None], seen, entered & seen)
        goal = np.where(goal.any(1, keepdims=True), goal, True)  # (cannot happen; keeps the argmin defined)
        where = np.where(where.any(1, keepdims=True), where, seen)
        certain = where.sum(1) == 1
        here = where.argmax(1)
        goal[np.flatnonzero(certain), here[certain]] = False  # no hit here, and a teleport never lands on the goal
        goal = np.where(goal.any(1, keepdims=True), goal, True)
        nearest = np.where(goal, lay.dist[here], np.iinfo(np.int64).max).argmin(1)
        seek = lay.next_action[here, nearest]
        north_free, west_free = view[:, 1] == 0, view[:, 3] == 0
        localize = np.where(north_free, 0, np.where(west_free, 3, 2))
        return np.where(certain, seek, localize), {**pstate, "where": where, "goal": goal}


MazeTask.references = {"no_memory": RandomPolicy, "oracle": MazeOracle, "explore_exploit": Explorer}


class PlasticMazeEnv(InteractiveEnv):
    """Miconi's maze (PlasticMaze-v0): find an invisible reward cell, then return to it after every teleport.

    ## Description
    A fixed 9x9 maze (a border and a lattice of pillars at even rows and columns; see ``plastic_gym.tasks.maze``).
    Each episode draws a reward cell among the 65 free cells and a different start cell. Reaching the reward cell
    pays +10 and teleports the agent to a random other free cell; bumping into a wall costs 0.1. The agent sees
    only the walls around it, so it must explore, remember where the reward was, and find its way back
    (Miconi et al. 2018, 2019: neuromodulated plastic networks do this better than non-plastic ones).

    ## Action Space
    ``Discrete(4)``: 0 north, 1 east, 2 south, 3 west.

    ## Observation Space
    ``Box(low, high, (15,), float32)``: ``[3x3 walls around the agent (row-major, 1 = wall), onehot(previous
    action), previous reward (in [-0.1, 10]), t / horizon]``.

    ## Rewards
    +10 on reaching the reward cell, -0.1 for a move into a wall (the agent stays), else 0.

    ## Episode End
    Terminates after ``horizon`` steps with a zero observation. ``info``: ``hit`` and ``bump`` every step; at the
    end ``episode_metrics``: ``reward`` (primary, higher is better: the sum of rewards) and ``hits``.
    ``is_success``: ``reward >= 100``.

    ## Arguments
    ``gym.make("PlasticMaze-v0", horizon=200, render_mode=None)``; render modes ``"ansi"``, ``"rgb_array"``.

    ## Version History
    * v0: initial version (suite rl-v0).
    """

    task_class = MazeTask


class PlasticMazeVectorEnv(InteractiveVectorEnv):
    """PlasticMaze-v0 as a native vector env (see ``PlasticMazeEnv``)."""

    task_class = MazeTask
