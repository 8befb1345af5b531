"""Byte-level checks of the RDB codec: encodings Valkey picks, blob codecs, and error reports."""

from __future__ import annotations

import struct
from collections import deque

import pytest

from valsync.keyspace import HashValue, Keyspace, StreamValue, ZSetValue
from valsync.rdb import (
    RdbError,
    RdbKey,
    RdbReader,
    dump_rdb_bytes,
    intset,
    listpack,
    load_rdb_bytes,
    make_aux,
    ziplist,
)
from valsync.rdb.format import CRC64, EncodingError, is_canonical_int
from valsync.rdb.stream import decode_stream_payload, encode_stream_payload
from valsync.rdb.writer import encode_len, encode_string, score_text


def test_crc64_check_value() -> None:
    assert CRC64.calc(b"123456789") == 0xE9C6D914C4B8D9CA
    assert CRC64.calc(b"6789", CRC64.calc(b"12345")) == 0xE9C6D914C4B8D9CA


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        (b"0", True),
        (b"-1", True),
        (b"9223372036854775807", True),
        (b"-9223372036854775808", True),
        (b"9223372036854775808", False),
        (b"007", False),
        (b"-0", False),
        (b"+1", False),
        (b"", False),
        (b" 1", False),
        (b"1.0", False),
    ],
)
def test_canonical_int(text: bytes, ok: bool) -> None:
    assert is_canonical_int(text) is ok


def test_length_encoding_forms() -> None:
    assert encode_len(63) == b"\x3f"
    assert encode_len(64) == b"\x40\x40"
    assert encode_len(16383) == b"\x7f\xff"
    assert encode_len(16384) == b"\x80\x00\x00\x40\x00"
    assert encode_len(1 << 32) == b"\x81" + (1 << 32).to_bytes(8, "big")


def test_string_encodings_follow_valkey() -> None:
    assert encode_string(b"100") == b"\xc0\x64"
    assert encode_string(b"-5") == b"\xc0\xfb"
    assert encode_string(b"12345") == b"\xc1\x39\x30"
    assert encode_string(b"1234567890") == b"\xc2\xd2\x02\x96\x49"
    assert encode_string(b"12345678901234567") == b"\x1112345678901234567"
    assert encode_string(b"007") == b"\x03007"
    assert encode_string(b"") == b"\x00"
    long = b"valkey replication " * 10
    packed = encode_string(long)
    assert packed[0] == 0xC3
    assert encode_string(long, compression=False) == encode_len(len(long)) + long
    assert encode_string(b"a" * 20)[0] == 20
    assert encode_string(b"a" * 21)[0] == 0xC3


def test_listpack_entries_match_valkey_bytes() -> None:
    assert listpack.encode_entry(b"123") == b"\x7b\x01"
    assert listpack.encode_entry(b"-2") == b"\xdf\xfe\x02"
    assert listpack.encode_entry(b"a") == b"\x81a\x02"
    blob = listpack.encode([b"x", b"1"])
    assert blob == b"\x0c\x00\x00\x00\x02\x00\x81x\x02\x01\x01\xff"
    values = [b"0", b"127", b"128", b"-4096", b"4095", b"-32768", b"32767", b"8388607"]
    values += [b"-2147483648", b"2147483647", b"9223372036854775807", b"-9223372036854775808"]
    values += [b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096, b"007", b""]
    assert listpack.decode(listpack.encode(values)) == values


def test_listpack_rejects_garbage() -> None:
    blob = listpack.encode([b"abc", b"1"])
    with pytest.raises(EncodingError):
        listpack.decode(blob[:-1])
    with pytest.raises(EncodingError):
        listpack.decode(blob[:6] + b"\xf9" + blob[7:])


def test_intset_widths() -> None:
    assert intset.encode([3, 1, 2])[:4] == b"\x02\x00\x00\x00"
    assert intset.encode([100000, -7])[:4] == b"\x04\x00\x00\x00"
    assert intset.encode([1 << 40])[:4] == b"\x08\x00\x00\x00"
    assert intset.decode(intset.encode([5, -1 << 40, 7])) == [-1 << 40, 5, 7]
    with pytest.raises(EncodingError):
        intset.decode(b"\x03\x00\x00\x00\x00\x00\x00\x00")


def _ziplist(entries: list[bytes]) -> bytes:
    body = b""
    prev = 0
    for raw in entries:
        entry = (bytes((prev,)) if prev < 254 else b"\xfe" + prev.to_bytes(4, "little")) + raw
        body += entry
        prev = len(entry)
    total = 10 + len(body) + 1
    return (
        total.to_bytes(4, "little")
        + (0).to_bytes(4, "little")
        + len(entries).to_bytes(2, "little")
        + body
        + b"\xff"
    )


def test_ziplist_and_zipmap_decode() -> None:
    blob = _ziplist(
        [b"\x03abc", b"\xc0\x39\x30", b"\xd0" + (70000).to_bytes(4, "little"), b"\xf3", b"\xfe\xff"]
        + [b"\x40\x40" + b"q" * 64, b"\xe0" + (1 << 40).to_bytes(8, "little")]
        + [b"\xf0" + (-5).to_bytes(3, "little", signed=True)]
    )
    assert ziplist.decode(blob) == [
        b"abc",
        b"12345",
        b"70000",
        b"2",
        b"-1",
        b"q" * 64,
        b"%d" % (1 << 40),
        b"-5",
    ]
    zipmap = b"\x02\x01a\x02\x00xy\x03foo\x01\x01bz\xff"
    assert ziplist.decode_zipmap(zipmap) == [b"a", b"xy", b"foo", b"b"]
    with pytest.raises(EncodingError):
        ziplist.decode(blob[:-3])


def test_score_text_like_d2string() -> None:
    assert score_text(2.0) == b"2"
    assert score_text(-3.0) == b"-3"
    assert score_text(2.5) == b"2.5"
    assert score_text(float("inf")) == b"inf"
    assert score_text(float("-inf")) == b"-inf"
    assert score_text(-0.0) == b"-0"
    assert float(score_text(1e300)) == 1e300


def _one_key_type(value: object, version: int = 11) -> int:
    ks = Keyspace()
    ks[0].data[b"k"] = value  # type: ignore[assignment]
    blob = dump_rdb_bytes(ks, version=version, aux=make_aux(ctime=1))
    head = blob.index(b"\xfe\x00\xfb\x01\x00") + 5
    assert blob[head + 1 : head + 3] == b"\x01k"
    back = load_rdb_bytes(blob).keyspace[0].data[b"k"]
    assert back == value
    return blob[head]


def test_writer_encodings_at_default_thresholds() -> None:
    assert _one_key_type(b"v") == 0
    assert _one_key_type(deque([b"a"])) == 18
    assert _one_key_type({b"%d" % i for i in range(512)}) == 11
    assert _one_key_type({b"%d" % i for i in range(513)}) == 2
    assert _one_key_type({b"m%d" % i for i in range(128)}) == 20
    assert _one_key_type({b"m%d" % i for i in range(129)}) == 2
    assert _one_key_type({b"x" * 64}) == 20
    assert _one_key_type({b"x" * 65}) == 2
    assert _one_key_type(HashValue({b"f%d" % i: b"v" for i in range(512)})) == 16
    assert _one_key_type(HashValue({b"f%d" % i: b"v" for i in range(513)})) == 4
    assert _one_key_type(HashValue({b"f": b"v" * 64})) == 16
    assert _one_key_type(HashValue({b"f": b"v" * 65})) == 4
    z = ZSetValue()
    for i in range(128):
        z.add(b"m%d" % i, i / 2)
    assert _one_key_type(z) == 17
    z.add(b"one-more", -1.0)
    assert _one_key_type(z) == 5
    z2 = ZSetValue()
    z2.add(b"x" * 65, 1.0)
    assert _one_key_type(z2) == 5


def test_skiplist_zset_written_highest_first() -> None:
    z = ZSetValue()
    for i in range(200):
        z.add(b"m%03d" % i, float(i))
    ks = Keyspace()
    ks[0].data[b"z"] = z
    blob = dump_rdb_bytes(ks, aux={})
    start = blob.index(b"\x05\x01z") + 3
    n = blob[start : start + 2]
    assert n == encode_len(200)
    assert blob[start + 2 : start + 7] == b"\x04m199"
    assert struct.unpack_from("<d", blob, start + 7)[0] == 199.0


def test_quicklist_nodes_split_like_valkey() -> None:
    """30-byte items give nodes of 8167, 8167 and 2887 bytes, as in the 8.1.8 ``list:ql`` key."""
    items = deque(b"item-%04d-abcdefghijklmnopqrst" % i for i in range(600))
    ks = Keyspace()
    ks[0].data[b"l"] = items
    blob = dump_rdb_bytes(ks, aux={}, compression=False)
    p = blob.index(b"\x12\x01l") + 3
    assert blob[p] == 3
    p += 1
    sizes = []
    for _ in range(3):
        assert blob[p] == 2
        size = ((blob[p + 1] & 0x3F) << 8) | blob[p + 2]
        sizes.append(size)
        p += 3 + size
    assert sizes == [8167, 8167, 2887]
    assert load_rdb_bytes(blob).keyspace[0].data[b"l"] == items


def test_large_list_element_is_a_plain_node() -> None:
    items = deque([b"a", b"b" * 8193, b"c", b"d" * 8192])
    ks = Keyspace()
    ks[0].data[b"l"] = items
    blob = dump_rdb_bytes(ks, aux={}, compression=False)
    start = blob.index(b"\x12\x01l") + 3
    assert blob[start] == 4
    assert blob[start + 1] == 2
    plain = blob.index(b"\x01" + encode_len(8193) + b"b")
    assert plain > start
    assert load_rdb_bytes(blob).keyspace[0].data[b"l"] == items


def test_aux_order_and_repl_fields() -> None:
    aux = make_aux(ctime=1795745293, used_mem=1302672, repl_id="a" * 40, repl_offset=28)
    aux["zzz-extra"] = "x"
    blob = dump_rdb_bytes(Keyspace(), aux={k: aux[k] for k in reversed(list(aux))})
    result = load_rdb_bytes(blob)
    assert list(result.aux) == [
        "valkey-ver",
        "redis-bits",
        "ctime",
        "used-mem",
        "repl-stream-db",
        "repl-id",
        "repl-offset",
        "aof-base",
        "zzz-extra",
    ]
    assert result.aux["repl-offset"] == b"28"
    assert blob.startswith(b"REDIS0011\xfa\x0avalkey-ver\x058.1.8\xfa\x0aredis-bits\xc0\x40")


def test_empty_dump_is_89_bytes_like_valkey() -> None:
    blob = dump_rdb_bytes(Keyspace(), aux=make_aux(ctime=1795746654, used_mem=978912))
    assert len(blob) == 89
    assert blob[-9] == 0xFF
    assert CRC64.calc(blob) == 0


def test_checksum_off_writes_zeros_and_loads_unchecked() -> None:
    ks = Keyspace()
    ks[0].data[b"k"] = b"v"
    blob = dump_rdb_bytes(ks, aux={}, checksum=False)
    assert blob.endswith(b"\xff" + bytes(8))
    result = load_rdb_bytes(blob)
    assert not result.checksum_verified
    assert result.keyspace[0].data == {b"k": b"v"}


def test_field_ttl_hash_needs_rdb_80() -> None:
    h = HashValue({b"a": b"1", b"b": b"2"})
    h.field_expires[b"b"] = 4102444800456
    ks = Keyspace()
    ks[3].data[b"hash:fexp"] = h
    with pytest.raises(RdbError, match=r"Can't store key 'hash:fexp' \(db 3\) in RDB version 11"):
        dump_rdb_bytes(ks, aux={})
    blob = dump_rdb_bytes(ks, aux={}, version=80)
    assert blob.startswith(b"VALKEY080")
    back = load_rdb_bytes(blob).keyspace[3].data[b"hash:fexp"]
    assert isinstance(back, HashValue)
    assert back == h
    assert back.field_expires == {b"b": 4102444800456}


def _header(magic: bytes) -> bytes:
    body = magic + b"\xff"
    return body + CRC64.calc(body).to_bytes(8, "little")


@pytest.mark.parametrize("magic", [b"REDIS0001", b"REDIS0009", b"REDIS0011", b"VALKEY080"])
def test_accepted_versions(magic: bytes) -> None:
    assert (
        load_rdb_bytes(_header(magic) if magic >= b"REDIS0005" else magic + b"\xff").keys_loaded
        == 0
    )


@pytest.mark.parametrize(
    ("magic", "version"),
    [
        (b"REDIS0012", 12),
        (b"REDIS0080", 80),
        (b"VALKEY011", 11),
        (b"VALKEY081", 81),
        (b"REDIS0000", 0),
    ],
)
def test_refused_versions(magic: bytes, version: int) -> None:
    with pytest.raises(RdbError) as info:
        load_rdb_bytes(_header(magic))
    assert info.value.reason == f"Can't handle RDB format version {version}"


def test_bad_magic() -> None:
    with pytest.raises(RdbError, match="Wrong signature"):
        load_rdb_bytes(b"NOTADUMP0\xff" + bytes(8))


def _dump_with(record: bytes) -> bytes:
    body = b"REDIS0011\xfe\x00" + record + b"\xff"
    return body + CRC64.calc(body).to_bytes(8, "little")


def test_unknown_type_names_type_and_offset() -> None:
    with pytest.raises(RdbError, match=r"^unknown type 42 at byte 11$") as info:
        load_rdb_bytes(_dump_with(b"\x2a\x01k\x01v"))
    assert info.value.offset == 11
    assert info.value.reason == "unknown type 42"


def test_module_value_and_module_aux_refused() -> None:
    with pytest.raises(RdbError, match=r"module value \(type 7\) of key 'mk'"):
        load_rdb_bytes(_dump_with(b"\x07\x02mk\x00"))
    with pytest.raises(RdbError, match="module aux"):
        load_rdb_bytes(_dump_with(b"\xf7\x00"))


def test_selectdb_out_of_range() -> None:
    with pytest.raises(RdbError, match="SELECTDB 16"):
        load_rdb_bytes(_dump_with(b"\xfe\x10\x00\x01k\x01v"))


def test_bad_checksum_and_short_trailer() -> None:
    blob = bytearray(_dump_with(b"\x00\x01k\x01v"))
    blob[-1] ^= 1
    with pytest.raises(RdbError, match="bad checksum"):
        load_rdb_bytes(bytes(blob))
    assert load_rdb_bytes(bytes(blob), verify_checksum=False).keys_loaded == 1
    with pytest.raises(RdbError, match="truncated"):
        load_rdb_bytes(bytes(blob[:-8]))


def test_truncation_names_the_key() -> None:
    blob = _dump_with(b"\x00\x05mykey\x40\x80" + b"x" * 128)
    with pytest.raises(RdbError, match=r"^truncated at byte 40 in key 'mykey'$"):
        load_rdb_bytes(blob[:40])
    reader = RdbReader()
    reader.feed(blob[:40])
    with pytest.raises(RdbError, match="truncated"):
        reader.finish()
    with pytest.raises(RdbError, match="truncated"):
        reader.feed(b"more")


def test_legacy_encodings_load() -> None:
    """Types no longer written (1, 3, 9, 10, 12, 13, 14, seconds expiry) still load."""
    zl = _ziplist([b"\x01a", b"\x01b"])
    records = (
        b"\x01\x02l1\x02\x01a\x01b"
        + b"\x03\x02z1\x02\x01a\x031.5\x01b\xfe"
        + b"\x09\x02h9"
        + encode_string(b"\x01\x01a\x01\x00x\xff")
        + b"\x0a\x02l2"
        + encode_string(zl)
        + b"\x0c\x02z2"
        + encode_string(_ziplist([b"\x01m", b"\xf3"]))
        + b"\x0d\x02h2"
        + encode_string(zl)
        + b"\x0e\x02l3\x02"
        + encode_string(zl)
        + encode_string(zl)
        + b"\xfd"
        + (4102444800).to_bytes(4, "little")
        + b"\x00\x02ex\x01v"
        + b"\xf8\x05\xf9\x07\x00\x02lr\x01v"
    )
    body = b"REDIS0006\xfe\x00" + records + b"\xff"
    data = load_rdb_bytes(body + CRC64.calc(body).to_bytes(8, "little")).keyspace[0]
    assert data.data[b"l1"] == deque([b"a", b"b"])
    z1 = data.data[b"z1"]
    assert isinstance(z1, ZSetValue)
    assert list(z1.items()) == [(b"b", float("inf")), (b"a", 1.5)][::-1]
    assert data.data[b"h9"] == HashValue({b"a": b"x"})
    assert data.data[b"l2"] == deque([b"a", b"b"])
    z2 = data.data[b"z2"]
    assert isinstance(z2, ZSetValue) and z2.scores == {b"m": 2.0}
    assert data.data[b"h2"] == HashValue({b"a": b"b"})
    assert data.data[b"l3"] == deque([b"a", b"b", b"a", b"b"])
    assert data.expires == {b"ex": 4102444800000}
    assert data.data[b"lr"] == b"v"


def test_stream_round_trips_byte_for_byte() -> None:
    payload = bytes.fromhex(
        "0110000000000000000100000000000000012b2b0000000f000201000101018"
        "46e616d6505000102010001000181610204010201000101018162020401ff02"
        "0102010100000201026731000081ffffffffffffffff0000"
    )
    ks = Keyspace()
    ks[0].data[b"s"] = decode_stream_payload(payload)
    for version in (11, 80):
        blob = dump_rdb_bytes(ks, aux={}, version=version)
        assert b"\x15\x01s" + payload in blob
        loaded = load_rdb_bytes(blob).keyspace[0].data[b"s"]
        assert isinstance(loaded, StreamValue)
        assert encode_stream_payload(loaded) == payload


def test_trailing_bytes_after_crc_are_kept() -> None:
    blob = _dump_with(b"\x00\x01k\x01v")
    reader = RdbReader()
    reader.feed(blob + b"+PING\r\n")
    assert reader.done
    assert reader.finish().trailing == b"+PING\r\n"


def test_total_size_lets_the_last_record_finish_early() -> None:
    ks = Keyspace()
    ks[0].data[b"big"] = deque(b"e%d" % i for i in range(5000))
    blob = dump_rdb_bytes(ks, aux={})
    reader = RdbReader(total_size=len(blob))
    for i in range(0, len(blob), 1000):
        reader.feed(blob[i : i + 1000])
    assert reader.done
    assert reader.finish().keyspace[0].data == ks[0].data


def test_pull_events_in_file_order() -> None:
    ks = Keyspace()
    ks[0].data[b"a"] = b"1"
    ks[0].expires[b"a"] = 77
    ks[4].data[b"b"] = deque([b"x"])
    blob = dump_rdb_bytes(ks, aux={})
    reader = RdbReader(events=True)
    got = []
    for i in range(len(blob)):
        reader.feed(blob[i : i + 1])
        while (event := reader.next_event()) is not None:
            got.append(event)
    reader.finish()
    assert got == [RdbKey(0, b"a", b"1", 77), RdbKey(4, b"b", deque([b"x"]), None)]
    assert reader.keyspace.total_keys() == 0


def _stream_payload(rdb_type: int) -> bytes:
    """A one-node stream with a group holding one pending entry owned by one consumer."""
    node = bytes.fromhex(
        "10000000000000000100000000000000012b2b0000000f000201000101018"
        "46e616d6505000102010001000181610204010201000101018162020401ff"
    )
    raw_id = (1).to_bytes(8, "big") * 2
    out = b"\x01" + node + b"\x02\x01\x02"
    if rdb_type >= 19:
        out += b"\x01\x01\x00\x00\x02"
    out += b"\x01\x02g1\x01\x01"
    if rdb_type >= 19:
        out += b"\x01"
    out += b"\x01" + raw_id + (1795745293000).to_bytes(8, "little") + b"\x01"
    out += b"\x01\x05alice" + (1795745293001).to_bytes(8, "little")
    if rdb_type >= 21:
        out += (1795745293002).to_bytes(8, "little")
    return out + b"\x01" + raw_id


@pytest.mark.parametrize("rdb_type", [15, 19, 21])
def test_stream_versions_load_with_their_groups(rdb_type: int) -> None:
    payload = _stream_payload(rdb_type)
    record = bytes((rdb_type,)) + b"\x01s" + payload + b"\x00\x05after\x01v"
    data = load_rdb_bytes(_dump_with(record)).keyspace[0].data
    s = data[b"s"]
    assert isinstance(s, StreamValue)
    assert list(s.items()) == [((1, 1), [b"name", b"a"]), ((1, 2), [b"name", b"b"])]
    assert (s.length, s.last_id, s.first_id, s.entries_added) == (2, (1, 2), (1, 1), 2)
    group = s.groups[b"g1"]
    alice = group.consumers[b"alice"]
    assert group.pel[(1, 1)] is alice.pel[(1, 1)]
    assert alice.pel[(1, 1)].delivery_time == 1795745293000
    assert alice.active_time == (1795745293002 if rdb_type == 21 else 1795745293001)
    assert group.entries_read == 1
    if rdb_type == 21:
        assert bytes((21,)) + b"\x01s" + encode_stream_payload(s) in _dump_with(record)
    assert data[b"after"] == b"v"
    for cut in range(len(record)):
        body = b"REDIS0011\xfe\x00" + record[:cut]
        with pytest.raises(RdbError):
            load_rdb_bytes(body)
