"""DUMP payload codec: round trips, footer checks, and the versions RESTORE accepts."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valsync.keyspace import HashValue, ZSetValue
from valsync.keyspace.values import Value
from valsync.rdb.dump_payload import create_dump_payload, load_dump_payload, verify_dump_payload
from valsync.rdb.format import CRC64, RdbError

item = st.binary(max_size=80) | st.integers(-(2**63), 2**63 - 1).map(lambda i: b"%d" % i)


def _zset(pairs: dict[bytes, float]) -> ZSetValue:
    z = ZSetValue()
    for m, s in pairs.items():
        z.add(m, s)
    return z


values = st.one_of(
    item,
    st.lists(item, min_size=1, max_size=300).map(deque),
    st.sets(item, min_size=1, max_size=200),
    st.dictionaries(item, item, min_size=1, max_size=100).map(HashValue),
    st.dictionaries(item, st.floats(allow_nan=False), min_size=1, max_size=200).map(_zset),
)


@settings(max_examples=60, deadline=None)
@given(values)
def test_round_trip(value: Value) -> None:
    payload = create_dump_payload(value, b"k")
    assert verify_dump_payload(payload)
    assert load_dump_payload(payload, b"k") == value


def test_hash_with_field_ttls_needs_rdb_80() -> None:
    h = HashValue({b"a": b"1", b"b": b"2"})
    h.expire_field(b"b", 1_900_000_000_000)
    payload = create_dump_payload(h)
    assert payload[-10:-8] == (80).to_bytes(2, "little")
    loaded = load_dump_payload(payload)
    assert isinstance(loaded, HashValue) and loaded.field_expires == {b"b": 1_900_000_000_000}


def _with_footer(body: bytes, version: int) -> bytes:
    head = body + version.to_bytes(2, "little")
    return head + CRC64.calc(head).to_bytes(8, "little")


@pytest.mark.parametrize(
    ("version", "ok"), [(0, True), (11, True), (12, False), (79, False), (80, True), (81, False)]
)
def test_accepted_versions(version: int, ok: bool) -> None:
    assert verify_dump_payload(_with_footer(b"\x00\x01x", version)) is ok


def test_corrupt_payloads() -> None:
    good = create_dump_payload(b"hello")
    assert not verify_dump_payload(good[:9])
    assert not verify_dump_payload(good[:-1] + bytes([good[-1] ^ 0xFF]))
    for body in (b"\x00\x05hel", b"\x2a\x00", b"\x0b\x00", b"\x02\x00"):
        with pytest.raises(RdbError):
            load_dump_payload(_with_footer(body, 11))
