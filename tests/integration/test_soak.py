"""Soak: a minute of mixed writes while links are killed and replicas restart (``make soak``)."""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.integration.support import connect, digest, info, wait_synced, wait_until
from tests.realvalkey import start_valkey, start_valsync

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))


@pytest.mark.slow
def test_chain_under_churn() -> None:
    rng = random.Random(7)
    with start_valsync(
        "--repl-diskless-sync-delay",
        "1",
        "--repl-backlog-size",
        "1mb",
        "--enable-debug-command",
        "yes",
    ) as top:
        t = connect(top)
        with (
            start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(top.port)) as r1,
            start_valsync(
                "--replicaof", "127.0.0.1", str(top.port), "--enable-debug-command", "yes"
            ) as mid,
        ):
            with start_valkey("9.1.2", "--replicaof", "127.0.0.1", str(mid.port)) as leaf:
                deadline = time.monotonic() + SECONDS
                next_kill = time.monotonic() + 3
                n = 0
                while time.monotonic() < deadline:
                    pipe = t.pipeline(transaction=rng.random() < 0.2)
                    for _ in range(50):
                        k = f"k{rng.randrange(2000)}"
                        op = rng.randrange(6)
                        if op == 0:
                            pipe.set(k, rng.randrange(10**6), px=rng.choice([None, 500, 100000]))
                        elif op == 1:
                            pipe.rpush(f"l{rng.randrange(50)}", n)
                        elif op == 2:
                            pipe.hset(f"h{rng.randrange(50)}", k, n)
                        elif op == 3:
                            pipe.zincrby(f"z{rng.randrange(50)}", 1.5, k)
                        elif op == 4:
                            pipe.sadd(f"s{rng.randrange(50)}", n % 300)
                        else:
                            pipe.delete(k)
                        n += 1
                    pipe.execute()
                    if time.monotonic() > next_kill:
                        # only links that finished their sync: a partial resync must follow
                        if all(
                            v.get("state") == "online"
                            for k, v in info(t).items()
                            if k.startswith("slave")
                        ):
                            t.execute_command("CLIENT", "KILL", "TYPE", "replica")
                        next_kill = time.monotonic() + 3

                # keys with short TTLs keep expiring (and their UNLINKs keep flowing) for a
                # moment after the load stops: compare once everything has settled
                def converged() -> bool:
                    wait_synced(t, connect(r1), timeout=120)
                    wait_synced(t, connect(mid), timeout=120)
                    wait_synced(connect(mid), connect(leaf), timeout=120)
                    expected = digest(t)
                    return all(digest(connect(s)) == expected for s in (r1, mid, leaf))

                wait_until(converged, 60, "digests equal at every level")
                stats = info(t, "stats")
                assert stats["sync_partial_ok"] >= 1, {
                    k: v for k, v in stats.items() if "sync" in k
                }
