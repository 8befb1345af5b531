"""The request framer and the reply encoder, byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valsync.resp import (
    NULL_ARRAY,
    Double,
    ErrorReply,
    MapReply,
    ProtocolError,
    RequestParser,
    SetReply,
    SimpleString,
    Verbatim,
    encode,
    encode_command,
    split_inline_args,
)


def frame_all(data: bytes) -> list[tuple[list[bytes], int]]:
    parser = RequestParser()
    parser.feed(data)
    out = []
    while (req := parser.next()) is not None:
        out.append((req.argv, req.nbytes))
    return out


def test_multibulk_and_byte_counts() -> None:
    data = encode_command([b"SET", b"k", b"v"]) + encode_command([b"PING"])
    assert frame_all(data) == [([b"SET", b"k", b"v"], 27), ([b"PING"], 14)]


def test_inline_commands_and_keepalive_newline() -> None:
    assert frame_all(b"PING\r\n\nECHO 'a b' \"c\\x41\"\r\n") == [
        ([b"PING"], 6),
        ([], 1),
        ([b"ECHO", b"a b", b"cA"], 20),
    ]


@given(st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=5), max_size=8), st.data())
def test_any_chunking_gives_the_same_commands(
    commands: list[list[bytes]], data: st.DataObject
) -> None:
    wire = b"".join(encode_command(c) for c in commands)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    parser = RequestParser()
    got = []
    last = 0
    for cut in [*cuts, len(wire)]:
        parser.feed(wire[last:cut])
        last = cut
        while (req := parser.next()) is not None:
            got.append(req.argv)
    assert got == commands


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"*abc\r\n", "Protocol error: invalid multibulk length"),
        (b"*2\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
        (b"*1\r\n$-3\r\n", "Protocol error: invalid bulk length"),
        (b'"x\r\n', "Protocol error: unbalanced quotes in request"),
        (b"*1\r\n$4\r\nPINGxx", "Protocol error: invalid CRLF in request"),
        (b"x" * 70000, "Protocol error: too big inline request"),
    ],
)
def test_protocol_errors_in_valkeys_words(data: bytes, message: str) -> None:
    parser = RequestParser()
    parser.feed(data)
    with pytest.raises(ProtocolError, match=message.replace("$", r"\$")):
        parser.next()


def test_bulk_limit_is_configurable() -> None:
    parser = RequestParser(max_bulk_len=10)
    parser.feed(b"*1\r\n$11\r\n")
    with pytest.raises(ProtocolError):
        parser.next()


def test_split_inline_args_like_sdssplitargs() -> None:
    assert split_inline_args(b"set 'it''s'") is None
    assert split_inline_args(b"a \"b c\" 'd\\'e'") == [b"a", b"b c", b"d'e"]


def _enc(reply: object, resp: int = 2) -> bytes:
    out = bytearray()
    encode(reply, out, resp)  # type: ignore[arg-type]
    return bytes(out)


def test_reply_encoding_resp2_and_resp3() -> None:
    assert _enc(b"x") == b"$1\r\nx\r\n"
    assert _enc(None) == b"$-1\r\n" and _enc(None, 3) == b"_\r\n"
    assert _enc(NULL_ARRAY) == b"*-1\r\n" and _enc(NULL_ARRAY, 3) == b"_\r\n"
    assert _enc(SimpleString("OK")) == b"+OK\r\n"
    assert _enc(ErrorReply("ERR x\ny")) == b"-ERR x y\r\n"
    assert _enc(Double(1.5)) == b"$3\r\n1.5\r\n" and _enc(Double(1.5), 3) == b",1.5\r\n"
    assert _enc(MapReply([(b"a", 1)])) == b"*2\r\n$1\r\na\r\n:1\r\n"
    assert _enc(MapReply([(b"a", 1)]), 3) == b"%1\r\n$1\r\na\r\n:1\r\n"
    assert _enc(SetReply([b"a"]), 3) == b"~1\r\n$1\r\na\r\n"
    assert _enc(Verbatim(b"hi"), 3) == b"=6\r\ntxt:hi\r\n"
    assert _enc([1, [b"a"]]) == b"*2\r\n:1\r\n*1\r\n$1\r\na\r\n"
