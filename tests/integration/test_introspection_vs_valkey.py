"""Introspection, valsync vs real valkey-server 8.1.8: INFO commandstats/errorstats/latencystats,
SLOWLOG/COMMANDLOG, MONITOR (also on replicas of a real primary), LATENCY.

Both servers get the same script over raw sockets. Replies are compared byte for byte where
they are deterministic; where they carry times, durations, client ports or entry ids, those
fields are masked (or made relative) and everything else must still be equal.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import hiredis
import pytest

from tests.differential import RawClient
from tests.integration.support import connect, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

# A command script with rejected calls, failed calls, errors inside and outside MULTI,
# subcommands, and a blocking command that times out. Valkey 8.1.8's features valsync has.
STATS_SCRIPT: list[list[str]] = [
    ["set", "a", "1"],
    ["get"],
    ["nosuch", "x"],
    ["lpush", "a", "x"],
    ["incr", "a"],
    ["set", "s", "x"],
    ["incr", "s"],
    ["multi"],
    ["set", "k", "v"],
    ["incr", "s"],
    ["exec"],
    ["multi"],
    ["get"],
    ["exec"],
    ["client", "getname"],
    ["client", "nosuch"],
    ["client", "setname", "a b"],
    ["client", "setname"],
    ["config", "get", "maxmemory"],
    ["object", "encoding", "nokey"],
    ["blpop", "nokey", "0.01"],
    ["auth", "x"],
    ["select", "99"],
    ["exec"],
    ["client", "list", "id", "x"],
    ["multi"],
    ["multi"],
    ["discard"],
    ["hset", "h", "f"],
    ["zadd", "z", "nan", "m"],
    ["slowlog", "len", "x"],
    ["eval", "return redis.call('incr','s')", "0"],
    ["eval", "return redis.pcall('incr','s')", "0"],
    ["eval", "redis.call('set','e','1') return redis.call('get','e')", "0"],
    ["evalsha", "x", "0"],
]


@pytest.fixture
def pair() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """A fresh real 8.1.8 and a fresh valsync (entry ids and counters start from zero)."""
    real = start_valkey("8.1.8", "--enable-debug-command", "yes")
    mine = start_valsync("--enable-debug-command", "yes")
    try:
        yield real, mine
    finally:
        mine.stop()
        real.stop()


def _parse(raw: bytes) -> object:
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


def _info(client: RawClient, section: str) -> dict[str, str]:
    text = client.call("INFO", section).split(b"\r\n", 1)[1].decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if line and ":" in line)


def _fields(value: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in value.split(","))


def _run_script(server: ServerProcess, script: list[list[str]]) -> list[bytes]:
    with RawClient(server.port) as c:
        c.call("CONFIG", "RESETSTAT")
        return [c.call(*cmd) for cmd in script]


def test_commandstats_errorstats_latencystats_match(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    real, mine = pair
    assert _run_script(mine, STATS_SCRIPT) == _run_script(real, STATS_SCRIPT)
    with RawClient(real.port) as rc, RawClient(mine.port) as mc:
        theirs_stats, mine_stats = _info(rc, "stats"), _info(mc, "stats")
        for field in ("total_commands_processed", "total_error_replies"):
            assert mine_stats[field] == theirs_stats[field], field
        theirs, ours = _info(rc, "commandstats"), _info(mc, "commandstats")
        assert set(ours) == set(theirs)
        for name, value in theirs.items():
            t, m = _fields(value), _fields(ours[name])
            assert list(m) == list(t), name
            for counter in ("calls", "rejected_calls", "failed_calls"):
                assert m[counter] == t[counter], (name, counter)
        # errorstats is fully deterministic: byte for byte
        assert mc.call("INFO", "errorstats") == rc.call("INFO", "errorstats")
        theirs, ours = _info(rc, "latencystats"), _info(mc, "latencystats")
        assert set(ours) == set(theirs)
        for name, value in ours.items():
            assert list(_fields(value)) == ["p50", "p99", "p99.9"], name
        # CONFIG RESETSTAT empties all three
        for c in (rc, mc):
            c.call("CONFIG", "RESETSTAT")
        assert mc.call("INFO", "errorstats") == rc.call("INFO", "errorstats")
        for section in ("commandstats", "latencystats"):
            assert set(_info(mc, section)) == set(_info(rc, section))


def test_latency_tracking_percentiles_config(pair: tuple[ServerProcess, ServerProcess]) -> None:
    real, mine = pair
    script = [
        ["CONFIG", "SET", "latency-tracking-info-percentiles", "1e1 0.5000 100"],
        ["CONFIG", "GET", "latency-tracking-info-percentiles"],
        ["CONFIG", "SET", "latency-tracking-info-percentiles", "101"],
        ["CONFIG", "SET", "latency-tracking-info-percentiles", "50 x"],
        ["CONFIG", "RESETSTAT"],
        ["PING"],
    ]
    assert _run_script(mine, script) == _run_script(real, script)
    with RawClient(real.port) as rc, RawClient(mine.port) as mc:
        t, m = _info(rc, "latencystats"), _info(mc, "latencystats")
        assert set(t) == set(m)
        for name in t:
            assert list(_fields(m[name])) == list(_fields(t[name])) == ["p10", "p0.5", "p100"]
        for c in (rc, mc):
            c.call("CONFIG", "SET", "latency-tracking", "no")
            c.call("CONFIG", "RESETSTAT")
            c.call("PING")
        assert mc.call("INFO", "latencystats") == rc.call("INFO", "latencystats")


SLOWLOG_SCRIPT: list[list[str]] = [
    ["CONFIG", "SET", "slowlog-log-slower-than", "0"],
    ["SLOWLOG", "RESET"],
    ["CLIENT", "SETNAME", "foo"],
    ["SET", "a", "b"],
    ["SET", "x" * 200, "v"],
    ["RPUSH", "l", *[str(i) for i in range(40)]],
    ["GET"],
    ["AUTH", "pw"],
    ["HELLO", "2", "AUTH", "nobody", "pw"],
    ["CONFIG", "SET", "requirepass", ""],
    ["MULTI"],
    ["SET", "m", "1"],
    ["EXEC"],
    ["BLPOP", "nokey", "0.01"],
    ["INCR", "a"],
    ["EVAL", "redis.call('set','e','1') return redis.call('get','e')", "0"],
    ["SLOWLOG", "LEN"],
    ["SLOWLOG", "GET", "-1"],
    ["SLOWLOG", "GET", "2"],
    ["SLOWLOG", "GET"],
    ["SLOWLOG", "GET", "-2"],
    ["SLOWLOG", "GET", "x"],
    ["SLOWLOG", "GET", "1", "2"],
    ["SLOWLOG", "LEN", "x"],
    ["SLOWLOG", "nosuch"],
    ["SLOWLOG", "HELP"],
    ["COMMANDLOG", "LEN", "slow"],
    ["COMMANDLOG", "GET", "2", "slow"],
    ["COMMANDLOG", "GET", "2", "large-request"],
    ["COMMANDLOG", "GET", "x", "slow"],
    ["COMMANDLOG", "GET", "1", "foo"],
    ["COMMANDLOG", "LEN", "foo"],
    ["COMMANDLOG", "RESET", "large-reply"],
    ["COMMANDLOG", "HELP"],
    ["CONFIG", "SET", "commandlog-request-larger-than", "60"],
    ["CONFIG", "SET", "commandlog-reply-larger-than", "50"],
    ["SET", "k", "v" * 43],
    ["GET", "k"],
    ["GET"],
    ["PING"],
    ["EVAL", "return redis.call('get', 'k')", "0"],
    ["MULTI"],
    ["GET", "k"],
    ["EXEC"],
    ["COMMANDLOG", "GET", "-1", "large-request"],
    ["COMMANDLOG", "GET", "-1", "large-reply"],
    ["COMMANDLOG", "LEN", "large-reply"],
    ["CONFIG", "SET", "commandlog-large-reply-max-len", "0"],
    ["GET", "k"],
    ["COMMANDLOG", "LEN", "large-reply"],
    ["CONFIG", "SET", "commandlog-request-larger-than", "-1"],
    ["SET", "k", "v" * 43],
    ["COMMANDLOG", "LEN", "large-request"],
    ["CONFIG", "SET", "slowlog-max-len", "3"],
    ["SLOWLOG", "LEN"],
    ["SLOWLOG", "GET", "-1"],
    ["CONFIG", "SET", "slowlog-max-len", "128"],
    ["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
    ["SLOWLOG", "RESET"],
    ["SET", "a", "b"],
    ["SLOWLOG", "LEN"],
    ["CONFIG", "SET", "slowlog-log-slower-than", "0"],
    ["CONFIG", "SET", "slowlog-max-len", "0"],
    ["SET", "a", "b"],
    ["SLOWLOG", "LEN"],
]


def _masked_entries(reply: object, addr: bytes) -> list[list[object]] | None:
    """A SLOWLOG GET reply with its variable fields masked: time and duration checked then
    dropped, the test client's address replaced by ``addr`` (ids made relative later)."""
    if not isinstance(reply, list) or not reply or not all(isinstance(e, list) for e in reply):
        return None
    out: list[list[object]] = []
    for entry in reply:
        entry_id, when, duration, args, peer, name = entry
        assert isinstance(when, int) and abs(when - time.time()) < 60
        assert isinstance(duration, int) and duration >= 0
        out.append([entry_id, args, b"addr" if peer == addr else peer, name])
    return out


def _slowlog_run(server: ServerProcess) -> list[object]:
    with RawClient(server.port) as c:
        addr = b"127.0.0.1:%d" % c.sock.getsockname()[1]
        replies = [c.call(*cmd) for cmd in SLOWLOG_SCRIPT]
    base: int | None = None
    out: list[object] = []
    for raw in replies:
        value = _masked_entries(_parse(raw), addr)
        if value is not None:
            for entry in value:
                assert isinstance(entry[0], int)
                base = entry[0] if base is None else base
                entry[0] -= base
            out.append(value)
        else:
            out.append(raw)
    return out


def test_slowlog_and_commandlog_match(pair: tuple[ServerProcess, ServerProcess]) -> None:
    real, mine = pair
    theirs, ours = _slowlog_run(real), _slowlog_run(mine)
    for cmd, t, m in zip(SLOWLOG_SCRIPT, theirs, ours, strict=True):
        assert m == t, cmd


MONITOR_SCRIPT: list[list[bytes | str]] = [
    ["set", "a", "1"],
    ["SET", b'b\n"x\\\t\r\x07\x08', b"\x01\xff\x7f"],
    ["select", "3"],
    ["auth", "x"],
    ["auth", "default", "x"],
    ["hello", "3", "auth", "default", "pw"],
    ["hello", "2", "setname", "n1"],
    ["config", "get", "maxmemory"],
    ["config", "set", "requirepass", ""],
    ["debug", "sleep", "0"],
    ["multi"],
    ["set", "k", "v"],
    ["incr", "n"],
    ["exec"],
    ["multi"],
    ["nosuch"],
    ["exec"],
    ["incr", "a b"],
    ["get"],
    ["eval", "redis.call('set','e','1') return redis.pcall('incr','e2', 'x')", "0"],
    ["evalsha", "0000000000000000000000000000000000000000", "0"],
    ["client", "list"],
    ["client", "info"],
    ["client", "id"],
    ["slowlog", "len"],
    ["latency", "latest"],
    ["commandlog", "len", "slow"],
    ["info", "server"],
    ["ping"],
    ["setex", "t", "100", "v"],
    ["set", "num", "12345"],
    ["select", "0"],
    ["expire", "a", "100"],
    ["blpop", "nokey", "0.01"],
    ["lpush", "q", "1"],
    ["hello", "3"],
    ["set", "r3", "v"],
]

_STAMP = re.compile(rb"^\+\d{10}\.\d{6} \[(\d+) ([^\]]*)\] ")


def _read_until(sock: socket.socket, marker: bytes, limit: float = 10.0) -> bytes:
    data = b""
    deadline = time.monotonic() + limit
    sock.settimeout(0.5)
    while marker not in data and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        data += chunk
    return data


def _monitor_lines(data: bytes, names: dict[str, str]) -> list[bytes]:
    out = []
    for line in data.split(b"\r\n"):
        if not line:
            continue
        match = _STAMP.match(line)
        assert match is not None, line
        source = match.group(2).decode()
        shown = names.get(source, source)
        out.append(b"[%s %s] " % (match.group(1), shown.encode()) + line[match.end() :])
    return out


def _monitor_run(server: ServerProcess) -> tuple[list[bytes], bytes]:
    with RawClient(server.port) as mon, RawClient(server.port) as c:
        assert mon.call("MONITOR") == b"+OK\r\n"
        addr = f"127.0.0.1:{c.sock.getsockname()[1]}"
        mon_addr = f"127.0.0.1:{mon.sock.getsockname()[1]}"
        for cmd in MONITOR_SCRIPT:
            c.call(*cmd)
        c.call("set", "end-marker", "1")
        data = _read_until(mon.sock, b'"end-marker"')
        # the monitoring client's own command: its reply first, then its line
        mon.sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        own = _read_until(mon.sock, b'"PING"\r\n')
        assert own.startswith(b"+PONG\r\n"), own
        listed = c.call("CLIENT", "LIST")
    lines = _monitor_lines(data, {addr: "client"})
    lines += _monitor_lines(own[len(b"+PONG\r\n") :], {mon_addr: "monitor"})
    flags = re.search(rb"addr=" + mon_addr.encode() + rb" .*? flags=(\S+)", listed)
    assert flags is not None
    return lines, flags.group(1)


def test_monitor_lines_match(pair: tuple[ServerProcess, ServerProcess]) -> None:
    real, mine = pair
    theirs, ours = _monitor_run(real), _monitor_run(mine)
    assert ours == theirs
    assert theirs[1] == b"O"


def test_monitor_is_not_repeated_and_second_monitor_is_silent(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    """MONITOR twice: the second gets no reply at all; MONITOR inside MULTI is refused."""
    for server in pair:
        with RawClient(server.port) as c:
            assert c.call("MULTI") == b"+OK\r\n"
            assert c.call("MONITOR") == b"+QUEUED\r\n"
            assert c.call("EXEC") == (
                b"*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"
            )
            assert c.call("MONITOR") == b"+OK\r\n"
            c.send("MONITOR")
            assert c.call("PING") == b"+PONG\r\n"
            # RESET leaves MONITOR mode (and tracking, no-touch) as Valkey's RESET does
            c.send("RESET")
            assert _drain(c).endswith(b"+RESET\r\n")
            assert c.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
            assert c.call("CLIENT", "NO-TOUCH", "ON") == b"+OK\r\n"
            assert c.call("RESET") == b"+RESET\r\n"
            flags = c.call("CLIENT", "INFO").split(b" flags=")[1].split(b" ")[0]
            assert flags == b"N"
            with RawClient(server.port) as other:
                other.call("SET", "after-reset", "1")
            assert _drain(c) == b""


def test_monitor_on_replicas_of_a_real_primary(servers: list[ServerProcess]) -> None:
    """A real 8.1.8 primary with a real and a valsync replica, both monitored: each shows the
    primary's stream (rewritten commands, MULTI/EXEC, SELECT) the same way."""
    primary = start_valkey("8.1.8", "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    replicas = [
        start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port)),
        start_valsync("--replicaof", "127.0.0.1", str(primary.port)),
    ]
    servers.extend(replicas)
    p = connect(primary)
    for replica in replicas:
        wait_synced(p, connect(replica))
    monitors = [RawClient(r.port) for r in replicas]
    try:
        for mon in monitors:
            assert mon.call("MONITOR") == b"+OK\r\n"
        with RawClient(primary.port) as c:
            for cmd in [
                ["set", "k", "v", "EX", "100"],
                ["incrbyfloat", "f", "1.5"],
                ["multi"],
                ["set", "m1", "1"],
                ["incr", "m2"],
                ["exec"],
                ["select", "5"],
                ["lpush", "l", "a", "b"],
                ["getset", "g", "x"],
                ["set", "end-marker", "1"],
            ]:
                c.call(*cmd)
        primary_addr = f"127.0.0.1:{primary.port}"
        results = []
        for mon in monitors:
            data = _read_until(mon.sock, b'"end-marker"')
            lines = _monitor_lines(data, {primary_addr: "primary"})
            # PXAT holds an absolute time: mask its value
            results.append(
                [
                    re.sub(rb'"PXAT" "\d+"', b'"PXAT" "T"', line)
                    for line in lines
                    if b'"ping"' not in line.lower()
                ]
            )
        assert results[0] and results[1] == results[0]
        assert all(line.split(b"]")[0].endswith(b"primary") for line in results[0])
    finally:
        for mon in monitors:
            mon.close()


def test_latency_monitor_with_debug_sleep(pair: tuple[ServerProcess, ServerProcess]) -> None:
    real, mine = pair
    script = [
        ["LATENCY", "LATEST"],
        ["LATENCY", "DOCTOR"],
        ["CONFIG", "SET", "latency-monitor-threshold", "100"],
        ["DEBUG", "SLEEP", "0.25"],
        ["DEBUG", "SLEEP", "0.12"],
    ]
    replies: list[tuple[list[bytes], list[bytes], bytes]] = []
    for server in pair:
        with RawClient(server.port) as c:
            out = [c.call(*cmd) for cmd in script]
            latest = _parse(c.call("LATENCY", "LATEST"))
            history = _parse(c.call("LATENCY", "HISTORY", "command"))
            graph = c.call("LATENCY", "GRAPH", "command")
            doctor = c.call("LATENCY", "DOCTOR")
            more = [
                c.call("LATENCY", "HISTORY", "nosuch"),
                c.call("LATENCY", "GRAPH", "nosuch"),
                c.call("LATENCY", "LATEST", "x"),
                c.call("LATENCY", "nosuch"),
                c.call("LATENCY", "HELP"),
                c.call("LATENCY", "RESET", "nosuch"),
                c.call("LATENCY", "RESET"),
                c.call("LATENCY", "LATEST"),
                c.call("LATENCY", "DOCTOR"),
                c.call("CONFIG", "SET", "latency-monitor-threshold", "0"),
                c.call("LATENCY", "DOCTOR"),
            ]
        assert isinstance(latest, list) and len(latest) == 1
        event, when, last, worst, total, count = latest[0]
        assert event == b"command" and count == 2 and worst >= 250 and total >= 370
        assert abs(when - time.time()) < 60 and last >= 120
        assert isinstance(history, list) and 1 <= len(history) <= 2
        graph_head = graph.split(b"\n")[1]
        assert graph_head.startswith(b"command - high ")
        replies.append((out, more, doctor))
    theirs, ours = replies
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
    # DOCTOR's text differs only in the measured numbers
    number = re.compile(rb"\d+")
    assert number.sub(b"N", ours[2]) == number.sub(b"N", theirs[2])


def test_latency_histogram_shape(pair: tuple[ServerProcess, ServerProcess]) -> None:
    for resp in (2, 3):
        shapes = []
        for server in pair:
            with RawClient(server.port) as c:
                if resp == 3:
                    c.call("HELLO", "3")
                c.call("CONFIG", "RESETSTAT")
                for _ in range(3):
                    c.call("SET", "a", "1")
                c.call("CLIENT", "ID")
                raw = c.call("LATENCY", "HISTOGRAM", "set", "nosuch", "client")
                value = _parse(raw)
                none = c.call("LATENCY", "HISTOGRAM", "get")
            shapes.append((raw[:1], none))
            if resp == 2:
                assert isinstance(value, list)
                entries = dict(zip(value[::2], value[1::2], strict=True))
            else:
                assert isinstance(value, dict)
                entries = value
            assert set(entries) == {b"set", b"client|id"}
            for name, calls in ((b"set", 3), (b"client|id", 1)):
                body = entries[name]
                if resp == 2:
                    body = dict(zip(body[::2], body[1::2], strict=True))
                assert body[b"calls"] == calls
                buckets = body[b"histogram_usec"]
                pairs = (
                    list(zip(buckets[::2], buckets[1::2], strict=True))
                    if resp == 2
                    else list(buckets.items())
                )
                assert pairs[-1][1] == calls
                assert all(b >= 1 for b, _ in pairs)
        assert shapes[0] == shapes[1]


def test_monitor_client_not_timed_out(servers: list[ServerProcess]) -> None:
    mine = start_valsync("--timeout", "1")
    servers.append(mine)
    with RawClient(mine.port) as mon:
        assert mon.call("MONITOR") == b"+OK\r\n"
        c = connect(mine)
        wait_until(lambda: time.sleep(1.5) or True, what="idle time")
        c.set("after", "idle")
        assert b'"after"' in _read_until(mon.sock, b'"idle"')


def _drain(client: RawClient, wait: float = 0.2) -> bytes:
    """Whatever the server pushed to ``client`` without being asked."""
    client.sock.settimeout(wait)
    data = client.buf[client.pos :]
    client.buf, client.pos = b"", 0
    try:
        while True:
            chunk = client.sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    client.sock.settimeout(5.0)
    return data


def _tracking_session(server: ServerProcess) -> list[tuple[str, bytes]]:
    """One scripted client-side-caching session; every reply and every push, in order."""
    log: list[tuple[str, bytes]] = []
    with (
        RawClient(server.port) as r3,
        RawClient(server.port) as writer,
        RawClient(server.port) as sub2,
        RawClient(server.port) as r2,
    ):

        def do(name: str, client: RawClient, *args: str) -> None:
            """The command's reply; RESP3 pushes read before it are logged apart."""
            client.send(*args)
            while True:
                reply = client.read_reply()
                if not reply.startswith(b">"):
                    break
                log.append((name + " push", reply))
            log.append((name, reply))

        def pushes(name: str, client: RawClient) -> None:
            log.append((name + " pushes", _drain(client)))

        r3.call("HELLO", "3")
        do("r3", r3, "CLIENT", "TRACKING", "ON")
        for key in ("a", "b", "c"):
            writer.call("SET", key, "1")
        do("r3", r3, "GET", "a")
        do("r3", r3, "MGET", "b", "c", "nokey")
        do("w", writer, "SET", "a", "2")
        pushes("r3", r3)
        do("w", writer, "MSET", "b", "2", "c", "2")
        do("w", writer, "SET", "a", "3")  # a was not read again: no second invalidation
        pushes("r3", r3)
        do("r3", r3, "GET", "a")
        do("r3", r3, "SET", "a", "4")  # its own write: the reply, then the invalidation
        pushes("r3", r3)
        do("r3", r3, "CLIENT", "TRACKING", "ON", "NOLOOP")
        do("r3", r3, "GET", "a")
        do("r3", r3, "INCR", "a")
        pushes("r3", r3)
        do("r3", r3, "GET", "a")
        do("w", writer, "FLUSHALL")
        pushes("r3", r3)
        # OPTIN: only reads after CLIENT CACHING YES are tracked
        do("r3", r3, "CLIENT", "TRACKING", "OFF")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "OPTIN")
        do("r3", r3, "GET", "x")
        do("r3", r3, "CLIENT", "CACHING", "YES")
        do("r3", r3, "GET", "y")
        do("r3", r3, "GET", "z")
        do("w", writer, "MSET", "x", "1", "y", "1", "z", "1")
        pushes("r3", r3)
        # OPTOUT: every read but the one after CLIENT CACHING NO
        do("r3", r3, "CLIENT", "TRACKING", "OFF")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "OPTOUT")
        do("r3", r3, "CLIENT", "CACHING", "NO")
        do("r3", r3, "GET", "x")
        do("r3", r3, "GET", "y")
        do("w", writer, "MSET", "x", "2", "y", "2")
        pushes("r3", r3)
        # BCAST with prefixes, and its NOLOOP
        do("r3", r3, "CLIENT", "TRACKING", "OFF")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "obj:")
        do("r3", r3, "CLIENT", "TRACKINGINFO")
        do("w", writer, "MSET", "user:1", "a", "other", "b", "obj:9", "c", "user:2", "d")
        pushes("r3", r3)
        do("r3", r3, "SET", "user:3", "x")
        pushes("r3", r3)
        do("r3", r3, "CLIENT", "TRACKING", "OFF")
        # RESP2 through REDIRECT to a subscriber of __redis__:invalidate
        sub_id = sub2.call("CLIENT", "ID")[1:-2].decode()
        do("sub2", sub2, "SUBSCRIBE", "__redis__:invalidate")
        do("r2", r2, "CLIENT", "TRACKING", "ON", "REDIRECT", sub_id)
        do("r2", r2, "CLIENT", "GETREDIR")
        do("r2", r2, "GET", "k")
        do("w", writer, "SET", "k", "v")
        pushes("sub2", sub2)
        do("w", writer, "FLUSHDB")
        pushes("sub2", sub2)
        do("r2", r2, "GET", "k")
        sub2.close()
        time.sleep(0.2)
        # the redirect client is gone: RESP2 gets nothing, the flag says broken_redirect
        do("w", writer, "SET", "k", "again")
        pushes("r2", r2)
        do("r2", r2, "CLIENT", "TRACKINGINFO")
        # a RESP3 client whose redirect client is gone is told so
        r3.call("CLIENT", "TRACKING", "OFF")
        with RawClient(server.port) as gone:
            gone_id = gone.call("CLIENT", "ID")[1:-2].decode()
            do("r3", r3, "CLIENT", "TRACKING", "ON", "REDIRECT", gone_id)
        time.sleep(0.2)
        do("r3", r3, "GET", "k")
        do("w", writer, "SET", "k", "more")
        log.append(("r3 broken", _drain(r3).replace(gone_id.encode(), b"ID")))
        log.append(("r3 info", r3.call("CLIENT", "TRACKINGINFO").replace(gone_id.encode(), b"ID")))
        # NOLOOP: a script's writes are its caller's own
        do("r3", r3, "CLIENT", "TRACKING", "OFF")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "NOLOOP")
        do("r3", r3, "GET", "k")
        do("r3", r3, "EVAL", "return redis.call('set', KEYS[1], '2')", "1", "k")
        do("r3", r3, "GET", "k")
        pushes("r3", r3)
        # BCAST prefixes must not overlap the client's existing ones either
        do("r3", r3, "CLIENT", "TRACKING", "OFF")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FOO", "PREFIX", "BAR")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FO")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "X", "PREFIX", "BARB")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "XY", "PREFIX", "X")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "FOO")
        do("r3", r3, "CLIENT", "TRACKING", "OFF")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "BCAST")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a")
        do("r3", r3, "CLIENT", "TRACKING", "ON", "BCAST")
        # a redirect client that sent QUIT is gone for the next command after its +OK
        do("r3", r3, "CLIENT", "TRACKING", "OFF")
        with RawClient(server.port) as quitter:
            quit_id = quitter.call("CLIENT", "ID")[1:-2].decode()
            do("r3", r3, "CLIENT", "TRACKING", "ON", "REDIRECT", quit_id)
            do("r3", r3, "GET", "k")
            log.append(("quitter", quitter.call("QUIT")))
            do("w", writer, "SET", "k", "after-quit")
        log.append(("r3 quit", _drain(r3).replace(quit_id.encode(), b"ID")))
    redirect = b":%s\r\n" % sub_id.encode()
    return [
        (step, raw.replace(redirect, b":ID\r\n") if step.startswith("r2") else raw)
        for step, raw in log
    ]


def test_client_tracking_invalidations_match(pair: tuple[ServerProcess, ServerProcess]) -> None:
    real, mine = pair
    theirs, ours = _tracking_session(real), _tracking_session(mine)
    for (step, t), (_, m) in zip(theirs, ours, strict=True):
        assert m == t, step


def test_capa_redirect_on_replicas_of_a_real_primary(servers: list[ServerProcess]) -> None:
    """CLIENT CAPA redirect on a real and on a valsync replica of one real 8.1.8 primary."""
    primary = start_valkey("8.1.8", "--repl-diskless-sync-delay", "0")
    servers.append(primary)
    replicas = [
        start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port)),
        start_valsync("--replicaof", "127.0.0.1", str(primary.port)),
    ]
    servers.extend(replicas)
    p = connect(primary)
    p.set("k", "v")
    for replica in replicas:
        wait_synced(p, connect(replica))
    script = [
        ["GET", "k"],
        ["CLIENT", "CAPA", "redirect"],
        ["GET", "k"],
        ["SET", "k", "x"],
        ["PING"],
        ["MULTI"],
        ["SET", "a", "b"],
        ["EXEC"],
        ["READONLY"],
        ["GET", "k"],
        ["SET", "k", "x"],
        ["MULTI"],
        ["GET", "k"],
        ["EXEC"],
        ["READWRITE"],
        ["GET", "k"],
        ["CONFIG", "RESETSTAT"],
        ["GET", "k"],
    ]
    results = []
    for replica in replicas:
        with RawClient(replica.port) as c:
            replies = [c.call(*cmd) for cmd in script]
            stats = _info(c, "commandstats")
            results.append((replies, _fields(stats["cmdstat_get"])["rejected_calls"]))
    assert results[1] == results[0]
    assert results[0][0][2] == f"-REDIRECT 127.0.0.1:{primary.port}\r\n".encode()
