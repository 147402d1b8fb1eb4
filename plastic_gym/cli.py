"""The ``plastic-gym`` console script.

Subcommands live next to what they run: each module in ``_COMMAND_MODULES`` has a ``register(subparsers)``
function that adds its parsers and sets ``func``. Command modules and their packages import only the standard
library, numpy and gymnasium at import time; torch and Stable-Baselines3 are imported inside ``func``, so
``plastic-gym --help``, ``plastic-gym tasks`` and ``plastic-gym evaluate`` of env-only agents never load them
(``tests/test_cli_lazy.py`` checks ``sys.modules`` after each).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

#: Third-party modules of the optional extras -> the extra that installs them.
_OPTIONAL = {"torch": "agents", "stable_baselines3": "agents", "sb3_contrib": "agents"}

#: Command module -> the optional modules that every one of its commands needs (looked up, not imported).
_COMMAND_MODULES = {
    "plastic_gym.commands": (),  # tasks
    "plastic_gym.agents.cli": ("torch",),  # train
    "plastic_gym.leaderboard.cli": (),  # evaluate, submit, verify, render
    "plastic_gym.baselines.cli": (),  # baseline
}

#: The commands a module registers, for the stubs that stand in for it when its dependencies are missing.
_STUB_COMMANDS = {"plastic_gym.agents.cli": ["train"], "plastic_gym.baselines.cli": ["baseline"]}


def int_at_least(minimum: int, why: str = ""):
    """An argparse ``type`` for an int >= ``minimum`` (``why`` says the reason in the error)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an int >= {minimum}{why}, got {text!r}")
        return value

    return parse


def _missing(modules: tuple[str, ...]) -> str | None:
    """The first of ``modules`` that is not installed (found without importing it), or None."""
    return next((name for name in modules if importlib.util.find_spec(name) is None), None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plastic-gym", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, needs in _COMMAND_MODULES.items():
        missing = _missing(needs)
        if missing is None:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as err:  # a subpackage whose optional dependencies are missing
                missing = (err.name or "").split(".")[0]
                if missing not in _OPTIONAL:
                    raise
            else:
                module.register(subparsers)
                continue
        _register_missing(subparsers, name, missing, _OPTIONAL[missing])
    return parser


def _missing_message(command: str, missing: str, extra: str) -> str:
    return f"error: `plastic-gym {command}` needs {missing}: pip install torch==2.13.0 'plastic-gym[{extra}]'"


def _register_missing(subparsers, module: str, missing: str, extra: str) -> None:
    """Commands whose dependencies are not installed: they exist, and say what to install."""
    def fail(args: argparse.Namespace) -> int:
        print(_missing_message(args.command, missing, extra), file=sys.stderr)
        return 2

    for command in _STUB_COMMANDS.get(module, []):
        stub = subparsers.add_parser(command, help=f"(needs the [{extra}] extra)", add_help=False)
        stub.set_defaults(func=fail, ignores_arguments=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "ignores_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ModuleNotFoundError as err:  # e.g. `evaluate --agent sb3:...` without the [agents] extra
        root = (err.name or "").split(".")[0]
        if root not in _OPTIONAL:
            raise
        print(_missing_message(args.command, root, _OPTIONAL[root]), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
