"""Valkey's partial quicksort (``pqsort.c``), for the replies whose ties it decides.

SORT ... BY ... LIMIT and GEO searches with COUNT ask for only a window of the sorted
result; Valkey then runs Bentley and McIlroy's quicksort ("Engineering a Sort Function")
and skips every partition that lies outside the window. That sort is not stable, so the
order of equal elements inside the window depends on its exact steps: median-of-three (or
ninther above 40 elements) pivots, three-way partitioning with the equal keys swapped to
the ends and back, and insertion sort below 7 elements. This module takes the same steps.

Full sorts are glibc's ``qsort``, a stable merge sort: Python's ``sorted`` matches it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
Compare = Callable[[T, T], int]


def _med3(a: list[T], i: int, j: int, k: int, cmp: Compare[T]) -> int:
    if cmp(a[i], a[j]) < 0:
        if cmp(a[j], a[k]) < 0:
            return j
        return k if cmp(a[i], a[k]) < 0 else i
    if cmp(a[j], a[k]) > 0:
        return j
    return i if cmp(a[i], a[k]) < 0 else k


def _swap_blocks(a: list[T], i: int, j: int, n: int) -> None:
    for off in range(n):
        a[i + off], a[j + off] = a[j + off], a[i + off]


def partial_sort(a: list[T], cmp: Compare[T], lrange: int, rrange: int) -> None:
    """Sort ``a`` in place far enough that ``a[lrange..rrange]`` (inclusive) is final."""
    pending = [(0, len(a))]
    while pending:
        base, n = pending.pop()
        if n < 7:
            for pm in range(base + 1, base + n):
                pl = pm
                while pl > base and cmp(a[pl - 1], a[pl]) > 0:
                    a[pl], a[pl - 1] = a[pl - 1], a[pl]
                    pl -= 1
            continue
        pm = base + n // 2
        if n > 7:
            pl = base
            pn = base + n - 1
            if n > 40:
                d = n // 8
                pl = _med3(a, pl, pl + d, pl + 2 * d, cmp)
                pm = _med3(a, pm - d, pm, pm + d, cmp)
                pn = _med3(a, pn - 2 * d, pn - d, pn, cmp)
            pm = _med3(a, pl, pm, pn, cmp)
        a[base], a[pm] = a[pm], a[base]
        pa = pb = base + 1
        pc = pd = base + n - 1
        while True:
            while pb <= pc:
                r = cmp(a[pb], a[base])
                if r > 0:
                    break
                if r == 0:
                    a[pa], a[pb] = a[pb], a[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                r = cmp(a[pc], a[base])
                if r < 0:
                    break
                if r == 0:
                    a[pc], a[pd] = a[pd], a[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            a[pb], a[pc] = a[pc], a[pb]
            pb += 1
            pc -= 1
        end = base + n
        r = min(pa - base, pb - pa)
        _swap_blocks(a, base, pb - r, r)
        r = min(pd - pc, end - pd - 1)
        _swap_blocks(a, pb, end - r, r)
        left = pb - pa
        right = pd - pc
        # Valkey recurses into the left part and loops on the right one; the parts are
        # disjoint, so the order they are handled in does not change the result.
        if left > 1 and _overlaps(lrange, rrange, base, left):
            pending.append((base, left))
        if right > 1 and _overlaps(lrange, rrange, end - right, right):
            pending.append((end - right, right))


def _overlaps(lrange: int, rrange: int, start: int, n: int) -> bool:
    """Whether the window is not wholly before or wholly after ``a[start:start+n]``."""
    before = lrange < start and rrange < start
    after = lrange >= start + n and rrange >= start + n
    return not (before or after)
