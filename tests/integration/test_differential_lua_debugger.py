"""The Lua debugger (SCRIPT DEBUG SYNC and YES), byte for byte against a real valkey-server 8.1.8.

Each session is driven identically on both servers over raw sockets: SCRIPT DEBUG SYNC, an
EVAL that stops at its first line, then debugger commands (or raw, badly framed bytes), one
reply read per step. After the last step the script's own reply follows the ``<endsession>``
log and the server closes the connection. Everything the client receives, and the dataset
left behind, must match.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence

import pytest

from tests.differential import RawClient, encode_argv
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

Step = tuple[str, ...] | bytes

SCRIPT = (
    "local a = 1\n"
    "local t = {1,'x',{a=2},true,2.5}\n"
    "redis.debug('hi', a, t)\n"
    "redis.call('set','foo','bar')\n"
    "local r = redis.call('get','foo')\n"
    "redis.breakpoint()\n"
    "local x = 5\n"
    "redis.pcall('nosuch')\n"
    "return {a, r, x}\n"
)


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with start_valkey("8.1.8") as real, start_valsync() as ours:
        yield real, ours


def _session(
    port: int, script: str, keys: Sequence[str], argv: Sequence[str], steps: Sequence[Step]
) -> list[bytes]:
    """Everything the client reads, step by step, ending with b"<closed>" when the server
    hung up after the script's reply."""
    seen: list[bytes] = []
    with RawClient(port) as client:

        def exchange(data: bytes) -> None:
            client.sock.sendall(data)
            seen.append(client.read_reply())

        exchange(encode_argv(["script", "debug", "sync"]))
        exchange(encode_argv(["eval", script, str(len(keys)), *keys, *argv]))
        for step in steps:
            exchange(step if isinstance(step, bytes) else encode_argv(list(step)))
        seen.append(client.read_reply())  # the script's reply, after <endsession>
        try:
            client.sock.settimeout(3)
            data = client.sock.recv(1)
        except TimeoutError:
            data = b"<still open>"
        except ConnectionError:
            data = b""
        seen.append(data or b"<closed>")
    return seen


def _compare(
    pair: tuple[ServerProcess, ServerProcess],
    script: str,
    steps: Sequence[Step],
    keys: Sequence[str] = (),
    argv: Sequence[str] = (),
) -> list[bytes]:
    real, ours = pair
    expected = _session(real.port, script, keys, argv, steps)
    got = _session(ours.port, script, keys, argv, steps)
    assert got == expected
    return expected


def _dataset(port: int, *keys: str) -> list[bytes]:
    with RawClient(port) as client:
        return [client.call("get", key) for key in keys]


def test_stepping_printing_listing_breakpoints(pair: tuple[ServerProcess, ServerProcess]) -> None:
    seen = _compare(
        pair,
        SCRIPT,
        [
            ("help",),
            ("s",),
            ("n",),
            ("p",),
            ("p", "t"),
            ("p", "KEYS"),
            ("p", "ARGV"),
            ("p", "nosuch"),
            ("l",),
            ("l", "3", "1"),
            ("list", "0"),
            ("l", "5", "0"),
            ("w",),
            ("b",),
            ("b", "8"),
            ("break", "8", "x", "-3", "100", "-8", "9"),
            ("b",),
            ("b", "0"),
            ("b", "8"),
            ("t",),
            ("xyz",),
            ("c",),
            ("c",),
            ("c",),
        ],
        keys=["k1"],
        argv=["a1", "a2"],
    )
    assert seen[-1] == b"<closed>"
    assert b"<endsession>" in seen[-3]


def test_eval_server_commands_and_maxlen(pair: tuple[ServerProcess, ServerProcess]) -> None:
    real, ours = pair
    steps: list[Step] = [
        ("e", "1+1"),
        ("e", "a+1"),
        ("e", "x ="),
        ("e", "error('boom')"),
        ("eval", "{1,2,{x={}}}"),
        ("e", "nil"),
        ("e", "'a\\0b\\1\\n\\t\\\\\"'"),
        ("e", "redis.call('set','dbg:e','1')"),
        ("redis", "set", "dbg:k", "v1"),
        ("redis", "hgetall", "dbg:k"),
        ("server", "ping"),
        ("v", "echo", "x"),
        ("valkey", "rpush", "dbg:l", "a", "b"),
        ("r", "lrange", "dbg:l", "0", "-1"),
        ("r", "incr", "dbg:k"),
        ("r", "nosuch"),
        ("r", "set"),
        ("r", *(["test"] * 100)),
        ("r",),
        ("m",),
        ("m", "5"),
        ("e", "string.rep('x',100)"),
        ("e", "string.rep('y',100)"),
        ("maxlen", "0"),
        ("e", "string.rep('z',300)"),
        ("m", "70"),
        ("r", "lrange", "dbg:l", "0", "-1"),
        ("c",),
    ]
    for server in pair:
        with RawClient(server.port) as client:
            client.call("del", "dbg:k", "dbg:l", "dbg:e")
    _compare(pair, "local a = 1\nreturn a", steps)
    # a SYNC session keeps what it wrote
    assert _dataset(ours.port, "dbg:k", "dbg:e") == _dataset(real.port, "dbg:k", "dbg:e")
    assert _dataset(ours.port, "dbg:k") == [b"$2\r\nv1\r\n"]


def test_protocol_errors_and_abort(pair: tuple[ServerProcess, ServerProcess]) -> None:
    _compare(
        pair,
        "return 'hello'",
        [
            b"*1\r\n$13\r\n'hello\0world'\r\n",
            b"*1\r\n$6\r\nhello\0\r\n",
            b"*1\r\n$1\r\n\0\r\n",
            b"*1\r\n$7\r\n\0hello\0\r\n",
            ("abort",),
        ],
    )
    _compare(pair, "return 'hello'", [b"*1\r\n$0\r\n\r\n"])
    _compare(pair, "return 'hello'", [b"PING\r\n"])
    seen = _compare(pair, "redis.call('set','dbg:a','1')\nreturn 1", [("s",), ("a",)])
    assert b"script aborted for user request" in seen[-2]


def test_step_through_calls_and_functions(pair: tuple[ServerProcess, ServerProcess]) -> None:
    _compare(
        pair,
        "local x = 1\nreturn redis.call('incr', KEYS[1])",
        [("s",), ("s",)],
        keys=["dbg:cnt"],
    )
    _compare(
        pair,
        # (not a tail call: valsync runs scripts without them, so a trace would show the
        # caller's frame that Valkey's Lua replaced)
        "local function f(a)\n  local b = a * 2\n  return b\nend\nlocal r = f(3)\nreturn r\n",
        [("s",), ("s",), ("t",), ("p",), ("p", "a"), ("s",), ("p",), ("s",), ("t",), ("p", "r")]
        + [("s",)],
    )
    _compare(pair, "return redis.call('nosuch')", [("s",)])
    _compare(pair, "return 1", [("c",)])


def test_evalsha_and_errors_under_debugging(pair: tuple[ServerProcess, ServerProcess]) -> None:
    real, ours = pair
    for steps in (
        [["script", "debug", "sync"], ["evalsha", "a" * 40, "0"], ["script", "debug", "no"]],
        [["script", "debug", "maybe"], ["script", "debug"]],
        [["multi"], ["script", "debug", "sync"], ["exec"]],
        [["multi"], ["script", "debug", "yes"], ["exec"], ["eval", "return 1", "0"]],
        [["eval", "return redis.pcall('script', 'debug', 'sync')", "0"]],
        [["script", "debug", "yes"], ["evalsha_ro", "a" * 40, "0"], ["script", "debug", "no"]],
        [["script", "debug", "sync"], ["script", "debug", "no"], ["eval", "return 1", "0"]],
    ):
        replies = []
        for server in pair:
            with RawClient(server.port) as client:
                replies.append([client.call(*step) for step in steps])
        assert replies[1] == replies[0]
    # an EVAL that fails before running still ends the session first, then closes
    seen = []
    for server in pair:
        with RawClient(server.port) as client:
            client.call("script", "debug", "sync")
            client.sock.sendall(encode_argv(["eval", "return 1", "x"]))
            seen.append((client.read_reply(), client.read_reply()))
    assert seen[1] == seen[0]


def _children(pid: int) -> set[str]:
    out: set[str] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out.update(f.read().split())
    return out


def test_forked_session_rolls_back(pair: tuple[ServerProcess, ServerProcess]) -> None:
    """SCRIPT DEBUG YES: the session runs in a fork child; the server keeps serving others
    meanwhile, and nothing the session wrote survives it."""
    script = "redis.call('set','dbg:y','new')\nreturn redis.call('get','dbg:y')"
    transcripts = []
    for server in pair:
        with RawClient(server.port) as other, RawClient(server.port) as client:
            seen = [other.call("set", "dbg:y", "orig"), client.call("script", "debug", "yes")]
            seen.append(client.call("eval", script, "0"))
            seen.append(client.call("redis", "set", "dbg:y2", "x"))
            seen += [other.call("get", "dbg:y"), other.call("ping")]
            seen.append(client.call("s"))
            seen.append(client.call("e", "redis.call('get','dbg:y')"))
            seen += [client.call("c"), client.read_reply()]
            client.sock.settimeout(3)
            seen.append(client.sock.recv(1) or b"<closed>")
            seen += [other.call("get", "dbg:y"), other.call("get", "dbg:y2")]
            transcripts.append(seen)
    assert transcripts[1] == transcripts[0]
    assert transcripts[0][-2:] == [b"$4\r\norig\r\n", b"$-1\r\n"]
    # the child was reaped (bounded wait: the cron collects it)
    ours = pair[1].proc.pid
    for _ in range(100):
        if not _children(ours):
            break
        time.sleep(0.1)
    assert not _children(ours)
