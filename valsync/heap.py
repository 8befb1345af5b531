"""Giving freed memory back to the operating system, as Valkey's jemalloc does by itself.

CPython keeps freed memory in two places that a long-running server notices in its RSS:

* glibc's heap. glibc raises its mmap threshold each time a large block is freed (so that
  big values are not mapped and faulted in afresh on every command), so after a few big dict
  tables come and go the next ones are carved from the heap, and their space is returned
  only when it sits at the heap's top. ``malloc_trim`` returns the free pages inside the
  heap: it is called after the bulk operations that replace big tables.
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


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):
        return None
    return libc


def release_free_memory(collect: bool = False) -> None:
    """Return the heap's free pages; ``collect``: first empty the free lists with a full
    collection (cheap only when little is left to scan, e.g. once the keyspace is empty)."""
    if collect:
        gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
