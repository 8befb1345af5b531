"""ZSetValue takes added members into its index only when the index is read: whatever the
mix of adds, re-scores and removals in between, the index must then equal the sorted
(score, member) pairs of ``scores``."""

from __future__ import annotations

import random

from valsync.keyspace.values import ZSetValue


def _expected(z: ZSetValue) -> list[tuple[float, bytes]]:
    return sorted((s, m) for m, s in z.scores.items())


def test_index_after_random_writes_matches_scores() -> None:
    rng = random.Random(7)
    z = ZSetValue()
    for round_no in range(60):
        for _ in range(rng.choice([1, 3, 40, 400])):
            member = b"m%d" % rng.randrange(300)
            op = rng.random()
            if op < 0.6:
                z.add(member, float(rng.randrange(50)))
            else:
                z.remove(member)
        if round_no % 3:
            assert list(z.index) == _expected(z)
            assert all(z.rank(m) == i for i, (_, m) in enumerate(_expected(z)))
    assert list(z.items()) == [(m, s) for s, m in _expected(z)]


def test_rescore_and_remove_of_a_member_not_yet_indexed() -> None:
    z = ZSetValue()
    for i in range(100):
        z.add(b"x%d" % i, float(i))
    assert len(z.index) == 100
    z.add(b"new", 5.0)
    z.add(b"new", 7.0)
    z.add(b"x3", 1000.0)
    z.add(b"x4", 4.0)
    assert z.remove(b"x5")
    assert not z.remove(b"missing")
    below = sum(1 for s in z.scores.values() if s < 7.0)
    assert z.score_bounds(7.0, False, 7.0, False) == (below, below + 2)  # x7 and new
    assert list(z.index) == _expected(z)
    z.add(b"gone", 1.5)
    assert z.remove(b"gone")
    assert list(z.index) == _expected(z)
    assert len(z) == 100
