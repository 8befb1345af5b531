"""LCS and LOLWUT against a real valkey-server 8.1.8, RESP2 and RESP3.

LCS: Hypothesis draws pairs of strings over small alphabets (so that long and repeated
matches happen) and every option; replies are compared byte for byte, and the datasets by
``DEBUG DIGEST``. LOLWUT: every reply that does not depend on ``rand()`` (the version line,
Schotter with at most two rows of squares, a one-row skyline, errors) byte for byte; the
random drawings by their shape (size, lines, cells, trailer).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Differ
from tests.realvalkey import ServerProcess, start_valkey


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    proc = start_valkey("8.1.8")
    yield proc
    proc.stop()


text = st.one_of(
    st.text(alphabet="ab", max_size=12),
    st.text(alphabet="abcd", max_size=30),
    st.text(alphabet="xyz \x00\xe9", max_size=20),
)


@st.composite
def lcs_options(draw: st.DrawFn) -> list[str]:
    out: list[str] = []
    for opt in draw(
        st.lists(st.sampled_from(["IDX", "LEN", "WITHMATCHLEN", "MINMATCHLEN", "X"]), max_size=4)
    ):
        out.append(opt)
        if opt == "MINMATCHLEN" and draw(st.integers(0, 9)):
            out.append(draw(st.sampled_from(["0", "1", "2", "3", "5", "-1", "x"])))
    return out


SETTINGS = settings(
    max_examples=int(os.environ.get("LCS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize="LCS_EXAMPLES" not in os.environ,
)


@pytest.mark.parametrize("resp", [2, 3])
@SETTINGS
@given(
    a=text,
    b=text,
    calls=st.lists(
        st.tuples(st.sampled_from(["a", "b", "nokey", "lst"]), st.sampled_from(["a", "b"])),
        min_size=1,
        max_size=3,
    ),
    opts=st.lists(lcs_options(), min_size=3, max_size=3),
)
def test_lcs_matches_valkey(
    server: ServerProcess,
    resp: int,
    a: str,
    b: str,
    calls: list[tuple[str, str]],
    opts: list[list[str]],
) -> None:
    differ = Differ(server, resp=resp)
    try:
        differ.reset()
        differ.check("SET", "a", a)
        differ.check("SET", "b", b)
        differ.check("RPUSH", "lst", "x")
        for (k1, k2), extra in zip(calls, opts, strict=False):
            differ.check("LCS", k1, k2, *extra)
            differ.check("LCS", k1, k2, "IDX", "WITHMATCHLEN")
        differ.check_digest()
    finally:
        differ.close()


DETERMINISTIC = [
    ["LOLWUT"],
    ["lolwut", "foo"],
    ["LOLWUT", "VERSION"],
    ["LOLWUT", "VERSION", "7"],
    ["LOLWUT", "VERSION", "-1"],
    ["LOLWUT", "VERSION", "x"],
    ["LOLWUT", "VERSION", "5", "x"],
    ["LOLWUT", "VERSION", "5", "66", "8", "2"],
    ["LOLWUT", "VERSION", "5", "10", "3", "1"],
    ["LOLWUT", "VERSION", "5", "1", "1", "1"],
    ["LOLWUT", "VERSION", "5", "-5", "0", "-7"],
    ["LOLWUT", "VERSION", "5", "1000", "200", "2"],
    ["LOLWUT", "VERSION", "5", "37", "13", "2"],
    ["LOLWUT", "VERSION", "6", "40", "1"],
    ["LOLWUT", "VERSION", "6", "1", "-3"],
    ["LOLWUT", "VERSION", "6", "y"],
]


@pytest.mark.parametrize("resp", [2, 3])
def test_lolwut_matches_valkey(server: ServerProcess, resp: int) -> None:
    differ = Differ(server, resp=resp)
    try:
        for argv in DETERMINISTIC:
            differ.check(*argv)
    finally:
        differ.close()


_CELL = re.compile(rb"\x1b\[0;(30;40|90;100|37;47|97;107)m \x1b\[0m")


def _shape(raw: bytes) -> tuple[int, list[int], bytes]:
    """(byte length, cells per line, trailer) of a drawing; cells are Braille characters or
    coloured spaces."""
    body = raw.split(b"\r\n", 1)[1]
    lines = body.split(b"\n")
    art = [ln for ln in lines if not ln.startswith((b"Georg", b"Dedicated", b"Original"))]
    cells = [len(_CELL.findall(ln)) or len(ln.decode()) for ln in art]
    trailer = b"\n".join(ln for ln in lines if ln not in art)
    return len(body), cells, trailer


@pytest.mark.parametrize(
    "argv",
    [
        ["LOLWUT", "VERSION", "5"],
        ["LOLWUT", "VERSION", "5", "20", "5", "9"],
        ["LOLWUT", "VERSION", "6"],
        ["LOLWUT", "VERSION", "6", "30", "12"],
    ],
)
def test_random_lolwut_has_valkeys_shape(server: ServerProcess, argv: list[str]) -> None:
    differ = Differ(server, resp=2)
    try:
        mine, theirs = differ.both(*argv)
        m_len, m_cells, m_trailer = _shape(mine)
        t_len, t_cells, t_trailer = _shape(theirs)
        assert m_cells == t_cells and m_trailer == t_trailer
        if argv[2] == "5":  # Braille cells are all 3 bytes: the size is fixed
            assert m_len == t_len
    finally:
        differ.close()


def test_long_strings_match_valkey(server: ServerProcess) -> None:
    """Long DNA-like strings (many matches, many ranges), and strings whose table would pass
    proto-max-bulk-len, which Valkey refuses before computing."""
    import random

    rng = random.Random(1)
    differ = Differ(server, resp=2)
    try:
        differ.reset()
        a = "".join(rng.choice("acgt") for _ in range(2500))
        b = "".join(rng.choice("acgt") for _ in range(2000))
        differ.check("MSET", "a", a, "b", b, "huge1", "x" * 12000, "huge2", "y" * 12000)
        for opts in ([], ["LEN"], ["IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]):
            differ.check("LCS", "a", "b", *opts)
        differ.check("LCS", "huge1", "huge2", "LEN")
    finally:
        differ.close()
