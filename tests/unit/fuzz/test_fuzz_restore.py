"""Fuzzing RESTORE through the command layer with mutated DUMP payloads taken from real
Valkey 8.1.8 and 9.1.2 dumps (a key record's type and value bytes are exactly a DUMP body).

Every payload either restores or answers one of Valkey's RESTORE errors; never an internal
error, a hang or a huge allocation. Most mutants get a recomputed footer, so that they reach
the decoder instead of stopping at the checksum.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.unit.fuzz.support import assert_no_internal_error, budget, fresh_server, guarded, mutated
from valsync.rdb.format import CRC64
from valsync.rdb.reader import _read_string, decode_object
from valsync.resp.reply import ErrorReply

RDB = Path(__file__).parents[2] / "vectors" / "rdb"
VALKEY_ERRORS = {
    "ERR DUMP payload version or checksum are wrong",
    "ERR Bad data format",
    "BUSYKEY Target key name already exists.",
    "ERR Invalid TTL value, must be >= 0",
    "ERR syntax error",
    "ERR value is not an integer or out of range",
    "ERR Invalid IDLETIME value, must be >= 0",
    "ERR Invalid FREQ value, must be >= 0 and <= 255",
}


def with_footer(body: bytes, version: int) -> bytes:
    head = body + version.to_bytes(2, "little")
    return head + int(CRC64.calc(head)).to_bytes(8, "little")


def real_bodies() -> list[tuple[bytes, int]]:
    """(type byte + value encoding, RDB version) of every key of the real dumps."""
    bodies = []
    for meta in sorted(RDB.glob("*.json")):
        rdb = meta.with_suffix(".rdb")
        if not rdb.exists():
            continue
        data = rdb.read_bytes()
        version = 80 if data.startswith(b"VALKEY") else 11
        for key in json.loads(meta.read_text()).get("keys", []):
            if "offset_in_file" not in key:
                continue
            at = key["offset_in_file"]
            _, value_at = _read_string(data, at + 1)
            body = data[at : at + 1] + data[value_at:]
            _, end = decode_object(body)
            bodies.append((body[:end], version))
    return bodies


BODIES = real_bodies()


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    body, version = draw(st.sampled_from(BODIES))
    if draw(st.integers(0, 4)) == 0:
        return draw(mutated([with_footer(body, version)]))
    return with_footer(draw(mutated([body], rdb_lengths=True)), version)


def test_real_payloads_restore() -> None:
    assert len(BODIES) >= 40
    server, log = fresh_server()
    client = server.new_client()
    for i, (body, version) in enumerate(BODIES):
        reply = server.process(client, [b"RESTORE", b"k%d" % i, b"0", with_footer(body, version)])
        assert not isinstance(reply, ErrorReply), (body, reply)
    assert_no_internal_error(None, log)


@settings(max_examples=budget(150))
@given(payloads(), st.sampled_from([[], [b"REPLACE"], [b"ABSTTL"], [b"IDLETIME", b"5"]]))
@example(with_footer(b"\x0e\x01\x81" + b"\xff" * 8, 11), [])
def test_mutated_payloads_restore_or_fail_cleanly(payload: bytes, options: list[bytes]) -> None:
    server, log = fresh_server()
    client = server.new_client()
    with guarded("restore"):
        reply = server.process(client, [b"RESTORE", b"key", b"0", payload, *options])
    assert_no_internal_error(reply, log)
    if isinstance(reply, ErrorReply):
        assert reply.text in VALKEY_ERRORS, reply.text
    else:
        dumped = server.process(client, [b"DUMP", b"key"])
        assert not isinstance(dumped, ErrorReply)
