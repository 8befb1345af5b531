"""LCS and LOLWUT through the Harness; expected replies were taken from valkey-server 8.1.8."""

from __future__ import annotations

import random

from tests.unit.cmdutil import Harness
from valsync.commands.lolwut import lolwut_text
from valsync.commands.strings import LcsTable


def test_lcs_reply_shapes() -> None:
    h = Harness()
    h.run("MSET", "a", "ohmytext", "b", "mynewtext")
    assert h.run("LCS", "a", "b") == b"mytext"
    assert h.run("LCS", "a", "b", "LEN") == 6
    assert h.wire("LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN") == (
        b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
        b"$3\r\nlen\r\n:6\r\n"
    )
    h.client.resp = 3
    assert h.wire("LCS", "a", "nokey", "IDX", resp=3) == (
        b"%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"
    )


def test_lolwut_version_line() -> None:
    h = Harness()
    assert h.wire("LOLWUT") == b"$17\r\nRedis ver. 8.1.8\n\r\n"
    assert h.wire("LOLWUT", "VERSION", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert lolwut_text([b"LOLWUT", b"VERSION", b"5", b"1", b"1", b"1"], lambda: 0) == (
        "\u280b\n\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 8.1.8\n".encode()
    )


def test_bit_parallel_table_equals_the_plain_table() -> None:
    rng = random.Random(9)
    for _ in range(300):
        a = bytes(rng.choice(b"abc") for _ in range(rng.randrange(12)))
        b = bytes(rng.choice(b"abcd") for _ in range(rng.randrange(12)))
        plain = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                if a[i - 1] == b[j - 1]:
                    plain[i][j] = plain[i - 1][j - 1] + 1
                else:
                    plain[i][j] = max(plain[i - 1][j], plain[i][j - 1])
        table = LcsTable(a, b)
        assert [[table.at(i, j) for j in range(len(b) + 1)] for i in range(len(a) + 1)] == plain
