"""CPU time of the client command path, in-process (no other process competing for the CPU):
pipelines of 16 commands as ``redis-benchmark -P 16 -r 100000`` sends them, written on one end
of a socket pair whose other end is served by valsync's real connection task
(``ClientConnection``: read, frame, ``Server.process``, encode, write). The client side only
sends prepared bytes and counts reply bytes, so nearly all the time is the server's.
``--replica`` adds a backlog (what an attached replica costs the command path, its socket
aside). ``--one-key`` sends HSET and ZADD as redis-benchmark does (``HSET myhash element:<r>
xxx``, ``ZADD myzset <r> element:<r'>``: one hash and one zset that grow to ~100k entries)
instead of one small hash or zset per random key. ``--populate`` first sends as many SETs
(untimed), so that GET finds its keys as after redis-benchmark's SET test. Prints the best of R runs in microseconds
per command.

    PYTHONPATH=$PWD python tools/bench/client_path.py [set|get|lpush|hset|zadd] [N] [R] [--profile] [--replica] [--one-key] [--populate]
"""

from __future__ import annotations

import cProfile
import os
import pstats
import random
import socket
import sys
import tempfile
import time

import hiredis
import trio
from common import ROOT  # noqa: F401 - puts the worktree on sys.path

from valsync.app import build_server
from valsync.config import Config
from valsync.log import ServerLog
from valsync.net.connection import ClientConnection
from valsync.resp.reply import encode_command

PIPELINE = 16


def command(kind: str, rng: random.Random, one_key: bool = False) -> list[bytes]:
    n = b"%012d" % rng.randrange(100_000)
    if one_key and kind == "hset":
        return [b"HSET", b"myhash", b"element:" + n, b"xxx"]
    if one_key and kind == "zadd":
        return [b"ZADD", b"myzset", n, b"element:%012d" % rng.randrange(100_000)]
    if kind == "set":
        return [b"SET", b"key:" + n, b"xxx"]
    if kind == "get":
        return [b"GET", b"key:" + n]
    if kind == "lpush":
        return [b"LPUSH", b"mylist", b"xxx"]
    if kind == "hset":
        return [b"HSET", b"myhash:" + n, b"element:" + n, b"xxx"]
    return [b"ZADD", b"myzset:" + n, n, b"element:" + n]


def pipelines(kind: str, n: int, one_key: bool = False) -> list[bytes]:
    rng = random.Random(1)
    return [
        b"".join(encode_command(command(kind, rng, one_key)) for _ in range(PIPELINE))
        for _ in range(n // PIPELINE)
    ]


def one_run(
    batches: list[bytes],
    replica: bool,
    profile: cProfile.Profile | None,
    populate: list[bytes] | None = None,
) -> float:
    tmp = tempfile.mkdtemp()
    config = Config.from_args(["--port", "0", "--dir", tmp, "--save", ""])
    server = build_server(config, ServerLog(level="nothing"))
    if replica:
        server.repl.create_backlog(0)  # type: ignore[union-attr]

    async def run() -> float:
        ours, theirs = socket.socketpair()
        stream = trio.SocketStream(trio.socket.from_stdlib_socket(theirs))
        client = trio.socket.from_stdlib_socket(ours)
        connection = ClientConnection(server, stream)
        reader = hiredis.Reader()
        spent = 0.0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(connection.run)

            async def exchange(batches: list[bytes]) -> None:
                for batch in batches:
                    await client.send(batch)
                    replies = 0
                    while replies < PIPELINE:
                        reader.feed(await client.recv(1 << 16))
                        while reader.gets() is not False:
                            replies += 1

            await exchange(populate or [])
            if profile is not None:
                profile.enable()
            t0 = time.process_time()
            await exchange(batches)
            spent = time.process_time() - t0
            if profile is not None:
                profile.disable()
            client.close()
        return spent

    return trio.run(run)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    kind = args[0] if args else "set"
    n = int(args[1]) if len(args) > 1 else 200_000
    runs = int(args[2]) if len(args) > 2 else 3
    replica = "--replica" in sys.argv
    profile = cProfile.Profile(time.process_time) if "--profile" in sys.argv else None
    one_key = "--one-key" in sys.argv
    batches = pipelines(kind, n, one_key)
    populate = pipelines("set", n) if "--populate" in sys.argv else None
    best = min(one_run(batches, replica, profile, populate) for _ in range(runs))
    print(
        f"load average {os.getloadavg()[0]:.1f}: {n:,} {kind.upper()} -P{PIPELINE}"
        f"{' with a backlog' if replica else ''}{' on one key' if one_key else ''}"
        f"{' after as many SETs' if populate else ''}"
        f" in {best:.3f} s CPU (best of {runs}), "
        f"{best / n * 1e6:.2f} us per command"
    )
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
