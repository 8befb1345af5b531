"""Giving freed memory back to the operating system, as Valkey's jemalloc does by itself.

CPython keeps freed memory in two places that a long-running server notices in its RSS:

* glibc's heap. glibc raises its mmap threshold each time a large block is freed, so after a
  few big dict tables come and go the next ones are carved from the heap, and their space is
  returned only when it sits at the heap's top. A fixed threshold keeps large blocks (dict
  tables of big databases, big buffers) in their own mappings, unmapped when freed;
  ``malloc_trim`` returns the free pages inside the heap.
* the interpreter's free lists (up to 2,000 tuples of each length, and more): each parked
  object pins the 16 KiB pool of the object allocator it lives in, so that after a dataset
  is flushed the pools stay part filled instead of serving any size again. A full collection
  empties the free lists.

Outside glibc (musl) the calls are skipped.
"""

from __future__ import annotations

import ctypes
import functools
import gc

MMAP_THRESHOLD = 1024 * 1024
"""Blocks from this size up get their own mapping (glibc's default starts at 128 KiB and
grows up to 32 MiB as large blocks are freed)."""

_M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter number."""


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    except (OSError, AttributeError):
        return None
    return libc


def fix_mmap_threshold() -> None:
    """Keep large blocks in their own mappings for the life of the process (call early)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def release_free_memory(collect: bool = False) -> None:
    """Return the heap's free pages; ``collect``: first empty the free lists with a full
    collection (cheap only when little is left to scan, e.g. once the keyspace is empty)."""
    if collect:
        gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
