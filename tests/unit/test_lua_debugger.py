"""The Lua debugger's logic without sockets: command parsing, the REPL, and what it logs.

A scripted transport feeds the commands and collects what the debugger sends; a real
LuaEngine runs the scripts (so print/eval/trace see a real Lua stack).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from valsync.resp.reply import SimpleString
from valsync.scripting.debugger import (
    LuaDebugger,
    c_atoi,
    human_reply,
    parse_command,
    quoted,
    strict_long,
)
from valsync.scripting.engine import LuaEngine, Refusal, ScriptRun


class ScriptedTransport:
    def __init__(self, commands: Sequence[Sequence[bytes] | bytes]) -> None:
        self.incoming = [
            c
            if isinstance(c, bytes)
            else b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in c)
            for c in commands
        ]
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def receive(self) -> bytes:
        return self.incoming.pop(0) if self.incoming else b""


def lines(data: bytes) -> list[str]:
    """The status lines of one debugger log."""
    head, _, rest = data.partition(b"\r\n")
    assert head.startswith(b"*")
    out = [line.decode("latin-1")[1:] for line in rest.split(b"\r\n")[:-1]]
    assert len(out) == int(head[1:])
    return out


def run_debugged(
    source: bytes, commands: Sequence[Sequence[bytes] | bytes], keys: Sequence[bytes] = ()
) -> tuple[object, list[list[str]]]:
    engine = LuaEngine()
    calls: list[list[bytes]] = []

    def execute(argv: list[bytes]) -> object:
        calls.append(argv)
        if argv[0] == b"nosuch":
            return Refusal(b"Unknown command called from script")
        return SimpleString("OK")

    run = ScriptRun(funcname="f_x", execute=execute, acl_lookup=lambda argv: True)  # type: ignore[arg-type]
    fn, err = engine.compile(source)
    assert fn is not None, err
    transport = ScriptedTransport(commands)
    debugger = LuaDebugger(transport, source)
    reply = engine.run(fn, run, list(keys), [], 2, debugger)
    debugger.end()
    return reply, [lines(d) for d in transport.sent]


def test_parse_command_framing() -> None:
    assert parse_command(b"") == (None, None)
    assert parse_command(b"*2\r\n$1\r\np\r\n$1\r\nx\r\n") == ([b"p", b"x"], None)
    assert parse_command(b"*2\r\n$1\r\np\r\n") == (None, None)
    assert parse_command(b"junk*1\r\n$1\r\ns\r\n") == ([b"s"], None)
    assert parse_command(b"PING\r\n") == (None, b"protocol error")
    assert parse_command(b"*0\r\n") == (None, b"protocol error")
    assert parse_command(b"*1\r\n$0\r\n\r\n") == (None, b"protocol error")
    assert parse_command(b"*1\r\n$2\r\nabc\r\n") == (None, b"protocol error")
    assert parse_command(b"*1\r\n+x\r\n") == (None, b"protocol error")
    # NUL bytes inside an argument are kept; a NUL where a header is expected waits
    assert parse_command(b"*1\r\n$3\r\na\0b\r\n") == ([b"a\0b"], None)
    assert parse_command(b"*1\r\n\0$1\r\na\r\n") == (None, None)


def test_text_helpers() -> None:
    assert quoted(b'a"\\\n\r\t\x07\x08\x01z') == '"a\\"\\\\\\n\\r\\t\\a\\b\\x01z"'
    assert c_atoi(b"  12x") == 12 and c_atoi(b"-3") == -3 and c_atoi(b"x") == 0
    assert strict_long(b"10") == 10 and strict_long(b"-2") == -2
    assert strict_long(b"010") is None and strict_long(b"x") is None and strict_long(b"") is None
    assert human_reply(b"*3\r\n:1\r\n$-1\r\n+OK\r\n")[0] == '[1,NULL,"+OK"]'
    assert human_reply(b"%1\r\n$1\r\na\r\n,1.5\r\n")[0] == '{"a" => (double) 1.5}'
    assert human_reply(b"~1\r\n#t\r\n")[0] == "~(#true)"
    assert human_reply(b"_\r\n")[0] == "(null)"
    assert human_reply(b"-ERR x\r\n")[0] == '"-ERR x"'


def test_step_print_and_end() -> None:
    source = b"local a = 1\nlocal t = {1, 'x', {k = true}}\nreturn a\n"
    reply, logs = run_debugged(source, [[b"s"], [b"s"], [b"p"], [b"p", b"KEYS"], [b"c"]], [b"k"])
    assert reply == 1
    assert logs[0] == ["* Stopped at 1, stop reason = step over", "-> 1   local a = 1"]
    assert logs[1][0] == "* Stopped at 2, stop reason = step over"
    assert logs[3] == ["<value> a = 1", '<value> t = {1; "x"; {["k"]=true}}']
    assert logs[4] == ['<value> {"k"}']
    assert logs[-1] == ["<endsession>"]


def test_breakpoints_debug_and_server_calls() -> None:
    source = b"server.debug('v', 2)\nserver.breakpoint()\nlocal x = 1\nserver.call('set', 'a', 'b')\nreturn x\n"
    commands = [[b"b", b"4"], [b"c"], [b"c"], [b"r", b"nosuch"], [b"r", b"ping"], [b"a"]]
    reply, logs = run_debugged(source, commands)
    assert logs[1] == [
        "   3   local x = 1",
        "  #4   server.call('set', 'a', 'b')",
        "   5   return x",
    ]
    assert logs[2] == [
        '<debug> line 1: "v", 2',
        "* Stopped at 3, stop reason = server.breakpoint() called",
        "-> 3   local x = 1",
    ]
    assert logs[3] == [
        "* Stopped at 4, stop reason = break point",
        "->#4   server.call('set', 'a', 'b')",
    ]
    assert logs[4] == ["<command> nosuch", "<error> Unknown command called from script"]
    assert logs[5] == ["<command> ping", '<reply> "+OK"']
    assert b"script aborted for user request" in repr(reply).encode()


def test_eval_maxlen_and_unknown() -> None:
    source = b"local s = 'abc'\nreturn s\n"
    commands = [
        [b"e", b"s"],
        [b"e", b"1", b"+", b"1"],
        [b"e", b"x", b"="],
        [b"m", b"1"],
        [b"e", b"string.rep('x', 100)"],
        [b"bogus"],
        [b"c"],
    ]
    _, logs = run_debugged(source, commands)
    assert logs[1] == [
        "<error> ldb_eval:1: Script attempted to access nonexistent global variable 's'"
    ]
    assert logs[2] == ["<retval> 2"]
    assert logs[3] == ["<error> ldb_eval:1: unexpected symbol near '<eof>'"]
    assert logs[4] == ["<value> replies are truncated at 60 bytes."]
    assert logs[5] == ["<retval> " + '"' + "x" * 50 + " ..."]
    assert logs[6] == ["<error> Unknown Lua debugger command or wrong number of arguments."]


@pytest.mark.parametrize("data", [b"PING\r\n", b"*1\r\n$0\r\n\r\n"])
def test_protocol_error_fails_the_script(data: bytes) -> None:
    reply, logs = run_debugged(b"return 1\n", [data])
    assert "protocol error" in repr(reply)
    assert logs[-1] == ["<endsession>"]


def test_client_gone_runs_to_the_end() -> None:
    reply, logs = run_debugged(b"local a = 1\nreturn a + 1\n", [])
    assert reply == 2
    assert logs[-1] == ["<endsession>"]
