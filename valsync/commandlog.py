"""Valkey 8.1's command log: the slow log and its large-request / large-reply siblings.

Three independent logs, newest entry first, each bounded by its ``commandlog-*-max-len``; an
entry is recorded when the command's measure reaches its threshold (``-1`` disables a log):

=============  ====================================  ==================================
type           measure                               threshold directive
=============  ====================================  ==================================
slow           execution time in microseconds        commandlog-execution-slower-than
large-request  bytes of the request                  commandlog-request-larger-than
large-reply    bytes of the reply                    commandlog-reply-larger-than
=============  ====================================  ==================================

``SLOWLOG`` is the ``slow`` log under its old name (``slowlog-log-slower-than`` and
``slowlog-max-len`` are aliases). Entries keep at most 32 arguments (the last one then says how
many were left out) and 128 bytes of each (then ``... (N more bytes)``), like Valkey.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

ENTRY_MAX_ARGC = 32
ENTRY_MAX_STRING = 128

LOG_TYPES = ("slow", "large-request", "large-reply")
THRESHOLD_DIRECTIVE = {
    "slow": "commandlog-execution-slower-than",
    "large-request": "commandlog-request-larger-than",
    "large-reply": "commandlog-reply-larger-than",
}
MAX_LEN_DIRECTIVE = {
    "slow": "commandlog-slow-execution-max-len",
    "large-request": "commandlog-large-request-max-len",
    "large-reply": "commandlog-large-reply-max-len",
}


@dataclass(frozen=True, slots=True)
class CommandLogEntry:
    id: int
    time: int
    value: int
    argv: tuple[bytes, ...]
    addr: str
    name: bytes


def trim_argv(argv: list[bytes]) -> tuple[bytes, ...]:
    """The arguments as an entry keeps them (32 at most, 128 bytes each)."""
    argc = len(argv)
    kept = min(argc, ENTRY_MAX_ARGC)
    out: list[bytes] = []
    for i in range(kept):
        if kept != argc and i == kept - 1:
            out.append(b"... (%d more arguments)" % (argc - kept + 1))
        elif len(argv[i]) > ENTRY_MAX_STRING:
            extra = len(argv[i]) - ENTRY_MAX_STRING
            out.append(argv[i][:ENTRY_MAX_STRING] + b"... (%d more bytes)" % extra)
        else:
            out.append(argv[i])
    return tuple(out)


class CommandLog:
    """One log type's entries and its entry id counter (ids survive RESET, as in Valkey)."""

    def __init__(self, max_len: int) -> None:
        self.entries: deque[CommandLogEntry] = deque()
        self.max_len = max_len
        self.next_id = 0

    def push(self, argv: list[bytes], value: int, addr: str, name: bytes, now_s: int) -> None:
        entry = CommandLogEntry(self.next_id, now_s, value, trim_argv(argv), addr, name)
        self.next_id += 1
        self.entries.appendleft(entry)
        self.trim()

    def trim(self) -> None:
        while len(self.entries) > self.max_len:
            self.entries.pop()

    def latest(self, count: int) -> list[CommandLogEntry]:
        """The newest ``count`` entries (all of them for -1)."""
        if count < 0 or count >= len(self.entries):
            return list(self.entries)
        return [self.entries[i] for i in range(count)]

    def reset(self) -> None:
        self.entries.clear()


class CommandLogs:
    """The three logs with their thresholds; ``slow_threshold`` is read on every command."""

    def __init__(self) -> None:
        self.logs = {kind: CommandLog(128) for kind in LOG_TYPES}
        self.thresholds = {kind: 0 for kind in LOG_TYPES}
        self.slow_threshold = 10000
        self.slow = self.logs["slow"]

    def configure(self, kind: str, threshold: int, max_len: int) -> None:
        """New settings; like Valkey, a shorter max-len trims at the next entry, not now."""
        self.thresholds[kind] = threshold
        self.logs[kind].max_len = max_len
        if kind == "slow":
            self.slow_threshold = threshold
