"""A CLIENT CAPA redirect client during FAILOVER's in-progress phase, next to real 8.1.8."""

from __future__ import annotations

import os
import signal
import socket

from tests.integration.support import connect, info, wait_synced, wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


def _primary(kind: str) -> ServerProcess:
    if kind == "valsync":
        return start_valsync("--enable-debug-command", "yes")
    return start_valkey("8.1.8", "--enable-debug-command", "yes")


def _transcript(kind: str) -> list[object]:
    """The replica stops answering, FAILOVER FORCE times out into failover-in-progress; a
    write from a redirect client is held (blocked) until the failover ends, then redirected."""
    with _primary(kind) as p, start_valkey("8.1.8") as r:
        cp, cr = connect(p), connect(r)
        cr.execute_command("REPLICAOF", "127.0.0.1", p.port)
        wait_synced(cp, cr)
        os.kill(r.pid, signal.SIGSTOP)
        try:
            cp.set("foo", "bar")
            cp.execute_command("FAILOVER", "TO", "127.0.0.1", r.port, "TIMEOUT", 100, "FORCE")
            wait_until(
                lambda: info(cp)["master_failover_state"] == "failover-in-progress", 10, "in prog"
            )
            held = socket.create_connection(("127.0.0.1", p.port), timeout=10)
            held.sendall(b"CLIENT CAPA redirect\r\nSET foo bar\r\n")
            wait_until(lambda: info(cp, "clients")["blocked_clients"] == 1, 10, "held")
        finally:
            os.kill(r.pid, signal.SIGCONT)
        wait_until(lambda: info(cp)["master_failover_state"] == "no-failover", 20, "failover end")
        reply = b""
        while reply.count(b"\r\n") < 2:
            reply += held.recv(4096)
        held.close()
        return [reply.replace(str(r.port).encode(), b"<port>"), cp.role()[0], cr.role()[0]]


def test_redirect_client_is_held_during_failover_in_progress() -> None:
    expected = _transcript("8.1.8")
    assert expected[0] == b"+OK\r\n-REDIRECT 127.0.0.1:<port>\r\n"
    assert _transcript("valsync") == expected
