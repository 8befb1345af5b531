"""Re-record ``real-wait-bgsave-fork.json``: a real 8.1.8 primary mid-BGSAVE with one replica
online (8.1.8) and one held in wait_bgsave (9.1.2), plus both replicas' replies.

Run from the repo root: ``.venv/bin/python -m tests.vectors.info.capture_wait_bgsave``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import trio

from tests.realvalkey import start_valkey
from valsync.net.client import RespClient

COMMANDS = [
    ("INFO", "server"),
    ("INFO", "replication"),
    ("INFO", "persistence"),
    ("INFO", "stats"),
    ("ROLE",),
    ("CLIENT", "LIST", "TYPE", "REPLICA"),
]


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _capture(server: Any) -> dict[str, Any]:
    """Raw replies (valkey-py would parse INFO into dicts; the dashboard parses the text)."""

    async def go() -> dict[str, Any]:
        async with await RespClient.connect("127.0.0.1", server.port) as client:
            replies = await client.pipeline(list(COMMANDS))
        return {" ".join(cmd): _plain(r) for cmd, r in zip(COMMANDS, replies, strict=True)}

    return trio.run(go)


def main() -> None:
    out: dict[str, Any] = {}
    with start_valkey("8.1.8", "--repl-diskless-sync", "no") as primary:
        client: Any = primary.client()
        with start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port)) as online:
            for i in range(200):
                client.set(f"k{i}", "v" * 100)
            time.sleep(1.5)
            client.config_set("rdb-key-save-delay", 100000)
            with start_valkey("9.1.2", "--replicaof", "127.0.0.1", str(primary.port)) as waiting:
                time.sleep(2)
                out["primary"] = _capture(primary)
                out["replica_online"] = _capture(online)
                out["replica_waiting"] = _capture(waiting)
                out["ports"] = {
                    "primary": primary.port,
                    "replica_online": online.port,
                    "replica_waiting": waiting.port,
                }
    path = Path(__file__).with_name("real-wait-bgsave-fork.json")
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
