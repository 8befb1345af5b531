"""COMMAND, COMMAND INFO/DOCS/LIST/COUNT/GETKEYS against valkey-server 8.1.8 (9.1.2 for the
commands 9.x added), byte for byte in RESP2 and RESP3, and the coverage of Valkey's commands.

Container commands (CLIENT, CONFIG, OBJECT...) list their subcommands in hash-table order,
which differs from process to process even between two real servers, so their entries are
compared with the subcommand list sorted.
"""

from __future__ import annotations

from collections.abc import Iterator

import hiredis
import pytest

from tests.differential import RawClient
from tests.realvalkey import ServerProcess, start_valkey, start_valsync
from tests.unit.cmdutil import Harness
from valsync.commands import COMMANDS
from valsync.commands.command_table import table

# Families that other issues own (the test does not expect them here).
OTHER_ISSUES = {
    "pubsub": {"publish", "subscribe", "psubscribe", "unsubscribe", "punsubscribe", "pubsub"}
    | {"spublish", "ssubscribe", "sunsubscribe"},
    "scripting": {"eval", "evalsha", "eval_ro", "evalsha_ro", "script", "function", "fcall"}
    | {"fcall_ro"},
    "acl": {"acl"},
    "cluster": {"cluster", "asking", "readonly", "readwrite"},
}
# Families being built now; when one lands, remove it here (the test fails until then, so this
# list stays true), and its COMMAND INFO/DOCS come from the table with no further work.
NOT_YET_LANDED = {
    "server": {"bgrewriteaof"},
}

GETKEYS_CASES = [
    ["get", "a"],
    ["set", "a", "b"],
    ["set", "a", "b", "GET"],
    ["mset", "a", "1", "b", "2"],
    ["lmove", "a", "b", "left", "right"],
    ["zunionstore", "d", "2", "a", "b"],
    ["zunionstore", "d", "x", "a", "b"],
    ["blpop", "a", "b", "0"],
    ["object", "freq", "k"],
    ["object", "help"],
    ["restore", "k", "0", "p"],
    ["copy", "a", "b"],
    ["ping"],
    ["get"],
    ["get", "a", "b"],
    ["nosuch", "a"],
    ["georadius", "k", "0", "0", "1", "km", "STORE", "d"],
    ["bitfield", "a", "GET", "u8", "0"],
    ["bitfield", "a", "SET", "u8", "0", "1"],
    ["zinter", "2", "a", "b"],
    ["sort", "a", "BY", "x", "LIMIT", "0", "1", "STORE", "b"],
    ["sort_ro", "a", "GET", "#"],
]


@pytest.fixture(scope="module")
def server8() -> Iterator[ServerProcess]:
    with start_valkey("8.1.8") as server:
        yield server


@pytest.fixture(scope="module")
def server9() -> Iterator[ServerProcess]:
    with start_valkey("9.1.2") as server:
        yield server


def _normalized(raw: bytes) -> object:
    """A COMMAND INFO/DOCS reply parsed, with containers' subcommands in sorted order."""
    reader = hiredis.Reader()
    reader.feed(raw)
    reply = reader.gets()

    def walk(node: object) -> object:
        if isinstance(node, list):
            items = [walk(n) for n in node]
            if len(items) == 10 and isinstance(items[0], bytes) and isinstance(items[9], list):
                items[9] = sorted(items[9], key=repr)
            return items
        if isinstance(node, dict):
            return sorted(((walk(k), walk(v)) for k, v in node.items()), key=repr)
        return node

    return walk(reply)


@pytest.mark.parametrize("resp", [2, 3])
def test_info_and_docs_match_valkey(
    server8: ServerProcess, server9: ServerProcess, resp: int
) -> None:
    h = Harness()
    reals = {8: RawClient(server8.port), 9: RawClient(server9.port)}
    try:
        for real in reals.values():
            real.call("HELLO", resp)
        for name in COMMANDS:
            real = reals[9 if "since_valkey" in table().get(name, {}) else 8]
            for sub in ("INFO", "DOCS"):
                mine = h.wire("COMMAND", sub, name, resp=resp)
                theirs = real.call("COMMAND", sub, name)
                if mine != theirs:
                    assert _normalized(mine) == _normalized(theirs), (sub, name)
        for args in (
            ["COMMAND", "INFO", "nosuch", "get", "object|freq", "GET"],
            ["COMMAND", "DOCS", "nosuch", "object|freq", "Get"],
            ["COMMAND", "HELP"],
            ["COMMAND", "FOO"],
            ["COMMAND", "COUNT", "x"],
            ["COMMAND", "HELP", "x"],
            ["COMMAND", "LIST", "FILTERBY", "nope", "x"],
            ["COMMAND", "LIST", "FILTERBY", "PATTERN"],
            ["COMMAND", "LIST", "x"],
            ["COMMAND", "LIST", "FILTERBY", "MODULE", "x"],
        ):
            assert h.wire(*args, resp=resp) == reals[8].call(*args), args
    finally:
        for real in reals.values():
            real.close()


def _names(raw: bytes) -> set[bytes]:
    reader = hiredis.Reader()
    reader.feed(raw)
    return set(reader.gets())


def test_count_list_and_filters(server8: ServerProcess) -> None:
    h = Harness()
    real = RawClient(server8.port)
    try:
        implemented = {n.encode() for n in COMMANDS}

        def ours(names: set[bytes]) -> set[bytes]:
            return {n for n in names if n.split(b"|")[0] in implemented}

        assert h.wire("COMMAND", "COUNT") == b":%d\r\n" % len(COMMANDS)
        nine = {n.encode() for n, e in table().items() if "since_valkey" in e}
        mine = _names(h.wire("COMMAND", "LIST"))
        assert {n for n in mine if n not in nine} == ours(_names(real.call("COMMAND", "LIST")))
        for kind, arg in (("PATTERN", "z*"), ("PATTERN", "OBJECT|*"), ("ACLCAT", "hash")):
            mine = _names(h.wire("COMMAND", "LIST", "FILTERBY", kind, arg))
            theirs = _names(real.call("COMMAND", "LIST", "FILTERBY", kind, arg))
            assert {n for n in mine if n not in nine} == ours(theirs), (kind, arg)
        everything = _normalized(h.wire("COMMAND"))
        assert isinstance(everything, list) and len(everything) == len(COMMANDS)
    finally:
        real.close()


@pytest.mark.parametrize("resp", [2, 3])
def test_getkeys_match_valkey(server8: ServerProcess, resp: int) -> None:
    h = Harness()
    real = RawClient(server8.port)
    try:
        real.call("HELLO", resp)
        for line in GETKEYS_CASES:
            if line[0] not in COMMANDS and line[0] != "nosuch":
                continue
            for sub in ("GETKEYS", "GETKEYSANDFLAGS"):
                args = ["COMMAND", sub, *line]
                assert h.wire(*args, resp=resp) == real.call(*args), args
    finally:
        real.close()


def test_every_valkey_command_is_here_or_owned_elsewhere(server8: ServerProcess) -> None:
    """Valkey 8.1.8's commands, minus the families of other issues and those not landed yet,
    all exist in valsync; a family listed as not landed that has landed fails the test."""
    real = RawClient(server8.port)
    try:
        valkey_names = {n.decode() for n in _names(real.call("COMMAND", "LIST")) if b"|" not in n}
    finally:
        real.close()
    elsewhere = set().union(*OTHER_ISSUES.values())
    pending = set().union(*NOT_YET_LANDED.values())
    landed = {n for n in pending if n in COMMANDS}
    assert not landed, f"landed, remove from NOT_YET_LANDED: {sorted(landed)}"
    missing = valkey_names - elsewhere - pending - set(COMMANDS)
    assert not missing, f"Valkey 8.1.8 commands valsync lacks: {sorted(missing)}"


def test_every_write_a_valkey_9_primary_streams_applies(server9: ServerProcess) -> None:
    """valsync announces 9.1.2 to its primaries: each write command of 9.1.2's table exists
    here (the families of other issues and those not landed yet aside), so none of them can
    reach a valsync replica as an unknown command."""
    real = RawClient(server9.port)
    try:
        real.call("HELLO", 3)
        reader = hiredis.Reader()
        reader.feed(real.call("COMMAND"))
        entries = reader.gets()
    finally:
        real.close()
    writes = set()
    for entry in entries.values() if isinstance(entries, dict) else entries:
        name, flags = entry[0], entry[2]
        name = name.decode() if isinstance(name, bytes) else name
        flags = {f.decode() if isinstance(f, bytes) else f for f in flags}
        if "write" in flags or "may_replicate" in flags:
            writes.add(name)
    elsewhere = set().union(*OTHER_ISSUES.values(), *NOT_YET_LANDED.values())
    missing = writes - elsewhere - set(COMMANDS)
    assert not missing, f"9.1.2 write commands valsync lacks: {sorted(missing)}"
    assert {"msetex", "delifeq", "restore", "migrate"} <= set(COMMANDS)


def test_module_and_cluster_answer_like_valkey_without_them(server8: ServerProcess) -> None:
    """MODULE (no module loaded) and CLUSTER/ASKING (no cluster mode), as 8.1.8 answers."""
    cases = [
        ("MODULE", "HELP"),
        ("MODULE", "LIST"),
        ("MODULE", "LOAD", "/nonexistent.so"),
        ("MODULE", "UNLOAD", "x"),
        ("MODULE", "FOO"),
        ("MODULE", "LIST", "x"),
        ("CLUSTER", "INFO"),
        ("CLUSTER", "FOO"),
        ("ASKING",),
        ("EVAL", "return redis.pcall('cluster','reset')", "0"),
        ("EVAL", "return redis.pcall('cluster','info')", "0"),
    ]
    with start_valsync() as mine, RawClient(mine.port) as ours, RawClient(server8.port) as real:
        assert [ours.call(*c) for c in cases] == [real.call(*c) for c in cases]
