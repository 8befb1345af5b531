"""Shared helpers for integration tests against real valkey-server / valkey-cli binaries."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import valkey

from tests.realvalkey import ServerProcess


def connect(server: ServerProcess, **kwargs: Any) -> valkey.Valkey:
    return valkey.Valkey(host="127.0.0.1", port=server.port, socket_timeout=10, **kwargs)


def wait_until(cond: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except (
            valkey.ConnectionError,
            valkey.TimeoutError,
            valkey.BusyLoadingError,
            ConnectionError,
            OSError,
        ):
            last = None
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def info(c: valkey.Valkey, section: str = "replication") -> dict[str, Any]:
    return dict(c.info(section))


def digest(c: valkey.Valkey) -> str:
    return str(c.execute_command("DEBUG", "DIGEST")).strip()


def link_up(c: valkey.Valkey) -> bool:
    return info(c).get("master_link_status") == "up"


def replica_synced(primary: valkey.Valkey, replica: valkey.Valkey) -> bool:
    """The replica's link is up and it applied everything the primary produced."""
    p, r = info(primary), info(replica)
    return r.get("master_link_status") == "up" and r.get("slave_repl_offset") == p.get(
        "master_repl_offset"
    )


def wait_synced(primary: valkey.Valkey, replica: valkey.Valkey, timeout: float = 30.0) -> None:
    wait_until(lambda: replica_synced(primary, replica), timeout, "replica in sync")


def populate_all_types(c: valkey.Valkey, prefix: str = "t", big: bool = True) -> None:
    """Every data type, small and big encodings, TTLs, three DBs."""
    c.set(f"{prefix}:str", "hello")
    c.set(f"{prefix}:int", 12345)
    c.set(f"{prefix}:bin", b"\x00\x01\xff\r\n")
    c.set(f"{prefix}:long", "x" * 3000)
    c.set(f"{prefix}:ttl", "v", px=10_000_000)
    c.rpush(f"{prefix}:list", *[f"e{i}" for i in range(10)])
    c.hset(f"{prefix}:hash", mapping={f"f{i}": f"v{i}" for i in range(5)})
    c.sadd(f"{prefix}:intset", *range(20))
    c.sadd(f"{prefix}:set", *[f"m{i}" for i in range(10)])
    c.zadd(f"{prefix}:zset", {f"z{i}": i * 1.5 for i in range(10)})
    if big:
        c.rpush(f"{prefix}:biglist", *[f"element-{i}" * 3 for i in range(2000)])
        c.hset(f"{prefix}:bighash", mapping={f"field{i}": f"value{i}" for i in range(700)})
        c.sadd(f"{prefix}:bigset", *[f"member{i}" for i in range(300)])
        c.zadd(f"{prefix}:bigzset", {f"member{i}": i / 7 for i in range(300)})
    c.execute_command("SELECT", 3)
    c.set(f"{prefix}:db3", "three")
    c.execute_command("SELECT", 0)


def raw_exchange(
    port: int, data: bytes, read_for: float = 0.5, until: bytes | None = None
) -> bytes:
    """Send raw bytes, read whatever comes back for a while (protocol probes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.settimeout(read_for)
        out = b""
        deadline = time.monotonic() + read_for * 10
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            out += chunk
            if until is not None and until in out:
                break
        return out
