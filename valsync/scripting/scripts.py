"""The EVAL script cache and the shebang line (sans-IO), as Valkey's ``eval.c`` keeps them.

A script is known by the SHA1 of its body. Scripts added by EVAL sit in an LRU list of at
most 500 and the oldest is evicted; SCRIPT LOAD scripts are never evicted (and loading an
EVAL'd script promotes it). A body may start with ``#!lua flags=a,b``: the flags replace the
command's (``no-writes`` makes the script read-only, ``allow-stale``, ``allow-oom``, ...);
without a shebang the script runs in compatibility mode.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

NO_WRITES = "no-writes"
ALLOW_OOM = "allow-oom"
ALLOW_STALE = "allow-stale"
NO_CLUSTER = "no-cluster"
ALLOW_CROSS_SLOT = "allow-cross-slot-keys"
SCRIPT_FLAGS = (NO_WRITES, ALLOW_OOM, ALLOW_STALE, NO_CLUSTER, ALLOW_CROSS_SLOT)
EVAL_LRU_LENGTH = 500


class ShebangError(Exception):
    """The reply text (without ``ERR``) of a malformed shebang line."""


@dataclass(frozen=True, slots=True)
class Shebang:
    flags: frozenset[str]
    compat: bool
    length: int
    """Bytes of the shebang line (its newline is kept, so line numbers stay right)."""


def parse_shebang(body: bytes) -> Shebang:
    """``evalExtractShebangFlags``."""
    if not body.startswith(b"#!"):
        return Shebang(frozenset(), True, 0)
    end = body.find(b"\n")
    if end < 0:
        raise ShebangError("Invalid script shebang")
    parts = body[:end].split()
    engine = parts[0][2:]
    if engine.lower() != b"lua":
        raise ShebangError(f"Could not find scripting engine '{engine.decode('utf-8', 'replace')}'")
    flags: set[str] = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise ShebangError(f"Unknown lua shebang option: {part.decode('utf-8', 'replace')}")
        for flag in part[6:].split(b",") if part[6:] else ():
            name = flag.decode("utf-8", "replace")
            if name not in SCRIPT_FLAGS:
                raise ShebangError(f"Unexpected flag in script shebang: {name}")
            flags.add(name)
    return Shebang(frozenset(flags), False, end)


def sha1hex(body: bytes) -> str:
    return hashlib.sha1(body).hexdigest()


@dataclass
class Script:
    sha: str
    body: bytes
    shebang: Shebang
    function: Any
    evictable: bool


class ScriptCache:
    """SHA1 -> compiled script, with the EVAL LRU of Valkey (``luaScriptsLRUAdd``)."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.lru: OrderedDict[str, None] = OrderedDict()
        self.evicted = 0

    def get(self, sha: str) -> Script | None:
        return self.scripts.get(sha.lower())

    def add(self, script: Script) -> None:
        if script.evictable:
            while len(self.lru) >= EVAL_LRU_LENGTH:
                oldest, _ = self.lru.popitem(last=False)
                del self.scripts[oldest]
                self.evicted += 1
            self.lru[script.sha] = None
        self.scripts[script.sha] = script

    def promote(self, script: Script) -> None:
        """SCRIPT LOAD of a script EVAL added: it is no longer evicted."""
        if script.evictable:
            script.evictable = False
            self.lru.pop(script.sha, None)

    def touch(self, script: Script) -> None:
        if script.evictable:
            self.lru.move_to_end(script.sha)

    def clear(self) -> None:
        self.scripts.clear()
        self.lru.clear()

    def memory(self) -> int:
        return sum(len(s.body) + 40 for s in self.scripts.values())
