"""The run of plain ``SET key value`` commands at the front of a framed batch, split into keys
and values: the replica's applier stores such a run at once (``Server.apply_sets_from_primary``).

Written for mypyc (mypyc-modules.txt): compiled, one loop over the batch beats the builtins
(``map``/``itemgetter`` at C speed) that pure Python needs to be fast, so each form uses its own.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Final

COMPILED: Final = not __file__.endswith(".py")
PLAIN_SET: Final = frozenset((b"SET", b"set"))
"""The spellings of SET whose plain runs the applier stores at once."""

SetRun = tuple[list[bytes], list[bytes], int, int]
"""Keys, values, the longest key's and the longest value's length."""


def plain_set_run(batch: list[list[bytes]], start: int) -> SetRun:
    """The plain SETs of ``batch`` from ``start`` up to the first other command."""
    if COMPILED:
        return _by_loop(batch, start)
    return _by_builtins(batch, start)


def _by_loop(batch: list[list[bytes]], start: int) -> SetRun:
    keys: list[bytes] = []
    values: list[bytes] = []
    longest_key = longest_value = 0
    for i in range(start, len(batch)):
        argv = batch[i]
        if len(argv) != 3:
            break
        name = argv[0]
        if name != b"SET" and name != b"set":
            break
        key = argv[1]
        value = argv[2]
        if len(key) > longest_key:
            longest_key = len(key)
        if len(value) > longest_value:
            longest_value = len(value)
        keys.append(key)
        values.append(value)
    return keys, values, longest_key, longest_value


def _by_builtins(batch: list[list[bytes]], start: int) -> SetRun:
    n = len(batch)
    if (
        not start
        and list(map(len, batch)).count(3) == n
        and PLAIN_SET.issuperset(map(itemgetter(0), batch))
    ):
        end = n
        run = batch
    else:
        end = start
        while end < n and batch[end][0] in PLAIN_SET and len(batch[end]) == 3:
            end += 1
        run = batch[start:end]
    if end == start:
        return [], [], 0, 0
    keys = list(map(itemgetter(1), run))
    values = list(map(itemgetter(2), run))
    return keys, values, max(map(len, keys)), max(map(len, values))
