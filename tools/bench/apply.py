"""CPU time of a replica applying its primary's stream, in-process (no sockets, no noise
from the other processes sharing the machine): N pipelined SETs as a valkey primary streams
them for ``redis-benchmark -t set -r 100000``, fed in 256 KB reads through the replica's real
path (``PrimaryLinkDriver._apply``: framing, ``Server.apply_from_primary``, offsets, proxying
to the backlog). Prints the best of R runs in seconds and microseconds per command.

    PYTHONPATH=$PWD python tools/bench/apply.py [N] [R] [--profile]
"""

from __future__ import annotations

import cProfile
import os
import pstats
import random
import sys
import tempfile
import time

import trio
from common import ROOT  # noqa: F401 - puts the worktree on sys.path

from valsync.app import build_server
from valsync.config import Config
from valsync.log import ServerLog
from valsync.net.replica_side import READ_SIZE
from valsync.replication.stream import ReplicationStreamReader
from valsync.resp.reply import encode_command


def stream_of_sets(n: int) -> bytes:
    rng = random.Random(1)
    out = [encode_command([b"SELECT", b"0"])]
    for _ in range(n):
        key = b"key:%012d" % rng.randrange(100_000)
        out.append(encode_command([b"SET", key, b"xxx"]))
    return b"".join(out)


def one_run(data: bytes, profile: cProfile.Profile | None) -> float:
    tmp = tempfile.mkdtemp()
    config = Config.from_args(["--port", "0", "--dir", tmp, "--save", ""])
    server = build_server(config, ServerLog(level="nothing"))
    service = server.repl
    assert service is not None
    driver = service.primary  # type: ignore[attr-defined]
    driver.host, driver.port = "127.0.0.1", 1
    service.create_backlog(0)  # type: ignore[attr-defined]
    client = server.new_client(addr="127.0.0.1:1")
    client.is_primary_link = True
    client.authenticated = True
    reads = [data[i : i + READ_SIZE] for i in range(0, len(data), READ_SIZE)]

    async def run() -> float:
        reader = ReplicationStreamReader(0)
        raw = driver._unproxied = bytearray()
        driver._applied_unproxied = 0
        if profile is not None:
            profile.enable()
        t0 = time.process_time()
        for chunk in reads:
            raw += chunk
            reader.receive_data(chunk)
            await driver._apply(reader, raw, client)
        spent = time.process_time() - t0
        if profile is not None:
            profile.disable()
        assert reader.applied_offset == len(data), (reader.applied_offset, len(data))
        return spent

    return trio.run(run)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 300_000
    runs = int(args[1]) if len(args) > 1 else 5
    profile = cProfile.Profile(time.process_time) if "--profile" in sys.argv else None
    data = stream_of_sets(n)
    best = min(one_run(data, profile) for _ in range(runs))
    print(
        f"load average {os.getloadavg()[0]:.1f}: {n:,} SETs applied in {best:.3f} s CPU "
        f"(best of {runs}), {best / n * 1e6:.2f} us per command"
    )
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
