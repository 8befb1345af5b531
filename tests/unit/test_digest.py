"""DEBUG DIGEST(-VALUE) without a server: the expected hex strings were printed by real
valkey-server 8.1.8 / 9.1.2 for the same data, so these pin Valkey's behaviour offline."""

from __future__ import annotations

from collections import deque

import pytest

from valsync.keyspace import HashValue, Keyspace, StreamValue, ZSetValue
from valsync.keyspace.digest import ZERO_DIGEST, digest_keyspace, digest_value, format_score
from valsync.keyspace.stream import ConsumerGroup
from valsync.rdb.stream import decode_stream_payload


def zset(*pairs: tuple[bytes, float]) -> ZSetValue:
    z = ZSetValue()
    for member, score in pairs:
        z.add(member, score)
    return z


def test_empty_keyspace_is_forty_zeros() -> None:
    assert digest_keyspace(Keyspace(), 0) == "0" * 40 == ZERO_DIGEST


def test_missing_key_digest_value_is_zero() -> None:
    assert digest_value(None, None) == ZERO_DIGEST
    assert digest_value(None, 123) == ZERO_DIGEST


def test_string_with_ttl_matches_valkey_and_ignores_the_time() -> None:
    # valkey: SET b 2 EX 1000; DEBUG DIGEST-VALUE b
    expected = "2daece6f5f01a9d30bbb5eba5348d1ec0849e44a"
    assert digest_value(b"2", 1) == expected
    assert digest_value(b"2", 99_999_999_999_999) == expected
    assert digest_value(b"2", None) != expected


def test_keyspace_digest_counts_logically_expired_keys() -> None:
    # valkey with active expire off: a (PX 50, long gone), b (EX 1000), c (EX 5000)
    ks = Keyspace()
    ks[0].data.update({b"a": b"1", b"b": b"2", b"c": b"3"})
    ks[0].expires.update({b"a": 1, b"b": 2, b"c": 3})
    assert digest_keyspace(ks, 10**13) == "cad275b39dd1bcac56683d8decc3a8c2995671ed"


def test_hash_matches_valkey_and_is_order_free() -> None:
    expected = "d127864ed50239662bf61bafc9bda63c17da5b37"
    assert digest_value(HashValue({b"f": b"v", b"g": b"w"}), None) == expected
    assert digest_value(HashValue({b"g": b"w", b"f": b"v"}), None) == expected


def test_hash_field_ttl_is_not_mixed_but_expired_fields_are_skipped() -> None:
    h = HashValue({b"f": b"v", b"g": b"w"})
    h.field_expires[b"f"] = 4_000_000_000_000
    assert digest_value(h, None, now_ms=1_700_000_000_000) == digest_value(
        HashValue({b"f": b"v", b"g": b"w"}), None
    )
    # valkey 9.1.2: HPEXPIRE h4 50 FIELDS 1 f, active expire off, after 200 ms
    h.field_expires[b"f"] = 1_000
    assert digest_value(h, None, now_ms=1_700_000_000_000) == (
        "e2091a20d8589d7370c38698e3f80bb511164cb4"
    )
    assert digest_value(h, None, now_ms=1_700_000_000_000) == digest_value(
        HashValue({b"g": b"w"}), None
    )


def test_zset_minus_zero_depends_on_encoding() -> None:
    # valkey listpack stores -0 as integer 0; the skiplist keeps the sign
    small = "669bd9943b43e6b31f3ab60847ee6a38dd154aba"
    assert digest_value(zset((b"m", -0.0)), None) == small
    assert digest_value(zset((b"m", 0.0)), None) == small
    big = [(f"x{i}".encode(), float(i)) for i in range(200)]
    assert (
        digest_value(zset((b"m", -0.0), *big), None) == "dc3de51206e5d061aa008f77bb1a0d2567067ae4"
    )
    assert digest_value(zset((b"m", 0.0), *big), None) == "10c0299c487219c5c8f4a0a34cd03479a664c686"


@pytest.mark.parametrize(
    ("score", "text"),
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (-2.5, "-2.5"),
        (0.1, "0.1"),
        (123.456, "123.456"),
        (1e7, "10000000"),
        (1e8, "1e+8"),
        (0.000001, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e21, "1e+21"),
        (1e100, "1e+100"),
        (2.0**63, "9223372036854776000"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (float("inf"), "inf"),
        (float("-inf"), "-inf"),
        # Grisu2 is not always shortest; Valkey prints these digits, not repr()'s
        (1.547182503134182e-78, "1.5471825031341819e-78"),
        (1626983080611305.8, "1626983080611305.7"),
        (3.092535278770144e18, "3092535278770144300"),
    ],
)
def test_format_score(score: float, text: str) -> None:
    assert format_score(score) == text


def test_list_order_matters_set_order_does_not() -> None:
    assert digest_value(deque([b"a", b"b"]), None) != digest_value(deque([b"b", b"a"]), None)
    assert digest_value({b"a", b"b"}, None) == digest_value({b"b", b"a"}, None)


def test_types_are_distinguished() -> None:
    assert digest_value(b"a", None) != digest_value(deque([b"a"]), None)
    assert digest_value({b"a"}, None) != digest_value(deque([b"a"]), None)


def test_db_id_and_key_name_matter_but_key_order_does_not() -> None:
    a, b, c = Keyspace(), Keyspace(), Keyspace()
    a[0].data.update({b"k": b"v", b"j": b"w"})
    b[0].data.update({b"j": b"w", b"k": b"v"})
    c[3].data.update({b"k": b"v", b"j": b"w"})
    assert digest_keyspace(a, 0) == digest_keyspace(b, 0) != digest_keyspace(c, 0)
    d = Keyspace()
    d[0].data[b"k2"] = b"v"
    d[0].data[b"j"] = b"w"
    assert digest_keyspace(d, 0) != digest_keyspace(a, 0)


# DUMP of a valkey 8.1.8 stream (XADD 1-1 name a*30 n 7; 1-2 name b*30 n -300; 2-0 other x;
# 3-0 name c n 1; XDEL 1-2): one LZF-compressed listpack node with a deleted entry.
STREAM_DUMP = bytes.fromhex(
    "15011000000000000000010000000000000001c3405c409015900000001f00030101010201846e616d6505"
    "816e0200200c00002001019e61e01400051f070105010320270301019e62e01400041fded4020560280fdf"
    "ff020101856f7468657206817802062069000240140181632017020501ff0303000101010204000b0061ef"
    "2217ececd672"
)


def test_stream_digest_walks_entries_like_valkey() -> None:
    value = decode_stream_payload(STREAM_DUMP[1:-10], STREAM_DUMP[0])
    assert digest_value(value, None) == "26564a8789299f7351377af3aa2aa925ae0e6119"


def test_stream_digest_ignores_groups_and_tombstones() -> None:
    a = decode_stream_payload(STREAM_DUMP[1:-10], STREAM_DUMP[0])
    b = StreamValue()
    for sid, pairs in a.items():
        b.append(sid, pairs)
    b.groups[b"g"] = ConsumerGroup((1, 1), 1)
    assert digest_value(a, None) == digest_value(b, None)
    b.delete((2, 0))
    assert digest_value(a, None) != digest_value(b, None)
