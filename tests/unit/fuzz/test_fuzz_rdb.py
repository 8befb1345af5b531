"""Fuzzing the RDB reader (``valsync.rdb``) with mutated real dumps of Valkey 8.1.8 and 9.1.2:
bit flips, truncations, inserted and deleted bytes, length fields set to 2^32..2^64.

A dump either loads or raises ``RdbError``, whatever the chunking (the same outcome fed
whole or in pieces), in bounded time and memory: a length of 2^40 is a wait for bytes that
never come, never an allocation.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.unit.fuzz.support import budget, chunked, guarded, mutated
from valsync.rdb import RdbError, load_rdb_bytes
from valsync.rdb.snapshot import IncrementalLoad

VECTORS = [Path(__file__).parents[2] / "vectors", Path("/work/shared/vectors")]


def real_dumps() -> list[bytes]:
    dumps = set()
    for root in VECTORS:
        for sub in ("rdb", "rdb/primary-to-fake-replica", "primary-to-fake-replica"):
            if (root / sub).exists():
                dumps.update(p.read_bytes() for p in (root / sub).glob("*.rdb"))
    path = VECTORS[0] / "replica-to-fake-primary" / "fake-primary-sample.rdb"
    if path.exists():
        dumps.add(path.read_bytes())
    return sorted(dumps)


DUMPS = real_dumps()


def load(pieces: list[bytes], verify: bool) -> object:
    """What loading yields: the dataset's shape, or the error's text."""
    loader = IncrementalLoad(16, verify_checksum=verify)
    try:
        for piece in pieces:
            loader.feed(piece)
        result = loader.finish()
    except RdbError as err:
        return ("error", str(err))
    return ("ok", result.keys, sorted(result.aux), len(result.functions))


def test_seeds_load() -> None:
    assert len(DUMPS) >= 6
    for dump in DUMPS:
        assert load([dump], True)[0] == "ok"


@settings(max_examples=budget(150))
@given(
    mutated(DUMPS, rdb_lengths=True), st.lists(st.integers(0, 1 << 13), max_size=4), st.booleans()
)
@example(b"REDIS0011\xfa\xc3\x81\x00\x00\x01\x00\x00\x00\x00\x00\x05\x00", [], False)
def test_mutated_dumps_load_or_fail_cleanly(data: bytes, cut: list[int], verify: bool) -> None:
    with guarded("rdb-reader"):
        whole = load([data], verify)
        assert load(chunked(data, cut), verify) == whole
        try:
            load_rdb_bytes(data, verify_checksum=verify)
            in_memory: object = "ok"
        except RdbError:
            in_memory = "error"
        assert in_memory == whole[0]  # type: ignore[index]
