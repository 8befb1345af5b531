"""HyperLogLog internals and commands (expected strings observed on valkey-server 8.1.8; the
byte-for-byte comparison with the real server is in
tests/integration/test_differential_hyperloglog.py)."""

from __future__ import annotations

import random

from tests.unit.cmdutil import Harness
from valsync.commands.hyperloglog import (
    HLL_REGISTERS,
    Hll,
    SparseRegisters,
    dense_get,
    dense_to_registers,
    pattern_length,
    registers_to_dense,
)
from valsync.commands.strings import RawStr
from valsync.resp.reply import ErrorReply, SimpleString


def test_pfadd_a_b_c_decodes_as_valkey_does() -> None:
    h = Harness()
    assert h.run("PFADD", "h", "a", "b", "c") == 1
    # PFDEBUG DECODE h on 8.1.8 after the same PFADD
    assert h.run("PFDEBUG", "DECODE", "h") == b"Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"
    value = h.keyspace[0].data[b"h"]
    assert type(value) is RawStr and value[:5] == b"HYLL\x01" and value[15] == 0x80
    assert sorted(pattern_length(e)[0] for e in (b"a", b"b", b"c")) == [8436, 12711, 15780]


def test_dense_packing_round_trips() -> None:
    rng = random.Random(3)
    regs = bytes(rng.randrange(64) for _ in range(HLL_REGISTERS))
    dense = registers_to_dense(regs)
    assert dense_to_registers(dense) == regs
    assert all(dense_get(dense, i) == regs[i] for i in range(0, HLL_REGISTERS, 31))


def test_sparse_edits_keep_the_registers_a_plain_array_would() -> None:
    rng = random.Random(5)
    hll = Hll.empty()
    model = bytearray(HLL_REGISTERS)
    for _ in range(400):
        index, count = rng.randrange(HLL_REGISTERS), rng.randrange(1, 33)
        changed = hll.set(index, count, 3000)
        assert changed == (1 if count > model[index] else 0)
        model[index] = max(model[index], count)
        assert hll.registers() == model
    assert hll.sparse is not None
    # the encoded string decodes to the same opcodes
    body = hll.to_bytes()[16:]
    assert SparseRegisters(body).ops == hll.sparse.ops


def test_promotion_and_corruption() -> None:
    h = Harness()
    h.run("PFADD", "h", *[f"e{i}" for i in range(3000)])
    assert h.run("PFDEBUG", "ENCODING", "h") == SimpleString("dense")
    assert len(h.keyspace[0].data[b"h"]) == 16 + 12288
    h.run("SET", "bad", b"HYLL\x01" + bytes(10) + b"\x80\x7f\xfe")  # stale cache, 16383 regs
    assert h.run("PFCOUNT", "bad") == ErrorReply("INVALIDOBJ Corrupted HLL object detected")
    h.run("SET", "str", "just a string")
    assert h.run("PFADD", "str", "x") == ErrorReply(
        "WRONGTYPE Key is not a valid HyperLogLog string value."
    )


def test_pfcount_caches_and_propagates_once() -> None:
    h = Harness()
    h.run("PFADD", "h", "a", "b")
    assert h.run("PFCOUNT", "h") == 2
    assert h.keyspace[0].data[b"h"][8:16] == (2).to_bytes(8, "little")
    assert h.run("PFCOUNT", "h") == 2
    assert [argv[0] for _, argv in h.propagated] == [b"PFADD", b"PFCOUNT"]
