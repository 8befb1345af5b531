"""Fuzzing CONFIG SET through the command layer: every directive name (and alias) with
random strings and numbers (units, signs, huge and odd numerals, lists, binary).

A value is applied or refused with Valkey's ``ERR CONFIG SET failed ...`` reply; never an
internal error. An applied value reads back through CONFIG GET, and that text is accepted
by CONFIG SET again.
"""

from __future__ import annotations

import os

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.unit.fuzz.inputs import values
from tests.unit.fuzz.support import assert_no_internal_error, budget, fresh_server, guarded
from valsync.config import _BY_NAME
from valsync.resp.reply import ErrorReply, MapReply

NAMES = sorted(_BY_NAME)


def config_set(server: object, client: object, name: str, value: bytes) -> object:
    return server.process(client, [b"CONFIG", b"SET", name.encode(), value])  # type: ignore[attr-defined]


@settings(max_examples=budget(150))
@given(st.sampled_from(NAMES), values, st.booleans())
@example("maxmemory", "9" * 5000, False)
@example("dir", "..", True)
def test_config_set_applies_or_refuses(name: str, value: str, protected_ok: bool) -> None:
    server, log = fresh_server()
    if protected_ok:
        server.config._values["enable-protected-configs"] = "yes"  # immutable: set at start
    client = server.new_client(addr="127.0.0.1:5000")
    cwd = os.getcwd()
    raw = value.encode("utf-8", "surrogateescape")
    try:
        with guarded("config-set"):
            reply = config_set(server, client, name, raw)
            assert_no_internal_error(reply, log)
            if isinstance(reply, ErrorReply):
                assert reply.text.startswith(
                    ("ERR CONFIG SET failed (possibly related to argument '", "ERR Unknown option")
                ), reply.text
                return
            shown = server.process(client, [b"CONFIG", b"GET", name.encode()])
            assert isinstance(shown, MapReply) and len(shown.pairs) == 1, shown
            again = config_set(server, client, name, shown.pairs[0][1])
            assert_no_internal_error(again, log)
            if name == "save" and b"-1" in shown.pairs[0][1].split():
                # 8.1.8 too: a changes count past LLONG_MAX is accepted, shown as -1, and that
                # -1 is then refused ("Invalid save parameters")
                return
            assert not isinstance(again, ErrorReply), (shown.pairs[0][1], again)
    finally:
        os.chdir(cwd)


def set_reply(name: str, value: bytes) -> tuple[object, str]:
    server, log = fresh_server()
    client = server.new_client()
    reply = config_set(server, client, name, value)
    assert_no_internal_error(reply, log)
    return reply, server.config.get(name)


def failed(name: str, reason: str) -> ErrorReply:
    return ErrorReply(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")


def test_found_numerals_answer_as_valkey_8_1_8() -> None:
    """Inputs that raised ValueError inside CONFIG SET; the replies were read from a real
    valkey-server 8.1.8."""
    nines = b"9" * 5000
    assert set_reply("maxmemory", nines)[0] == failed(
        "maxmemory", "argument must be a memory value"
    )
    assert set_reply("maxmemory", b"9" * 128)[0] == failed(
        "maxmemory", "argument must be a memory value"
    )
    assert set_reply("hz", nines)[0] == failed("hz", "argument couldn't be parsed into an integer")
    assert set_reply("save", nines + b" 1")[1] == "9223372036854775807 1"
    obuf = "client-output-buffer-limit"
    for seconds, shown in ((b"4294967297", "1"), (b"92233720368547758", "2061584302")):
        assert set_reply(obuf, b"normal 0 0 " + seconds)[1].startswith(f"normal 0 0 {shown} ")
    for seconds in (b"2147483648", b"1000000000000", b"9" * 30):
        assert set_reply(obuf, b"normal 0 0 " + seconds)[0] == failed(
            obuf, "Error in hard, soft or soft_seconds setting in buffer limit configuration."
        )
