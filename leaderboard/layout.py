"""What a boards' folder holds and how its boards are named (``board.py`` reads and writes them).

    <root>/                         suite v0's board (the primary board, whose pages the README links)
        submissions/<name>.json     one agent each (data: never executed)
        verified.json               {name: {date, versions, sha256, source, trusted}}: rows re-run by ``verify``
        LEADERBOARD.md, leaderboard.png, index.html
        boards/<board>/...          every other suite's board, the same layout

A suite's board is named by the suite only when its hash is that of the shipped suite of that name; any other suite
file gets ``custom-<first 12 hex digits of its hash>``, so a custom suite can never land on a built-in board.
"""

from __future__ import annotations

from .suite import available_suites, load_suite

#: The board whose files stay at the root of the boards' folder.
PRIMARY_BOARD = "v0"
#: Largest result or submission file read (a full main-job result of 17 agents is about 1.5 MB).
MAX_FILE_BYTES = 16 * 2**20
#: A row's status: re-run by ``verify`` and matched, or the submitter's own numbers.
STATUSES = ("verified", "self-reported")


def board_name_of(suite_name: str, suite_hash: str) -> str:
    """The board of a suite: its name if it is the shipped suite of that name (same hash), else ``custom-<hash>``."""
    if suite_name in available_suites() and load_suite(suite_name).hash == suite_hash:
        return suite_name
    return "custom-" + suite_hash.partition(":")[2][:12]
