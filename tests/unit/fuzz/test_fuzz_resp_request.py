"""Fuzzing the request framer (``valsync.resp.request``): the hiredis fast path and the
Python framer must agree on every input, in any chunking, and bad input must end in one of
Valkey's protocol errors, never another exception, a hang, or a huge allocation."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.unit.fuzz.inputs import streams
from tests.unit.fuzz.support import budget, chunked, guarded
from valsync.resp.request import ProtocolError, RequestParser

# Valkey's networking.c words (the last one is 8.1.8's check of the CRLF after a bulk).
VALKEY_ERRORS = {
    "Protocol error: too big inline request",
    "Protocol error: too big mbulk count string",
    "Protocol error: invalid multibulk length",
    "Protocol error: unauthenticated multibulk length",
    "Protocol error: unauthenticated bulk length",
    "Protocol error: too big bulk count string",
    "Protocol error: invalid bulk length",
    "Protocol error: unbalanced quotes in request",
    "Protocol error: invalid CRLF in request",
}


def frame(
    data: bytes, cuts: list[int], *, fast: bool, authenticated: bool, canonical: bool = False
) -> list[object]:
    """Every outcome of framing ``data`` fed in pieces: commands, then the error or the
    bytes left pending; ``canonical`` frames ahead as a compiled build does."""
    parser = RequestParser(fast=fast, canonical=canonical)
    parser.authenticated = authenticated
    out: list[object] = []
    try:
        for piece in chunked(data, cuts) or [b""]:
            parser.feed(piece)
            while (argv := parser.next_argv()) is not None:
                out.append((argv, parser.last_nbytes, parser.last_inline))
    except ProtocolError as err:
        assert str(err) in VALKEY_ERRORS or str(err).startswith(
            "Protocol error: expected '$', got '"
        ), str(err)
        out.append(("error", str(err)))
    else:
        out.append(("pending", parser.pending))
    return out


@settings(max_examples=budget(150))
@given(streams, st.lists(st.integers(0, 1 << 16), max_size=6), st.booleans())
@example(b"*3000000000\r\n$3\r\nset\r\n", [], True)
@example(b"*1\r\n$1099511627776\r\nx\r\n", [], True)
@example(b"*2\r\n*9999999\r\n$1\r\na\r\n", [3], True)
@example(b"*1\r\n$4\r\nPINGxx", [], True)
@example(b"*1\r\n$" + b"9" * 5000 + b"\r\n", [], True)  # was: ValueError from int()
@example(b'set "a\\x4', [], False)
@example(b"\x00" * 70000, [1, 40000], True)
def test_framers_agree_in_any_chunking(data: bytes, cuts: list[int], auth: bool) -> None:
    with guarded("resp-request"):
        reference = frame(data, [], fast=False, authenticated=auth)
        assert frame(data, [], fast=True, authenticated=auth) == reference
        assert frame(data, cuts, fast=True, authenticated=auth) == reference
        assert frame(data, cuts, fast=False, authenticated=auth) == reference
        assert frame(data, cuts, fast=True, authenticated=auth, canonical=True) == reference


@pytest.mark.parametrize("newline", [True, False])
@pytest.mark.parametrize("prefix", [b"*", b"$", b"", b"*1\r\n$"])
def test_huge_headers_are_refused_or_awaited_without_allocating(
    prefix: bytes, newline: bool
) -> None:
    """A header line far beyond 64 KB: an error or a wait, bounded in memory."""
    data = prefix + b"9" * 140000 + (b"\r\n" if newline else b"")
    with guarded("resp-request-huge-header", memory=16 << 20):
        outcome = frame(data, [4096, 65536], fast=True, authenticated=True)
        compiled_way = frame(data, [4096, 65536], fast=True, authenticated=True, canonical=True)
    assert outcome == compiled_way == frame(data, [], fast=False, authenticated=True)
    assert outcome[-1][0] in ("error", "pending")  # type: ignore[index]


def test_bulk_length_beyond_the_maximum_is_invalid_before_unauthenticated() -> None:
    """Valkey checks proto-max-bulk-len first, then the unauthenticated 16 KB limit."""
    assert frame(b"*1\r\n$600000000\r\n", [], fast=False, authenticated=False) == [
        ("error", "Protocol error: invalid bulk length")
    ]
    assert frame(b"*1\r\n$16385\r\n", [], fast=False, authenticated=False) == [
        ("error", "Protocol error: unauthenticated bulk length")
    ]
