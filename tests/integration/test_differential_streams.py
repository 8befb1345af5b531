"""Stream commands, byte for byte against a real valkey-server 8.1.8 (RESP2 and RESP3).

Hypothesis draws command sequences over two stream keys (plus a string key for WRONGTYPE and
a missing key) with explicit IDs, since IDs generated from the clock differ between the two
servers; ``*`` is checked on its own. Every reply must be identical except the fields that
print a clock reading (idle and inactive times, seen/active/delivery timestamps): those are
compared by shape only. After each sequence both datasets must have the same DEBUG DIGEST.
A second test compares what each write puts on the replication stream.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import (
    Differ,
    RawClient,
    ReplyTree,
    dump_reply_tree,
    harness_propagation,
    parse_reply_tree,
    real_propagation,
)
from tests.realvalkey import ServerProcess, start_valkey, start_valsync
from tests.unit.cmdutil import Harness
from valsync.commands import BlockRequest
from valsync.resp import encode

KEYS = ["s1", "s1", "s2", "str", "nokey"]
IDS = ["1-1", "1-2", "1", "2-0", "2-5", "3", "5-0", "0-1", "0-0", "10", "1-*", "2-*", "abc", "+"]
ODD_IDS = [
    "18446744073709551615-18446744073709551615",
    "18446744073709551615-*",
    "18446744073709551615",
    "18446744073709551616",
    "-1",
    " 5",
    "+5",
    "007-1",
    "1-",
    "-",
    "1-1-1",
    "0x10",
    "3-18446744073709551615",
]
BOUNDS = [
    "-",
    "+",
    "1",
    "1-2",
    "(1-1",
    "(2",
    "2-5",
    "3",
    "(0-0",
    "x",
    "(+",
    "5",
    "(-",
    "(18446744073709551615-18446744073709551615",
    "(",
    "-5",
]
GROUPS = ["g1", "g1", "g2"]
CONSUMERS = ["c1", "c2", "c3"]
COUNTS = ["0", "1", "2", "3", "10", "-1", "x"]

Tree = ReplyTree


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    proc = start_valkey(os.environ.get("STREAM_VALKEY", "8.1.8"))
    yield proc
    proc.stop()


# --- normalisation of clock readings ---------------------------------------------------------


_CLOCK_KEYS = {b"idle", b"inactive", b"seen-time", b"active-time"}
_TIME = (b":T\r\n", b"")


def _is_int(node: Tree) -> bool:
    return node[0][:1] == b":"


def _scrub(node: Tree, xpending: bool) -> Tree:
    """Replace integers that read the clock: values after clock keys, absolute timestamps,
    and the idle column of XPENDING's extended form."""
    line, body = node
    if not isinstance(body, list):
        if _is_int(node) and abs(int(line[1:-2])) >= 10**12:
            return _TIME
        return node
    out = [_scrub(c, xpending) for c in body]
    for i in range(len(out) - 1):
        if out[i][1] in (b"idle\r\n", b"inactive\r\n") and _is_int(out[i + 1]):
            if out[i + 1][0] != b":-1\r\n":
                out[i + 1] = _TIME
    if xpending and len(out) == 4 and _is_int(out[2]) and out[1][0][:1] == b"$":
        out[2] = _TIME
    return line, out


def normalise(argv: list[str], raw: bytes) -> bytes:
    name = argv[0].upper()
    if name in ("XPENDING", "XINFO"):
        return dump_reply_tree(_scrub(parse_reply_tree(raw)[0], name == "XPENDING"))
    return raw


# --- strategies ------------------------------------------------------------------------------

key = st.sampled_from(KEYS)
sid = st.one_of(st.sampled_from(IDS), st.sampled_from(ODD_IDS))
bound = st.sampled_from(BOUNDS)
group = st.sampled_from(GROUPS)
consumer = st.sampled_from(CONSUMERS)
count = st.sampled_from(COUNTS)
fields = st.lists(st.sampled_from(["a", "b", "12", "x" * 70, ""]), min_size=1, max_size=3)


@st.composite
def xadd(draw: st.DrawFn) -> list[str]:
    argv = ["XADD", draw(key)]
    if draw(st.booleans()):
        argv.append("NOMKSTREAM")
    trim = draw(st.sampled_from(["", "MAXLEN", "MINID"]))
    if trim:
        argv.append(trim)
        argv += draw(st.sampled_from([[], ["="], ["~"]]))
        argv.append(draw(count) if trim == "MAXLEN" else draw(sid))
        if draw(st.booleans()):
            argv += ["LIMIT", draw(count)]
    argv.append(draw(sid))
    for f in draw(fields):
        argv += [f, draw(st.sampled_from(["1", "v", "-5", "yy"]))]
    if draw(st.integers(0, 9)) == 0:
        argv.pop()
    return argv


@st.composite
def ranges(draw: st.DrawFn) -> list[str]:
    argv = [draw(st.sampled_from(["XRANGE", "XREVRANGE"])), draw(key), draw(bound), draw(bound)]
    if draw(st.booleans()):
        argv += ["COUNT", draw(count)]
    return argv


@st.composite
def xtrim(draw: st.DrawFn) -> list[str]:
    trim = draw(st.sampled_from(["MAXLEN", "MINID"]))
    argv = ["XTRIM", draw(key), trim, *draw(st.sampled_from([[], ["="], ["~"]]))]
    argv.append(draw(count) if trim == "MAXLEN" else draw(sid))
    if draw(st.integers(0, 3)) == 0:
        argv += ["LIMIT", draw(count)]
    return argv


@st.composite
def xread(draw: st.DrawFn) -> list[str]:
    argv = ["XREAD"]
    if draw(st.booleans()):
        argv += ["COUNT", draw(count)]
    keys = draw(st.lists(key, min_size=1, max_size=2))
    argv += ["STREAMS", *keys, *[draw(st.sampled_from(["0", "$", "+", "1-1", "2"])) for _ in keys]]
    return argv


@st.composite
def xreadgroup(draw: st.DrawFn) -> list[str]:
    argv = ["XREADGROUP", "GROUP", draw(group), draw(consumer)]
    if draw(st.booleans()):
        argv += ["COUNT", draw(count)]
    if draw(st.integers(0, 3)) == 0:
        argv.append("NOACK")
    argv += ["STREAMS", draw(key), draw(st.sampled_from([">", ">", "0", "1-2", "$"]))]
    return argv


@st.composite
def xgroup(draw: st.DrawFn) -> list[str]:
    sub = draw(st.sampled_from(["CREATE", "SETID", "DESTROY", "CREATECONSUMER", "DELCONSUMER"]))
    argv = ["XGROUP", sub, draw(key), draw(group)]
    if sub in ("CREATE", "SETID"):
        argv.append(draw(st.sampled_from(["0", "$", "1-1", "2", "+", "x"])))
        if sub == "CREATE" and draw(st.booleans()):
            argv.append("MKSTREAM")
        if draw(st.integers(0, 3)) == 0:
            argv += ["ENTRIESREAD", draw(st.sampled_from(["0", "2", "-1", "-2", "x"]))]
    elif sub != "DESTROY":
        argv.append(draw(consumer))
    return argv


@st.composite
def group_admin(draw: st.DrawFn) -> list[str]:
    kind = draw(st.integers(0, 5))
    k, g = draw(key), draw(group)
    if kind == 0:
        return ["XACK", k, g, *draw(st.lists(sid, min_size=1, max_size=3))]
    if kind == 1:
        return ["XPENDING", k, g]
    if kind == 2:
        extra = draw(st.sampled_from([[], ["IDLE", "0"], ["IDLE", "100000"]]))
        tail = draw(st.sampled_from([[], [draw(consumer)]]))
        return ["XPENDING", k, g, *extra, draw(bound), draw(bound), draw(count), *tail]
    if kind == 3:
        argv = ["XCLAIM", k, g, draw(consumer), "0", *draw(st.lists(sid, min_size=1, max_size=3))]
        argv += draw(
            st.sampled_from(
                [[], ["JUSTID"], ["FORCE"], ["RETRYCOUNT", "5"], ["LASTID", "2-0"], ["TIME", "1"]]
            )
        )
        return argv
    if kind == 4:
        argv = ["XAUTOCLAIM", k, g, draw(consumer), "0", draw(bound)]
        if draw(st.booleans()):
            argv += ["COUNT", draw(count)]
        if draw(st.booleans()):
            argv.append("JUSTID")
        return argv
    return ["XINFO", draw(st.sampled_from(["GROUPS", "CONSUMERS"])), k, g][: 3 + (kind % 2)]


@st.composite
def misc(draw: st.DrawFn) -> list[str]:
    kind = draw(st.integers(0, 4))
    k = draw(key)
    if kind == 0:
        return ["XLEN", k]
    if kind == 1:
        return ["XDEL", k, *draw(st.lists(sid, min_size=1, max_size=3))]
    if kind == 2:
        return [
            "XINFO",
            "STREAM",
            k,
            *draw(st.sampled_from([[], ["FULL"], ["FULL", "COUNT", "1"]])),
        ]
    if kind == 3:
        opts = draw(st.sampled_from([[], ["ENTRIESADDED", "10"], ["MAXDELETEDID", "1-1"]]))
        target = draw(
            st.sampled_from(
                ["5-0", "10-0", "1-1", "0-0", "18446744073709551615-18446744073709551615"]
            )
        )
        return ["XSETID", k, target, *opts]
    return ["XREAD", "BLOCK", "10", "STREAMS", k, "0"]


STREAM_COMMANDS = st.one_of(
    xadd(), xadd(), ranges(), xtrim(), xread(), xreadgroup(), xgroup(), group_admin(), misc()
)
SETUP = [
    ["XADD", "s1", "1-1", "a", "1"],
    ["XADD", "s1", "1-2", "a", "2", "b", "3"],
    ["XADD", "s1", "2-0", "b", "12"],
    ["XGROUP", "CREATE", "s1", "g1", "0"],
]
STATE = [
    ["XINFO", "STREAM", "s1", "FULL"],
    ["XINFO", "STREAM", "s2"],
    ["XINFO", "GROUPS", "s1"],
    ["XRANGE", "s1", "-", "+"],
]

SETTINGS = settings(
    max_examples=int(os.environ.get("STREAM_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize="STREAM_EXAMPLES" not in os.environ,
)


def _both(differ: Differ, argv: list[str]) -> tuple[bytes, bytes]:
    """Like ``Differ.both``; a blocking read that would block answers its timeout reply (the
    real server waits out the 10 ms BLOCK)."""
    differ.harness.now_ms = int(time.time() * 1000)
    reply = differ.harness.run(*argv)
    if isinstance(reply, BlockRequest):
        reply = reply.timeout_reply
    out = bytearray()
    encode(reply, out, differ.resp)
    return bytes(out), differ.real.call(*argv)


def _run(differ: Differ, commands: list[list[str]]) -> None:
    differ.reset()
    assert differ.real.call("SET", "str", "x") == b"+OK\r\n"
    differ.harness.keyspace[0].set(b"str", b"x")
    for argv in SETUP + commands + STATE:
        mine, theirs = _both(differ, argv)
        assert normalise(argv, mine) == normalise(argv, theirs), (
            f"{argv}: valsync {mine!r} != valkey {theirs!r}"
        )
    differ.check_digest()


@pytest.mark.parametrize("resp", [2, 3])
@SETTINGS
@given(commands=st.lists(STREAM_COMMANDS, min_size=1, max_size=16))
def test_stream_commands_match_valkey(
    server: ServerProcess, resp: int, commands: list[list[str]]
) -> None:
    differ = Differ(server, resp=resp)
    try:
        _run(differ, commands)
    finally:
        differ.close()


NODE_SCRIPT = (
    [["XADD", "big", f"{i}-1", "f", str(i), "g", "x" * (i % 50)] for i in range(1, 260)]
    + [["XADD", "big", f"{i}-1", "other", "v"] for i in range(260, 280)]
    + [
        ["XINFO", "STREAM", "big"],
        ["DUMP", "big"],
        ["XDEL", "big", "5-1", "101-1", "150-1"],
        ["XTRIM", "big", "MAXLEN", "~", "150"],
        ["XINFO", "STREAM", "big"],
        ["XTRIM", "big", "MINID", "~", "200"],
        ["XADD", "big", "MAXLEN", "~", "30", "300-1", "f", "v"],
        ["XINFO", "STREAM", "big"],
        ["XTRIM", "big", "MAXLEN", "~", "10", "LIMIT", "5"],
        ["XTRIM", "big", "MINID", "=", "270"],
        ["XINFO", "STREAM", "big", "FULL", "COUNT", "3"],
        ["DUMP", "big"],
        ["XADD", "huge", "1-1", "f", "v" * 3000],
        ["XADD", "huge", "1-2", "f", "v" * 3000],
        ["XADD", "huge", "1-3", "f", "v"],
        ["XINFO", "STREAM", "huge"],
        ["XTRIM", "huge", "MAXLEN", "~", "1"],
        ["DUMP", "huge"],
        ["XADD", "empty", "1-1", "f", "v"],
        ["XDEL", "empty", "1-1"],
        ["DUMP", "empty"],
    ]
)


@pytest.mark.parametrize("resp", [2, 3])
def test_nodes_and_approximate_trimming_match_valkey(server: ServerProcess, resp: int) -> None:
    """Node boundaries (100 entries, 4096 bytes) decide ``~`` trimming and XINFO's counters;
    DUMP shows the node listpacks byte for byte."""
    differ = Differ(server, resp=resp)
    try:
        differ.reset()
        for argv in NODE_SCRIPT:
            differ.check(*argv)
        differ.check_digest()
    finally:
        differ.close()


def test_generated_ids_are_clock_based(server: ServerProcess) -> None:
    """``*`` and ``ms-*``: the ms part follows the clock, sequences follow Valkey's rules."""
    with RawClient(server.port) as real:
        real.call("FLUSHALL")
        h = Harness(now_ms=1000)
        for call in (real.call, h.wire):
            assert call("XADD", "k", "1000-*", "f", "v") == b"$6\r\n1000-0\r\n"
            assert call("XADD", "k", "1000-*", "f", "v") == b"$6\r\n1000-1\r\n"
            assert call("XADD", "k", "999-*", "f", "v").startswith(b"-ERR The ID specified")
            assert call("XADD", "k", "2000-*", "f", "v") == b"$6\r\n2000-0\r\n"
        h.now_ms = 1500
        assert h.wire("XADD", "k", "*", "f", "v") == b"$6\r\n2000-1\r\n"
        h.now_ms = 3000
        assert h.wire("XADD", "k", "*", "f", "v") == b"$6\r\n3000-0\r\n"
        before = int(time.time() * 1000)
        theirs = int(real.call("XADD", "k", "*", "f", "v").split(b"\r\n")[1].split(b"-")[0])
        h.now_ms = int(time.time() * 1000)
        mine = int(h.wire("XADD", "k", "*", "f", "v").split(b"\r\n")[1].split(b"-")[0])
        assert before <= theirs <= mine
        assert h.propagated[-1][1][2] == b"%d-0" % mine


PROPAGATION_SCRIPT = [
    ["XADD", "s", "1-1", "a", "1"],
    ["XADD", "s", "1-*", "a", "2"],
    ["XADD", "s", "MAXLEN", "~", "1", "5-*", "a", "3"],
    ["XADD", "s", "MAXLEN", "=", "10", "6", "a", "4"],
    ["XADD", "s", "MINID", "~", "0-1", "LIMIT", "100", "7-1", "a", "5"],
    ["XADD", "nokey", "NOMKSTREAM", "1-1", "a", "1"],
    ["XDEL", "s", "1-2", "99-0"],
    ["XDEL", "s", "99-0"],
    ["XTRIM", "s", "MAXLEN", "~", "0"],
    ["XTRIM", "s", "MAXLEN", "3"],
    ["XTRIM", "s", "MINID", "6"],
    ["XGROUP", "CREATE", "s", "g", "0"],
    ["XGROUP", "CREATE", "m", "g", "$", "MKSTREAM"],
    ["XGROUP", "CREATECONSUMER", "s", "g", "alice"],
    ["XGROUP", "CREATECONSUMER", "s", "g", "alice"],
    ["XREADGROUP", "GROUP", "g", "bob", "COUNT", "1", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "carol", "NOACK", "STREAMS", "s", ">"],
    ["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0"],
    ["XADD", "s", "8-0", "b", "1"],
    ["XADD", "s", "9-0", "b", "2"],
    ["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"],
    ["XACK", "s", "g", "8-0", "1-1"],
    ["XACK", "s", "g", "1-1"],
    ["XCLAIM", "s", "g", "dave", "0", "9-0", "RETRYCOUNT", "3"],
    ["XCLAIM", "s", "g", "dave", "0", "8-0", "FORCE", "JUSTID"],
    ["XCLAIM", "s", "g", "dave", "0", "5", "LASTID", "20-0"],
    ["XDEL", "s", "8-0"],
    ["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "5"],
    ["XPENDING", "s", "g"],
    ["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"],
    ["XGROUP", "DELCONSUMER", "s", "g", "bob"],
    ["XGROUP", "DELCONSUMER", "s", "g", "nobody"],
    ["XGROUP", "DESTROY", "s", "g"],
    ["XGROUP", "DESTROY", "s", "g"],
    ["XSETID", "s", "100-0", "ENTRIESADDED", "50"],
]


def _scrub_time(argv: list[bytes]) -> list[bytes]:
    if argv[0].upper() == b"XCLAIM" and len(argv) > 7 and argv[6] == b"TIME":
        return [*argv[:7], b"T", *argv[8:]]
    return argv


def test_propagation_matches_valkey() -> None:
    """What a replica receives for each stream write equals what valsync propagates
    (commands, arguments and MULTI/EXEC grouping; XCLAIM's TIME reads the clock)."""
    server = start_valkey("8.1.8", "--repl-diskless-sync", "no")
    try:
        real = real_propagation(server.port, PROPAGATION_SCRIPT)
    finally:
        server.stop()
    mine = harness_propagation(Harness(), PROPAGATION_SCRIPT)
    assert [_scrub_time(a) for a in mine] == [_scrub_time(a) for a in real]


def _events(server: ServerProcess, script: list[list[str]]) -> list[tuple[bytes, bytes]]:
    """(channel, key) of every keyspace event the script raises, in order."""
    with RawClient(server.port) as admin, RawClient(server.port) as sub:
        assert admin.call("CONFIG", "SET", "notify-keyspace-events", "KEA") == b"+OK\r\n"
        sub.call("PSUBSCRIBE", "__keyevent@0__:*")
        for argv in script:
            admin.call(*argv)
        admin.call("XADD", "events-end", "1-1", "f", "v")
        got: list[tuple[bytes, bytes]] = []
        while True:
            msg = parse_reply_tree(sub.read_reply())[0][1]
            assert isinstance(msg, list)
            channel, key = (dump_reply_tree(m).split(b"\r\n")[1] for m in msg[2:4])
            if key == b"events-end":
                return got
            got.append((channel, key))


def test_keyspace_events_match_valkey(server: ServerProcess) -> None:
    """Every stream write raises Valkey's events (xadd, xtrim, xdel, xgroup-*, xsetid, and
    the generic ones), in the same order."""
    mine = start_valsync()
    try:
        with RawClient(server.port) as c:
            c.call("FLUSHALL")
        assert _events(mine, PROPAGATION_SCRIPT) == _events(server, PROPAGATION_SCRIPT)
    finally:
        mine.stop()


BLOCKING_SCENARIOS: list[tuple[list[str], list[list[str]], list[list[str]]]] = [
    # (setup, blocked command, writes from another client)
    (
        [["XADD", "s", "1-1", "f", "v"]],
        ["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        [["XADD", "s", "2-1", "g", "w"]],
    ),
    ([], ["XREAD", "BLOCK", "50", "STREAMS", "s", "$"], []),
    (
        [],
        ["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s1", "s2", "$", "$"],
        [["XADD", "s2", "3-3", "a", "b"]],
    ),
    (
        [["XADD", "s", "1-1", "f", "v"]],
        ["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        [["DEL", "s"], ["SET", "s", "x"], ["DEL", "s"], ["XADD", "s", "1-5", "h", "1"]],
    ),
    (
        [["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]],
        ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
        [["XADD", "s", "5-0", "f", "v"], ["XPENDING", "s", "g"]],
    ),
    (
        [["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]],
        ["XREADGROUP", "GROUP", "g", "c", "NOACK", "BLOCK", "0", "STREAMS", "s", ">"],
        [["XADD", "s", "5-0", "f", "v"]],
    ),
    (
        [["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]],
        ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
        [["XGROUP", "DESTROY", "s", "g"]],
    ),
    (
        [["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]],
        ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
        [["DEL", "s"]],
    ),
    (
        [["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]],
        ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
        [["SWAPDB", "0", "9"]],
    ),
    (
        [["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]],
        ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "50", "STREAMS", "s", ">"],
        [],
    ),
]


def _blocked_client_seen(admin: RawClient) -> bool:
    return b"cmd=xread" in admin.call("CLIENT", "LIST")


def _run_blocking(
    port: int, setup: list[list[str]], blocked: list[str], writes: list[list[str]], resp: int
) -> list[bytes]:
    with RawClient(port) as admin, RawClient(port) as reader:
        admin.call("FLUSHALL")
        if resp == 3:
            reader.call("HELLO", "3")
        out = [admin.call(*argv) for argv in setup]
        reader.send(*blocked)
        for _ in range(200):
            if _blocked_client_seen(admin):
                break
            time.sleep(0.01)
        for argv in writes:
            out.append(admin.call(*argv))
        out.append(reader.read_reply())
        out.append(admin.call("XINFO", "GROUPS", "s") if setup else b"")
        return out


@pytest.mark.parametrize("resp", [2, 3])
def test_blocking_reads_match_valkey(server: ServerProcess, resp: int) -> None:
    """XREAD / XREADGROUP BLOCK on a valsync server: served by a later XADD (``$`` kept as the
    ID it stood for when the client blocked), left blocked by a key of another type, timed
    out, or ended with NOGROUP when the group or key goes away, exactly as Valkey answers."""
    mine = start_valsync()
    try:
        for setup, blocked, writes in BLOCKING_SCENARIOS:
            theirs = _run_blocking(server.port, setup, blocked, writes, resp)
            assert _run_blocking(mine.port, setup, blocked, writes, resp) == theirs, blocked
    finally:
        mine.stop()


SMALL_NODES_SCRIPT = [
    ["CONFIG", "SET", "stream-node-max-entries", "3"],
    ["CONFIG", "SET", "stream-node-max-bytes", "120"],
    ["CONFIG", "GET", "stream-node-max-entries"],
    ["CONFIG", "GET", "stream-node-max-bytes"],
    *[["XADD", "s", f"{i}-0", "f", "v" * (i % 5 * 9)] for i in range(1, 30)],
    ["XINFO", "STREAM", "s"],
    ["XTRIM", "s", "MAXLEN", "~", "10"],
    ["XADD", "s", "MAXLEN", "~", "5", "LIMIT", "6", "40-0", "f", "v"],
    ["XINFO", "STREAM", "s"],
    ["DUMP", "s"],
    ["CONFIG", "SET", "stream-node-max-entries", "0"],
    ["CONFIG", "SET", "stream-node-max-bytes", "0"],
    *[["XADD", "s", f"{i}-0", "f", "x" * 100] for i in range(50, 90)],
    ["XINFO", "STREAM", "s"],
    ["XTRIM", "s", "MINID", "~", "70"],
    ["XINFO", "STREAM", "s"],
]


def test_node_limits_follow_config_set(server: ServerProcess) -> None:
    """CONFIG SET stream-node-max-entries / -bytes change where XADD starts a node, and so
    what ``~`` trims, XINFO STREAM and DUMP show; 0 lifts a limit."""
    mine = start_valsync()
    try:
        with RawClient(server.port) as real, RawClient(mine.port) as ours:
            real.call("FLUSHALL")
            for argv in SMALL_NODES_SCRIPT:
                assert ours.call(*argv) == real.call(*argv), argv
    finally:
        with RawClient(server.port) as real:
            real.call("CONFIG", "SET", "stream-node-max-entries", "100")
            real.call("CONFIG", "SET", "stream-node-max-bytes", "4096")
        mine.stop()


def _first_blocked_first_served(port: int) -> list[bytes]:
    with RawClient(port) as admin, RawClient(port) as first, RawClient(port) as second:
        admin.call("FLUSHALL")
        admin.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        for client, name in ((first, "one"), (second, "two")):
            client.send("XREADGROUP", "GROUP", "g", name, "BLOCK", "0", "STREAMS", "s", ">")
            for _ in range(200):
                if admin.call("CLIENT", "LIST").count(b"cmd=xreadgroup") == (
                    1 if name == "one" else 2
                ):
                    break
                time.sleep(0.01)
        out = [admin.call("XADD", "s", "1-1", "f", "v"), first.read_reply()]
        out.append(admin.call("XPENDING", "s", "g"))
        out += [admin.call("XADD", "s", "2-1", "f", "w"), second.read_reply()]
        out.append(admin.call("XPENDING", "s", "g"))
        return out


def test_blocked_readers_are_served_in_blocking_order(server: ServerProcess) -> None:
    """Two consumers blocked on one group: each XADD goes to the one that blocked first, and
    the PEL shows it before the writer's next command runs."""
    mine = start_valsync()
    try:
        assert _first_blocked_first_served(mine.port) == _first_blocked_first_served(server.port)
    finally:
        mine.stop()


def _hangup_while_blocked(port: int) -> list[bytes]:
    with RawClient(port) as admin:
        admin.call("FLUSHALL")
        admin.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        reader = RawClient(port)
        reader.send("XREADGROUP", "GROUP", "g", "gone", "BLOCK", "0", "STREAMS", "s", ">")
        for _ in range(200):
            if b"cmd=xreadgroup" in admin.call("CLIENT", "LIST"):
                break
            time.sleep(0.01)
        reader.close()
        for _ in range(200):
            if b"cmd=xreadgroup" not in admin.call("CLIENT", "LIST"):
                break
            time.sleep(0.01)
        return [admin.call("XADD", "s", "1-1", "f", "v"), admin.call("XPENDING", "s", "g")]


def test_a_blocked_client_that_hangs_up_is_not_served(server: ServerProcess) -> None:
    """A blocked reader whose connection closes is gone at once: a later XADD creates no
    pending entry for it."""
    mine = start_valsync()
    try:
        assert _hangup_while_blocked(mine.port) == _hangup_while_blocked(server.port)
    finally:
        mine.stop()
