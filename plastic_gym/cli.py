"""The ``plastic-gym`` console script.

Subcommands live next to what they run: each module in ``_COMMAND_MODULES`` has a ``register(subparsers)``
function that adds its parsers and sets ``func`` (heavy imports such as torch happen inside ``func``, so
``plastic-gym tasks`` works with only the environments installed).
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Third-party modules of the optional extras; a command module that needs a missing one is replaced by a stub.
_OPTIONAL = {"torch": "agents", "stable_baselines3": "agents", "sb3_contrib": "agents"}

_COMMAND_MODULES = (
    "plastic_gym.commands",  # tasks
    "plastic_gym.agents.cli",  # train
    "plastic_gym.leaderboard.cli",  # evaluate, submit, verify, render
    "plastic_gym.baselines.cli",  # baseline
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plastic-gym", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:  # a subpackage whose optional dependencies are missing
            root = (err.name or "").split(".")[0]
            if root not in _OPTIONAL:
                raise
            _register_missing(subparsers, name, root, _OPTIONAL[root])
            continue
        module.register(subparsers)
    return parser


_STUB_COMMANDS = {"plastic_gym.agents.cli": ["train"], "plastic_gym.baselines.cli": ["baseline"]}


def _register_missing(subparsers, module: str, missing: str, extra: str) -> None:
    """Commands whose dependencies are not installed: they exist, and say what to install."""
    def fail(args: argparse.Namespace) -> int:
        print(f"error: `plastic-gym {args.command}` needs {missing}: pip install torch==2.13.0 'plastic-gym[{extra}]'",
              file=sys.stderr)
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
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
