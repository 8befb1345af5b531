"""LCS and LOLWUT through the Harness; expected replies were taken from valkey-server 8.1.8."""

from __future__ import annotations

from tests.unit.cmdutil import Harness
from valsync.commands.lolwut import lolwut_text


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
