"""Shared helpers for integration tests against real valkey-server / valkey-cli binaries."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
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


# --- streams -------------------------------------------------------------------------------

STREAM_KEYS = ("rdb:s", "rdb:empty", "live:s", "live:s2")


def raw_client(server: ServerProcess) -> valkey.Valkey:
    """A client that returns replies as the server sent them (no per-command parsing)."""
    c = connect(server)
    c.response_callbacks.clear()
    return c


def populate_streams(c: valkey.Valkey) -> None:
    """Streams with tombstones, several nodes, two groups, pending entries, an idle consumer,
    and an empty stream (``c`` from :func:`raw_client`)."""
    for i in range(250):
        c.execute_command("XADD", "rdb:s", "*", "n", i, "pad", "x" * (i % 60))
    first = c.execute_command("XRANGE", "rdb:s", "-", "+", "COUNT", "30")
    c.execute_command("XDEL", "rdb:s", *[e[0] for e in first][::7])
    c.execute_command("XGROUP", "CREATE", "rdb:s", "g", "0")
    c.execute_command("XREADGROUP", "GROUP", "g", "alice", "COUNT", "40", "STREAMS", "rdb:s", ">")
    c.execute_command("XREADGROUP", "GROUP", "g", "bob", "COUNT", "5", "STREAMS", "rdb:s", ">")
    c.execute_command("XGROUP", "CREATE", "rdb:s", "g2", "$", "ENTRIESREAD", "3")
    c.execute_command("XGROUP", "CREATECONSUMER", "rdb:s", "g2", "idle")
    c.execute_command("XADD", "rdb:empty", "1-1", "f", "v")
    c.execute_command("XDEL", "rdb:empty", "1-1")


def stream_traffic(c: valkey.Valkey, port: int) -> None:
    """Stream writes of every kind after :func:`populate_streams`, a blocked XREADGROUP
    served by XADD among them (``port`` is the server's, for the blocked client)."""
    blocked: list[Any] = []

    def blocked_read() -> None:
        b = valkey.Valkey(host="127.0.0.1", port=port, socket_timeout=10)
        try:
            blocked.append(
                b.execute_command(
                    "XREADGROUP", "GROUP", "g", "carol", "BLOCK", "5000", "STREAMS", "live:s", ">"
                )
            )
        except valkey.ValkeyError as err:
            blocked.append(err)
        finally:
            b.close()

    c.execute_command("XGROUP", "CREATE", "live:s", "g", "$", "MKSTREAM")
    reader = threading.Thread(target=blocked_read)
    reader.start()
    for _ in range(100):
        if any(
            b"cmd=xreadgroup" in line for line in c.execute_command("CLIENT", "LIST").splitlines()
        ):
            break
        threading.Event().wait(0.02)
    for i in range(300):
        c.execute_command("XADD", "live:s", "MAXLEN", "~", "120", "*", "i", i)
    reader.join(10)
    assert blocked and blocked[0], blocked
    c.execute_command("XREADGROUP", "GROUP", "g", "dave", "COUNT", "10", "STREAMS", "live:s", ">")
    c.execute_command(
        "XREADGROUP", "GROUP", "g", "erin", "COUNT", "5", "NOACK", "STREAMS", "live:s", ">"
    )
    pending = c.execute_command("XPENDING", "live:s", "g", "-", "+", "100")
    c.execute_command("XACK", "live:s", "g", *[p[0] for p in pending[::3]])
    c.execute_command("XCLAIM", "live:s", "g", "frank", "0", pending[1][0], pending[4][0])
    c.execute_command(
        "XCLAIM", "live:s", "g", "frank", "0", pending[2][0], "JUSTID", "RETRYCOUNT", 9
    )
    c.execute_command("XDEL", "live:s", pending[5][0])
    c.execute_command("XAUTOCLAIM", "live:s", "g", "gina", "0", "0", "COUNT", "4")
    c.execute_command("XTRIM", "live:s", "MINID", "~", pending[7][0])
    c.execute_command("XTRIM", "live:s", "MAXLEN", "=", "90")
    c.execute_command("XCLAIM", "rdb:s", "g", "alice", "0", "0-1", "FORCE")
    c.execute_command("XGROUP", "DELCONSUMER", "rdb:s", "g", "bob")
    c.execute_command("XGROUP", "SETID", "rdb:s", "g2", "$")
    c.execute_command("XADD", "live:s2", "NOMKSTREAM", "*", "f", "v")
    c.execute_command("XADD", "live:s2", "5-*", "f", "v")
    c.execute_command("XSETID", "live:s2", "10-0", "ENTRIESADDED", "7", "MAXDELETEDID", "5-0")
    c.execute_command("XADD", "live:s2", "MINID", "~", "0", "*", "f", "v")


def stream_views(c: valkey.Valkey, keys: tuple[str, ...] = STREAM_KEYS) -> dict[str, Any]:
    """XINFO STREAM, XINFO GROUPS, each group's consumers (name, pending) and PEL (ID, owner,
    delivery count) of ``keys``: what a replica or a reloaded dump must show identically."""
    view: dict[str, Any] = {}
    for key in keys:
        view[key] = c.execute_command("XINFO", "STREAM", key)
        groups = c.execute_command("XINFO", "GROUPS", key)
        view[key + ":groups"] = groups
        for g in groups:
            name = dict(zip(g[0::2], g[1::2], strict=True))[b"name"]
            consumers = c.execute_command("XINFO", "CONSUMERS", key, name)
            view[f"{key}:{name!r}:consumers"] = [(x[1], x[3]) for x in consumers]
            view[f"{key}:{name!r}:pel"] = [
                (p[0], p[1], p[3]) for p in c.execute_command("XPENDING", key, name, "-", "+", 500)
            ]
    return view


def child_pids(server: ServerProcess) -> list[int]:
    """The server's forked children (a save child), from /proc."""
    text = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text()
    return [int(pid) for pid in text.split()]
