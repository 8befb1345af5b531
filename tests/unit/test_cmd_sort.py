"""SORT through the Harness; expected replies were taken from valkey-server 8.1.8."""

from __future__ import annotations

from tests.unit.cmdutil import Harness


def test_sort_by_get_store_and_keys() -> None:
    h = Harness()
    h.run("RPUSH", "l", "3", "1", "2")
    h.run("MSET", "w_1", "30", "w_2", "10", "w_3", "20")
    h.run("HSET", "h_1", "f", "one")
    assert h.run("SORT", "l") == [b"1", b"2", b"3"]
    assert h.run("SORT", "l", "BY", "w_*", "GET", "#", "GET", "h_*->f") == [
        b"2",
        None,
        b"3",
        None,
        b"1",
        b"one",
    ]
    assert h.run("SORT", "l", "BY", "nosort", "DESC", "LIMIT", "0", "2") == [b"2", b"1"]
    assert h.run("SORT", "l", "BY", "w_*", "GET", "h_*->f", "STORE", "d") == 3
    assert h.run("LRANGE", "d", "0", "-1") == [b"", b"", b"one"]
    assert h.propagated[-1][1] == [b"SORT", b"l", b"BY", b"w_*", b"GET", b"h_*->f", b"STORE", b"d"]
    assert h.run("COMMAND", "GETKEYS", "SORT", "l", "LIMIT", "0", "1", "STORE", "d") == [b"l", b"d"]


def test_sort_errors() -> None:
    h = Harness()
    h.run("RPUSH", "l", "1", "x")
    assert h.wire("SORT", "l") == b"-ERR One or more scores can't be converted into double\r\n"
    assert h.wire("SORT_RO", "l", "STORE", "d") == b"-ERR syntax error\r\n"
    h.run("SET", "s", "v")
    assert h.wire("SORT", "s", "LIMIT", "x", "1") == (
        b"-ERR value is not an integer or out of range\r\n"
    )
    assert h.wire("SORT", "s").startswith(b"-WRONGTYPE")
