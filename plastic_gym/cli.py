"""The ``plastic-gym`` console script.

Subcommands live next to what they run: each module in ``_COMMAND_MODULES`` has a ``register(subparsers)``
function that adds its parsers and sets ``func`` (heavy imports such as torch happen inside ``func``, so
``plastic-gym tasks`` works with only the environments installed).
"""

from __future__ import annotations

import argparse
import importlib
import sys

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
            if err.name and err.name.startswith("plastic_gym"):
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
