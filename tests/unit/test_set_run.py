"""The applier's split of a run of plain SETs: the loop a compiled build runs and the builtins
pure Python runs give the same keys, values and longest lengths, stopping at the first command
that is not ``SET key value`` (``Set`` or a SET with options included)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from valsync.replication.set_run import _by_builtins, _by_loop, plain_set_run

NAME = st.sampled_from([b"SET", b"set", b"Set", b"GET", b"DEL"])
ARG = st.binary(max_size=50)
ARGV = st.builds(lambda name, rest: [name, *rest], NAME, st.lists(ARG, max_size=4))
PLAIN = st.builds(lambda name, k, v: [name, k, v], st.sampled_from([b"SET", b"set"]), ARG, ARG)


def reference(batch: list[list[bytes]], start: int) -> tuple[list[bytes], list[bytes], int, int]:
    end = start
    while end < len(batch) and batch[end][0] in (b"SET", b"set") and len(batch[end]) == 3:
        end += 1
    keys = [argv[1] for argv in batch[start:end]]
    values = [argv[2] for argv in batch[start:end]]
    return keys, values, max(map(len, keys), default=0), max(map(len, values), default=0)


@settings(max_examples=300)
@given(st.lists(PLAIN | ARGV, min_size=1, max_size=30), st.integers(0, 30))
def test_both_forms_split_alike(batch: list[list[bytes]], start: int) -> None:
    start = min(start, len(batch))
    expected = reference(batch, start)
    assert _by_loop(batch, start) == expected
    assert _by_builtins(batch, start) == expected
    assert plain_set_run(batch, start) == expected


@given(st.lists(PLAIN, min_size=1, max_size=30))
def test_a_batch_of_plain_sets_is_one_run(batch: list[list[bytes]]) -> None:
    keys, values, _, _ = plain_set_run(batch, 0)
    assert keys == [argv[1] for argv in batch]
    assert values == [argv[2] for argv in batch]
