"""CPU time, in-process, of the loops the mypyc build compiles (mypyc-modules.txt): SAVE and
load of N string keys and of N/10 keys of each small encoding, RESP replies encoded, pipelined
SETs and inline commands framed. Best of R; run it once from a tree built with ``make build``
and once with pure Python (``make clean-compiled``, or another checkout) to compare.

    PYTHONPATH=$PWD python tools/bench/modules_cpu.py [N] [R]
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections import deque
from collections.abc import Callable

from common import ROOT  # noqa: F401 - puts the worktree on sys.path

import valsync.rdb.writer
from valsync.keyspace import HashValue, ZSetValue
from valsync.keyspace.database import Keyspace
from valsync.rdb.reader import load_rdb_bytes
from valsync.rdb.writer import dump_rdb_bytes
from valsync.resp.reply import OK, Double, MapReply, SimpleString, encode, encode_command
from valsync.resp.request import RequestParser

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
R = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def best(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(R):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def strings() -> Keyspace:
    ks = Keyspace(16)
    data = ks[0].data
    for i in range(N):
        data[b"key:%d" % i] = b"value:%d" % i
    return ks


def mixed() -> Keyspace:
    """Small lists, intsets, listpack sets, hashes and zsets, and LZF-compressed strings."""
    ks = Keyspace(16)
    data = ks[0].data
    rng = random.Random(1)
    for i in range(N // 10):
        data[b"l:%d" % i] = deque(b"item%d" % j for j in range(10))
        data[b"s:%d" % i] = {b"%d" % j for j in range(10)}
        data[b"t:%d" % i] = {b"m%d" % j for j in range(10)}
        h = HashValue()
        h.update({b"f%d" % j: b"v%d" % j for j in range(10)})
        data[b"h:%d" % i] = h
        z = ZSetValue()
        for j in range(10):
            z.add(b"m%d" % j, rng.random())
        data[b"z:%d" % i] = z
        data[b"x:%d" % i] = b"a longer string value that LZF compresses %d" % i * 2
    return ks


def encode_replies() -> None:
    replies = [
        b"value:123",
        42,
        OK,
        None,
        [b"a", b"bb", 3, None],
        SimpleString("PONG"),
        MapReply([(b"k", b"v"), (b"k2", 7)]),
        Double(1.5),
        [[b"x", 1], [b"y", 2]],
    ]
    out = bytearray()
    for _ in range(N // 10):
        for reply in replies:
            encode(reply, out, 2)
            encode(reply, out, 3)
        if len(out) > 65536:
            out.clear()


def frame(data: bytes, inline: bytes) -> None:
    for stream, step in ((data, 16384), (inline, 4096)):
        parser = RequestParser()
        for i in range(0, len(stream), step):
            parser.feed(stream[i : i + step])
            while parser.next_argv() is not None:
                pass


def main() -> None:
    compiled = valsync.rdb.writer.__file__.endswith(".so")
    rows = {}
    for name, make in (("strings", strings), ("mixed", mixed)):
        ks = make()
        blob = dump_rdb_bytes(ks)
        rows[f"save {name}"] = best(lambda ks=ks: dump_rdb_bytes(ks))
        rows[f"load {name}"] = best(lambda blob=blob: load_rdb_bytes(blob))
    rows["RESP encode"] = best(encode_replies)
    sets = b"".join(encode_command([b"SET", b"key:%d" % i, b"xxx"]) for i in range(N))
    inline = b"".join(b"SET key:%d xxx\r\n" % i for i in range(N // 10))
    rows["RESP frame"] = best(lambda: frame(sets, inline))
    print(
        f"{'compiled' if compiled else 'pure'}, load average {os.getloadavg()[0]:.1f}, "
        f"N={N:,}, CPU s best of {R}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows.items())
    )


if __name__ == "__main__":
    main()
