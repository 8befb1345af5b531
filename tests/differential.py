"""Raw-socket RESP client for differential tests against a real valkey-server.

Replies are returned as the exact bytes the server sent, so they can be compared byte for
byte with what valsync encodes. :class:`ReplicaStream` attaches as a replica (``SYNC``) and
yields the propagated commands, which is how Valkey's rewrites were checked.

Typical use (one real server per module, a fresh :class:`Differ` per example)::

    d = Differ(server, resp=3)        # HELLO 3 on the real side, Harness in RESP3
    d.reset()                         # FLUSHALL both sides
    d.check("SADD", "s", "a")         # byte-for-byte, raises AssertionError otherwise
    d.check_unordered("SMEMBERS", "s")  # hash-order replies: same elements, any order
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Callable, Sequence

import hiredis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.realvalkey import ServerProcess
from tests.unit.cmdutil import Harness
from valsync.commands import COMMANDS

Arg = bytes | str | int


def _b(arg: Arg) -> bytes:
    return arg if isinstance(arg, bytes) else str(arg).encode()


def encode_argv(args: Sequence[Arg]) -> bytes:
    out = bytearray(b"*%d\r\n" % len(args))
    for a in args:
        data = _b(a)
        out += b"$%d\r\n%s\r\n" % (len(data), data)
    return bytes(out)


class RawClient:
    """One connection; :meth:`call` returns one reply's raw bytes."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.pos = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos : end + 2]
                self.pos = end + 2
                return line
            self._fill()

    def _exact(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n:
            self._fill()
        data = self.buf[self.pos : self.pos + n]
        self.pos += n
        return data

    def read_reply(self) -> bytes:
        """The raw bytes of exactly one RESP2/RESP3 reply (attributes/pushes included as read)."""
        line = self._line()
        kind, body = line[:1], line[1:-2]
        if kind in (b"$", b"=", b"!"):
            n = int(body)
            return line if n < 0 else line + self._exact(n + 2)
        if kind in (b"*", b"~", b">"):
            n = int(body)
            return line + b"".join(self.read_reply() for _ in range(max(n, 0)))
        if kind in (b"%", b"|"):
            n = int(body)
            return line + b"".join(self.read_reply() for _ in range(2 * n))
        return line

    def send(self, *args: Arg) -> None:
        self.sock.sendall(encode_argv(args))

    def call(self, *args: Arg) -> bytes:
        self.send(*args)
        return self.read_reply()


ReplyTree = tuple[bytes, object]


def parse_reply_tree(raw: bytes, pos: int = 0) -> tuple[ReplyTree, int]:
    """A raw reply as (header line, children or payload) so member lists can be reordered."""
    end = raw.index(b"\r\n", pos)
    line = raw[pos : end + 2]
    kind = line[:1]
    pos = end + 2
    if kind in (b"$", b"=", b"!"):
        n = int(line[1:-2])
        if n < 0:
            return (line, b""), pos
        return (line, raw[pos : pos + n + 2]), pos + n + 2
    if kind in (b"*", b"~", b">", b"%", b"|"):
        n = max(int(line[1:-2]), 0) * (2 if kind in (b"%", b"|") else 1)
        children = []
        for _ in range(n):
            child, pos = parse_reply_tree(raw, pos)
            children.append(child)
        return (line, children), pos
    return (line, b""), pos


def dump_reply_tree(node: ReplyTree) -> bytes:
    line, body = node
    if isinstance(body, list):
        return line + b"".join(dump_reply_tree(c) for c in body)
    assert isinstance(body, bytes)
    return line + body


def parse_command(raw: bytes) -> list[bytes]:
    """A multibulk's arguments (for replication stream entries)."""
    lines = raw.split(b"\r\n")
    n = int(lines[0][1:])
    out: list[bytes] = []
    i = 1
    while len(out) < n:
        out.append(lines[i + 1])
        i += 2
    return out


class ReplicaStream:
    """Attach to a primary with plain ``SYNC`` and read the propagated commands.

    Start the primary with ``--repl-diskless-sync no`` so the RDB comes without delay.
    """

    def __init__(self, port: int) -> None:
        self.client = RawClient(port, timeout=10.0)
        self.client.send("SYNC")
        while True:
            line = self.client._line().lstrip(b"\n")  # bare newlines: keepalives during BGSAVE
            if line.startswith(b"$"):
                break
        self.client._exact(int(line[1:-2]))

    def read_commands(self, until: Callable[[list[bytes]], bool]) -> list[list[bytes]]:
        """Commands (PINGs dropped) up to and including the first for which ``until`` holds."""
        out: list[list[bytes]] = []
        while True:
            argv = parse_command(self.client.read_reply())
            if argv[0].upper() == b"PING":
                continue
            out.append(argv)
            if until(argv):
                return out

    def close(self) -> None:
        self.client.close()


def real_propagation(port: int, script: Sequence[Sequence[Arg]]) -> list[list[bytes]]:
    """What a primary at ``port`` (started with ``--repl-diskless-sync no``) streams for
    ``script``, SELECTs left out, up to an end marker written after it."""
    link = ReplicaStream(port)
    try:
        with RawClient(port) as client:
            for argv in script:
                client.call(*argv)
            client.call("SET", "propagation-end-marker", "x")
        got = link.read_commands(lambda a: a[:2] == [b"SET", b"propagation-end-marker"])
    finally:
        link.close()
    return [a for a in got[:-1] if a[0].upper() != b"SELECT"]


def harness_propagation(harness: Harness, script: Sequence[Sequence[Arg]]) -> list[list[bytes]]:
    """What valsync streams for ``script``: each command's units, wrapped in MULTI/EXEC when a
    command propagates more than one, as the replication encoder does."""
    out: list[list[bytes]] = []
    for argv in script:
        before = len(harness.propagated)
        harness.run(*argv)
        unit = [a for _, a in harness.propagated[before:]]
        out += [[b"MULTI"], *unit, [b"EXEC"]] if len(unit) > 1 else unit
    return out


class Differ:
    """Sends the same commands to a :class:`Harness` and to a real server, comparing replies."""

    def __init__(self, server: ServerProcess, resp: int = 2) -> None:
        self.real = RawClient(server.port)
        self.resp = resp
        if resp == 3:
            self.real.call("HELLO", "3")
        self.harness = Harness(now_ms=int(time.time() * 1000))
        self.harness.client.resp = resp
        self.real.call("FLUSHALL")
        self.real.call("SELECT", "0")

    def reset(self) -> None:
        self.real.call("FLUSHALL")
        self.real.call("SELECT", "0")
        self.harness.keyspace.flush_all()
        self.harness.client.db = 0

    def both(self, *args: Arg) -> tuple[bytes, bytes]:
        """(valsync reply, real reply) for one command, with the Harness clock set to now."""
        self.harness.now_ms = int(time.time() * 1000)
        if _b(args[0]).lower() == b"select" and "select" not in COMMANDS:
            theirs = self.real.call(*args)
            if theirs == b"+OK\r\n":
                self.harness.client.db = int(args[1])
            return theirs, theirs
        mine = self.harness.wire(*args, resp=self.resp)
        theirs = self.real.call(*args)
        return mine, theirs

    def check(self, *args: Arg) -> bytes:
        mine, theirs = self.both(*args)
        assert mine == theirs, f"{[_b(a) for a in args]!r}: valsync {mine!r} != valkey {theirs!r}"
        return theirs

    def check_unordered(self, *args: Arg) -> bytes:
        """Like :meth:`check` for replies whose element order is hash-table order."""
        mine, theirs = self.both(*args)
        assert _elements(mine) == _elements(theirs), (
            f"{[_b(a) for a in args]!r}: valsync {mine!r} != valkey {theirs!r}"
        )
        return theirs

    def check_digest(self) -> None:
        """``DEBUG DIGEST`` of both datasets must be equal (the issue's one-line check)."""
        from valsync.keyspace.digest import digest_keyspace

        theirs = self.real.call("DEBUG", "DIGEST")
        mine = digest_keyspace(self.harness.keyspace, int(time.time() * 1000))
        assert theirs.strip().lstrip(b"+") == mine.encode(), (mine, theirs)

    def close(self) -> None:
        self.real.close()


def _elements(raw: bytes) -> object:
    """A top-level aggregate's elements as a sorted list of repr (a scalar reply as is)."""
    reader = hiredis.Reader()
    reader.feed(raw)
    value = reader.gets()
    if isinstance(value, list):
        return sorted(repr(v) for v in value)
    return raw


_MARKS = itertools.count()


def run_and_compare(
    server: ServerProcess,
    stream: ReplicaStream,
    resp: int,
    commands: Sequence[Sequence[Arg]],
    state: Sequence[Sequence[Arg]] = (),
) -> None:
    """Run ``commands`` then the ``state`` reads on a fresh :class:`Differ` and on ``server``:
    every reply, then DEBUG DIGEST, then the commands each side propagated (read from
    ``stream``, a SYNC replica of ``server``) must match. PEXPIREAT is left out of the last
    comparison: its absolute time comes from each side's clock."""
    differ = Differ(server, resp=resp)
    try:
        mark = str(next(_MARKS)).encode()
        differ.check("SET", "begin", mark)
        stream.read_commands(lambda argv: argv == [b"SET", b"begin", mark])
        differ.harness.propagated.clear()
        for argv in [*commands, *state]:
            differ.check(*argv)
        differ.check_digest()
        differ.real.call("SET", "end", mark)
        got = stream.read_commands(lambda argv: argv == [b"SET", b"end", mark])[:-1]
        skip = (b"SELECT", b"PEXPIREAT")
        real = [a for a in got if a[0].upper() not in skip]
        ours = [argv for _, argv in differ.harness.propagated if argv[0].upper() not in skip]
        assert ours == real, f"{commands}: propagated {ours} != {real}"
    finally:
        differ.close()


def argv_strategy(*parts: st.SearchStrategy[object] | Arg) -> st.SearchStrategy[list[Arg]]:
    """A command as a strategy: plain parts are literal, a strategy drawing a list splices it."""

    def flatten(drawn: tuple[object, ...]) -> list[Arg]:
        out: list[Arg] = []
        for part in drawn:
            out.extend(part) if isinstance(part, list) else out.append(part)  # type: ignore[arg-type]
        return out

    strategies = [p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts]
    return st.tuples(*strategies).map(flatten)


def example_settings(env: str, default: int) -> settings:
    """Hypothesis settings for a differential test: ``default`` examples, derandomized, unless
    the ``env`` variable asks for another number (then drawn at random, for longer hunts)."""
    return settings(
        max_examples=int(os.environ.get(env, str(default))),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=env not in os.environ,
    )


def keyspace_events(
    server: ServerProcess, writes: Sequence[Sequence[Arg]], setup: Sequence[Sequence[Arg]] = ()
) -> list[bytes]:
    """The raw keyspace/keyevent messages (``notify-keyspace-events KEA``) that ``writes``
    publish on ``server``; the last write must touch a key named ``end-marker``."""
    with RawClient(server.port) as client, RawClient(server.port) as sub:
        for argv in setup:
            client.call(*argv)
        assert client.call("CONFIG", "SET", "notify-keyspace-events", "KEA") == b"+OK\r\n"
        sub.call("PSUBSCRIBE", "__key*__:*")
        for argv in writes:
            client.call(*argv)
        out: list[bytes] = []
        while not out or b"end-marker" not in out[-1] or b"keyevent" not in out[-1]:
            out.append(sub.read_reply())
        return out
