"""What every agent kind shares: ``AgentKind`` (one registry entry), ``LoadContext`` (what a loader is given) and the
helpers that find an agent's file and check that an object is an agent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The folder that holds the package's source tree in a checkout (``leaderboard/`` and ``baselines/`` sit in it).
SOURCE_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class AgentKind:
    """One way to name an agent on the command line: ``PREFIX:REST`` specs, bare file names ending in one of
    ``suffixes``, or one of the exact ``names``.

    ``load(rest, context)`` returns an agent factory (``for_task`` and ``metadata``: ``protocol.AgentFactory``);
    ``describe(rest)`` says what loading it runs, for ``verify --trust`` (``describe_source``). ``rest`` is the spec
    without its ``PREFIX:``; for a bare file name or an exact name it is the whole spec.
    """

    prefix: str
    load: Callable[[str, LoadContext], Any]
    describe: Callable[[str], str]
    suffixes: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadContext:
    """What a loader is given besides its spec: the seed of the agent's own randomness, the folder relative paths
    start from (a manifest's folder), the manifests being loaded (to refuse a cycle) and ``load_spec``, the registry's
    ``load_agent`` (a manifest loads its per-task specs through it)."""

    spec: str
    seed: int = 0
    base: Path | None = None
    manifests: tuple[Path, ...] = ()
    load_spec: Callable[..., Any] | None = field(default=None, repr=False)

    def resolve(self, path: str | Path) -> Path:
        """The file ``path`` names, relative to ``base`` (``resolve_path``)."""
        return resolve_path(path, self.base)

    def load(self, spec: str, base: Path, manifest: Path) -> Any:
        """The factory of a spec found in ``manifest`` (relative paths start at ``base``)."""
        return self.load_spec(spec, seed=self.seed, base=base, _manifests=(*self.manifests, manifest.resolve()))


def resolve_path(path: str | Path, base: Path | None = None) -> Path:
    """A file named by an agent spec: as given (or relative to ``base``), else relative to the source tree, else
    inside the installed ``plastic_gym.baselines`` package (``baselines/...`` paths of committed submissions)."""
    path = Path(path)
    candidates = [path] if path.is_absolute() else [(base or Path.cwd()) / path, Path.cwd() / path,
                                                     SOURCE_ROOT / path]
    if not path.is_absolute() and path.parts and path.parts[0] == "baselines":
        try:
            import plastic_gym.baselines as pkg

            candidates.append(Path(pkg.__file__).parent.joinpath(*path.parts[1:]))
        except ImportError:
            pass
    for c in candidates:
        if c.exists():
            return c
    raise ValueError(f"agent file {path} not found (looked in {[str(c.parent) for c in candidates]})")


def check_agent(obj: Any, what: str) -> None:
    """A ``ValueError`` unless ``obj`` has the agent methods ``reset`` and ``act``."""
    missing = [m for m in ("reset", "act") if not callable(getattr(obj, m, None))]
    if missing:
        raise ValueError(f"{what} is not an agent: it lacks {missing} (expected reset(num_envs) and "
                         "act(obs, state, episode_start))")
