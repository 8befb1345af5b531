"""Generators of fuzz inputs shared by the unit fuzzers and the differential ones in
``tests/integration``: request streams for the framer, values for CONFIG SET."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.unit.fuzz.support import HUGE_LENGTHS

# --- request streams ---------------------------------------------------------------------

numbers = st.one_of(
    st.integers(-3, 40),
    st.sampled_from(HUGE_LENGTHS),
    st.integers(10**6, 10**12),
).map(lambda n: str(n).encode())
odd_numbers = st.sampled_from([b"", b"-0", b"+1", b"01", b" 1", b"1 ", b"0x10", b"1e3", b"9" * 25])


@st.composite
def multibulk(draw: st.DrawFn) -> bytes:
    argv = draw(st.lists(st.binary(max_size=24), min_size=1, max_size=5))
    out = b"*%d\r\n" % len(argv)
    for arg in argv:
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    return out


inline_text = st.lists(
    st.sampled_from([b"set", b"k", b" ", b"\t", b'"', b"'", b"\\", b"\\x4", b"\\xzz", b'a"b'])
    | st.binary(max_size=6),
    max_size=8,
).map(b"".join)
tokens = st.one_of(
    multibulk(),
    inline_text.map(lambda t: t + b"\r\n"),
    st.tuples(st.sampled_from([b"*", b"$"]), numbers | odd_numbers).map(
        lambda t: t[0] + t[1] + b"\r\n"
    ),
    st.sampled_from([b"\r\n", b"\n", b"\r", b"+OK\r\n", b":1\r\n", b"*1\r\n*1\r\n", b"*0\r\n"]),
    st.binary(max_size=12),
)
streams = st.lists(tokens, max_size=10).map(b"".join)

# --- CONFIG SET values -------------------------------------------------------------------

numerals = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["0", "-1", "1", "00", "+5", "1e3", "0x10", "1.5", " 1", "9" * 5000]),
    st.tuples(st.integers(-5, 2**40).map(str), st.sampled_from(["k", "kb", "m", "mb", "g", "gb", "GB", "b", "x"])).map("".join),
)  # fmt: skip
words = st.sampled_from(
    ["yes", "no", "local", "", " ", "on", "off", "default", "KEA", "$lshz", "3600 1",
     "normal 0 0 0", "replica 1mb 1mb 60", "* -::*", "127.0.0.1", "50 99.9", "/", "..",
     "tmp", "dump.rdb", "a/b", "allkeys-lru", "notice", "\x00", "é"]
)  # fmt: skip
values = st.one_of(
    numerals,
    words,
    st.lists(numerals | words, min_size=2, max_size=6).map(" ".join),
    st.text(max_size=30),
    st.binary(max_size=20).map(lambda b: b.decode("latin-1")),
)
