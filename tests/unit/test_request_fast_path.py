"""The hiredis fast path of RequestParser frames exactly what the Python framer frames.

Same commands, same byte counts, same protocol errors (Valkey's words), whatever the chunking:
canonical pipelines, inline commands, empty multibulks and malformed elements mixed in.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valsync.resp.reply import encode_command
from valsync.resp.request import ProtocolError, RequestParser, canonical_size

ARG = st.binary(min_size=0, max_size=40) | st.sampled_from([b"SET", b"x" * 5000, b"\r\n$3\r\n"])
CANONICAL = st.lists(ARG, min_size=1, max_size=5).map(encode_command)
ODD = st.sampled_from(
    [
        b"PING\r\n",
        b"\n",
        b"*0\r\n",
        b"*-1\r\n",
        b"*2\r\n$3\r\nget\r\n+x\r\n",
        b"*1\r\n=5\r\ntxt:x\r\n",
        b"*1\r\n(12\r\n",
        b"*1\r\n:1\r\n",
        b"*1\r\n$4\r\nPINGxx",
        b"*1\r\n$03\r\nabc\r\n",
        b"*01\r\n$3\r\nabc\r\n",
        b"*2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n",
        b"~1\r\n$1\r\na\r\n",
        b'set "a b" c\r\n',
    ]
)


def frame(
    wire: bytes, cuts: list[int], fast: bool, batches: bool = False, canonical: bool = False
) -> list[object]:
    """What the parser hands out, command by command; ``batches`` takes the commands framed
    ahead in one piece whenever there are some (the replica applier's way); ``canonical``
    frames ahead with the one-pass framer (what a compiled build uses) instead of hiredis."""
    parser = RequestParser(fast=fast, canonical=canonical)
    events: list[object] = []
    last = 0
    for cut in [*sorted(cuts), len(wire)]:
        parser.feed(wire[last:cut])
        last = cut
        try:
            while True:
                batch, sizes = parser.take_framed() if batches else ([], [])
                if batch:
                    events.extend(
                        (argv, size, False) for argv, size in zip(batch, sizes, strict=True)
                    )
                    assert parser.last_nbytes == sizes[-1]
                    continue
                req = parser.next()
                if req is None:
                    break
                events.append((req.argv, req.nbytes, req.inline))
        except ProtocolError as err:
            events.append(str(err))
            return events
    events.append(("pending", parser.pending))
    return events


@settings(max_examples=300, deadline=None)
@given(
    st.lists(CANONICAL | ODD, min_size=1, max_size=12),
    st.lists(st.integers(min_value=0, max_value=20000), max_size=6),
)
def test_fast_path_frames_like_the_python_framer(parts: list[bytes], cuts: list[int]) -> None:
    wire = b"".join(parts)
    cuts = [c for c in cuts if c <= len(wire)]
    reference = frame(wire, cuts, fast=False)
    for canonical in (False, True):
        assert frame(wire, cuts, fast=True, canonical=canonical) == reference
        assert frame(wire, cuts, fast=True, batches=True, canonical=canonical) == reference


@given(st.lists(ARG, min_size=1, max_size=6))
def test_canonical_size_is_the_encoded_length(argv: list[bytes]) -> None:
    assert canonical_size(argv) == len(encode_command(argv))


def test_last_raw_is_the_request_bytes() -> None:
    wire = encode_command([b"SET", b"k", b"v"]) + b"PING\r\n" + encode_command([b"DEL", b"k"])
    parser = RequestParser()
    parser.feed(wire)
    raws = []
    while parser.next_argv() is not None:
        raws.append(parser.last_raw())
    assert raws == [encode_command([b"SET", b"k", b"v"]), None, encode_command([b"DEL", b"k"])]


@pytest.mark.parametrize("limit", [10, 4999])
def test_bulk_limit_holds_on_the_fast_path(limit: int) -> None:
    parser = RequestParser(max_bulk_len=limit)
    parser.feed(encode_command([b"SET", b"k", b"x" * 5000]))
    with pytest.raises(ProtocolError, match="invalid bulk length"):
        parser.next()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"*3000000000\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n$3\r\nGET\r\n*3000000000\r\n", "Protocol error: invalid multibulk length"),
        (b"*2\r\n$3\r\nGET\r\n*1500000000\r\n", "Protocol error: expected '$', got '*'"),
    ],
)
def test_huge_array_headers_never_reach_hiredis(data: bytes, message: str) -> None:
    """hiredis would allocate the array's slots at once: the Python framer answers instead."""
    parser = RequestParser(fast=True)
    parser.feed(data)
    with pytest.raises(ProtocolError, match=re.escape(message)):
        while parser.next_argv() is not None:
            pass
