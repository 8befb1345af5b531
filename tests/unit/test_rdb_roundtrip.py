"""Property tests: write -> read gives back the keyspace, in any chunking; damage -> RdbError.

Sizes are drawn around every encoding threshold, both at Valkey's default limits and at tiny
limits (so small values cross every threshold cheaply), for RDB 11 and RDB 80.
"""

from __future__ import annotations

import random
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valsync.keyspace import HashValue, Keyspace, Value, ZSetValue
from valsync.rdb import (
    DEFAULT_LIMITS,
    EncodingLimits,
    RdbError,
    RdbReader,
    RdbWriter,
    dump_rdb_bytes,
    load_rdb_bytes,
    make_aux,
)
from valsync.rdb.stream import decode_stream_payload

TINY_LIMITS = EncodingLimits(
    list_max_listpack_bytes=48,
    set_max_intset_entries=3,
    set_max_listpack_entries=3,
    set_max_listpack_value=4,
    zset_max_listpack_entries=3,
    zset_max_listpack_value=4,
    hash_max_listpack_entries=3,
    hash_max_listpack_value=4,
)

STREAM_PAYLOAD = bytes.fromhex(
    "0110000000000000000100000000000000012b2b0000000f000201000101018"
    "46e616d6505000102010001000181610204010201000101018162020401ff02"
    "0102010100000201026731000081ffffffffffffffff0000"
)

ints_text = st.integers(-(2**63), 2**63 - 1).map(lambda i: b"%d" % i)
sized = st.builds(
    lambda c, n: c * n,
    st.sampled_from([b"a", b"\x00\xff", b"7"]),
    st.sampled_from([1, 10, 11, 12, 20, 21, 22, 32, 63, 64, 65]),
)
element = st.one_of(
    st.binary(max_size=24),
    ints_text,
    st.integers(-200, 200).map(lambda i: b"%d" % i),
    st.sampled_from([b"", b"007", b"-0", b"+1", b"1.5", b" 1", b"2147483648", b"-2147483649"]),
    sized,
)
big_string = st.sampled_from([16383, 16384, 70000]).map(
    lambda n: bytes(range(256)) * (n // 256) + b"x" * (n % 256)
)


def _numbered(n: int, width: int, prefix: bytes = b"") -> list[bytes]:
    return [prefix + b"%0*d" % (width, i) for i in range(n)]


lists = st.one_of(
    st.lists(element, min_size=1, max_size=12).map(deque),
    st.builds(
        lambda n, w: deque(_numbered(n, w, b"e")),
        st.sampled_from([1, 300, 700]),
        st.sampled_from([3, 30]),
    ),
    st.lists(
        st.sampled_from([b"p" * 8191, b"q" * 8192, b"r" * 8193, b"s"]), min_size=1, max_size=4
    ).map(deque),
)
sets = st.one_of(
    st.sets(element, min_size=1, max_size=12),
    st.builds(lambda n: set(_numbered(n, 1)), st.sampled_from([1, 511, 512, 513])),
    st.builds(lambda n: {b"%d" % (i * 100003 - 7) for i in range(n)}, st.sampled_from([2, 40])),
    st.builds(
        lambda n, w: set(_numbered(n, w, b"m")),
        st.sampled_from([127, 128, 129]),
        st.sampled_from([5, 63, 64]),
    ),
)
scores = st.one_of(
    st.floats(allow_nan=False),
    st.integers(-(10**6), 10**6).map(float),
    st.sampled_from([0.0, -0.0, 2.5, 1e300, -1e-300, float(2**62), float(2**63)]),
)
zsets = st.one_of(
    st.dictionaries(element, scores, min_size=1, max_size=12),
    st.builds(
        lambda n, w: {m: float(i % 17) / 4 for i, m in enumerate(_numbered(n, w, b"z"))},
        st.sampled_from([127, 128, 129]),
        st.sampled_from([5, 63, 64]),
    ),
)
hashes = st.one_of(
    st.dictionaries(element, element, min_size=1, max_size=12),
    st.builds(
        lambda n, w: {f: f[::-1] for f in _numbered(n, w, b"f")},
        st.sampled_from([511, 512, 513]),
        st.sampled_from([3, 63, 64]),
    ),
)


def _zset(d: dict[bytes, float]) -> ZSetValue:
    z = ZSetValue()
    for m, s in d.items():
        z.add(m, s)
    return z


@st.composite
def hash_values(draw: st.DrawFn, field_ttls: bool) -> HashValue:
    h = HashValue(draw(hashes))
    if field_ttls and draw(st.booleans()):
        for f in draw(st.lists(st.sampled_from(sorted(h)), max_size=3)):
            h.field_expires[f] = draw(st.integers(0, 2**62))
    return h


def values(field_ttls: bool) -> st.SearchStrategy[Value]:
    return st.one_of(
        element,
        big_string,
        lists,
        sets,
        zsets.map(_zset),
        hash_values(field_ttls),
        st.builds(lambda: decode_stream_payload(STREAM_PAYLOAD)),
    )


@st.composite
def keyspaces(draw: st.DrawFn, field_ttls: bool) -> Keyspace:
    ks = Keyspace()
    dbs = draw(st.lists(st.integers(0, 15), min_size=0, max_size=4, unique=True))
    for dbi in dbs:
        entries = draw(
            st.dictionaries(
                st.binary(max_size=20),
                st.tuples(values(field_ttls), st.none() | st.integers(-(2**63), 2**63 - 1)),
                min_size=1,
                max_size=5,
            )
        )
        for key, (value, expire) in entries.items():
            ks[dbi].data[key] = value
            if expire is not None:
                ks[dbi].expires[key] = expire
    return ks


def assert_same(a: Keyspace, b: Keyspace) -> None:
    for mine, theirs in zip(a.dbs, b.dbs, strict=True):
        assert mine.data == theirs.data
        assert mine.expires == theirs.expires
        for key, value in mine.data.items():
            if isinstance(value, HashValue):
                other = theirs.data[key]
                assert isinstance(other, HashValue)
                assert value.field_expires == other.field_expires


PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(
    ks=keyspaces(field_ttls=False),
    version=st.sampled_from([11, 80]),
    compression=st.booleans(),
    checksum=st.booleans(),
    limits=st.sampled_from([DEFAULT_LIMITS, TINY_LIMITS]),
)
def test_write_read_identical(
    ks: Keyspace, version: int, compression: bool, checksum: bool, limits: EncodingLimits
) -> None:
    blob = dump_rdb_bytes(
        ks,
        version=version,
        compression=compression,
        checksum=checksum,
        limits=limits,
        aux=make_aux(ctime=1),
    )
    result = load_rdb_bytes(blob)
    assert result.checksum_verified is checksum
    assert result.keys_loaded == ks.total_keys()
    assert_same(ks, result.keyspace)


@PROPERTY
@given(ks=keyspaces(field_ttls=True), limits=st.sampled_from([DEFAULT_LIMITS, TINY_LIMITS]))
def test_field_ttls_round_trip_in_rdb_80(ks: Keyspace, limits: EncodingLimits) -> None:
    assert_same(ks, load_rdb_bytes(dump_rdb_bytes(ks, version=80, limits=limits, aux={})).keyspace)


@PROPERTY
@given(ks=keyspaces(field_ttls=False), data=st.data())
def test_any_chunking_gives_the_same_result(ks: Keyspace, data: st.DataObject) -> None:
    blob = dump_rdb_bytes(ks, aux=make_aux(ctime=1), limits=TINY_LIMITS)
    reader = RdbReader()
    pos = 0
    while pos < len(blob):
        n = data.draw(st.integers(1, max(1, len(blob) // 3)))
        reader.feed(blob[pos : pos + n])
        pos += n
    result = reader.finish()
    assert reader.done
    assert result.trailing == b""
    assert_same(ks, result.keyspace)


def _all_types(version: int = 11) -> Keyspace:
    ks = Keyspace()
    d = ks[0].data
    d[b"str:int"] = b"12345"
    d[b"str:raw"] = b"hello"
    d[b"str:lzf"] = b"abcabcabc" * 8
    d[b"list"] = deque([b"a", b"1", b"-300", b"x" * 70])
    d[b"set:int"] = {b"1", b"2", b"-70000"}
    d[b"set:lp"] = {b"a", b"b"}
    d[b"set:ht"] = {b"a", b"y" * 70}
    d[b"zset:lp"] = _zset({b"a": 1.0, b"b": 2.5})
    d[b"zset:sl"] = _zset({b"a": 1.0, b"m" * 70: -0.25})
    d[b"hash:lp"] = HashValue({b"f": b"v", b"n": b"123"})
    d[b"hash:ht"] = HashValue({b"f": b"v" * 70})
    d[b"stream"] = decode_stream_payload(STREAM_PAYLOAD)
    ks[0].expires[b"str:raw"] = 4102444800000
    ks[5].data[b"db5"] = b"five"
    if version == 80:
        h = HashValue({b"a": b"1", b"b": b"2"})
        h.field_expires[b"b"] = 4102444800456
        ks[5].data[b"hash:fexp"] = h
    return ks


@pytest.mark.parametrize("version", [11, 80])
def test_every_truncation_is_an_rdb_error(version: int) -> None:
    blob = dump_rdb_bytes(_all_types(version), version=version, aux=make_aux(ctime=1))
    for cut in range(len(blob)):
        with pytest.raises(RdbError, match="truncated|Wrong signature"):
            load_rdb_bytes(blob[:cut])
        reader = RdbReader()
        reader.feed(blob[:cut])
        with pytest.raises(RdbError):
            reader.finish()


@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_flipped_bytes_never_escape_as_other_errors(mask: int) -> None:
    blob = dump_rdb_bytes(_all_types(80), version=80, aux=make_aux(ctime=1))
    reference = load_rdb_bytes(blob).keyspace
    for i in range(len(blob)):
        damaged = bytearray(blob)
        damaged[i] ^= mask
        with pytest.raises(RdbError):
            load_rdb_bytes(bytes(damaged))
        try:
            result = load_rdb_bytes(bytes(damaged), verify_checksum=False)
        except RdbError:
            continue
        if i >= len(blob) - 8:
            assert_same(reference, result.keyspace)


def test_writer_streams_chunks_and_counts_keys() -> None:
    ks = Keyspace()
    rng = random.Random(1)
    for i in range(20000):
        ks[i % 3].data[b"k%d" % i] = rng.randbytes(20)
    seen: list[int] = []
    writer = RdbWriter(ks, aux={}, on_key=seen.append)
    chunks = list(writer.chunks())
    assert len(chunks) > 3
    assert all(64 * 1024 <= len(c) < 65 * 1024 for c in chunks[:-1])
    assert writer.keys_written == 20000
    assert seen[-1] == 20000
    assert writer.bytes_written == sum(map(len, chunks))
    assert_same(ks, load_rdb_bytes(b"".join(chunks)).keyspace)


def test_expired_keys_are_kept() -> None:
    ks = Keyspace()
    ks[0].data[b"old"] = b"v"
    ks[0].expires[b"old"] = 1
    assert load_rdb_bytes(dump_rdb_bytes(ks, aux={})).keyspace[0].expires == {b"old": 1}


@pytest.mark.parametrize("version", [11, 80])
def test_all_sixteen_databases(version: int) -> None:
    ks = Keyspace()
    for dbi in range(16):
        ks[dbi].data[b"k"] = b"db%d" % dbi
        ks[dbi].data[b"l%d" % dbi] = deque([b"%d" % dbi] * (dbi + 1))
        ks[dbi].expires[b"k"] = 4102444800000 + dbi
    result = load_rdb_bytes(dump_rdb_bytes(ks, version=version, aux={}))
    assert [h[0] for h in result.resize_hints] == list(range(16))
    assert_same(ks, result.keyspace)


def test_runs_of_short_strings_load_alike_in_any_chunking() -> None:
    """The loader's fast path for runs of short strings: cut anywhere, keys counted once."""
    ks = Keyspace()
    d = ks[0].data
    for i in range(300):
        d[b"key:%d" % i] = b"value:%d" % i
    d[b"k" * 70] = b"long key ends a run"
    d[b"after"] = b"v" * 64
    d[b"n"] = b"12"
    d[b""] = b""
    ks[0].expires[b"key:150"] = 4102444800000
    blob = dump_rdb_bytes(ks, aux=make_aux(ctime=1))
    for step in (1, 2, 7, 64, 1000):
        reader = RdbReader()
        for pos in range(0, len(blob), step):
            reader.feed(blob[pos : pos + step])
        result = reader.finish()
        assert result.keys_loaded == len(d)
        assert_same(ks, result.keyspace)


def test_writer_calls_on_key_once_per_multiple_passed() -> None:
    ks = Keyspace()
    for i in range(20000):
        ks[i % 2].data[b"k%d" % i] = b"v" * (i % 30)
    seen: list[int] = []
    writer = RdbWriter(ks, aux={}, on_key=seen.append, on_key_every=1024)
    chunks = list(writer.chunks())
    assert [n // 1024 for n in seen] == list(range(1, 20))
    assert all(n % 1024 < 256 for n in seen)
    assert writer.keys_written == 20000
    assert all(64 * 1024 <= len(c) < 65 * 1024 for c in chunks[:-1])
    assert_same(ks, load_rdb_bytes(b"".join(chunks)).keyspace)
    with pytest.raises(ValueError):
        RdbWriter(ks, on_key_every=1000)
