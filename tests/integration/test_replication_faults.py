"""Peers that vanish or lie mid-transfer: nothing half-loads, nobody else is disturbed."""

from __future__ import annotations

import os
import signal
import socket
import threading
from pathlib import Path

import pytest
import valkey

from tests.integration.support import connect, digest, info, wait_synced, wait_until
from tests.realvalkey import start_valkey, start_valsync
from valsync.resp import RequestParser

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "replica-to-fake-primary"
REPLID = "a" * 40


class FakePrimary:
    """A scripted primary: the first session sends a good RDB, later ones a truncated one."""

    def __init__(self, payloads: list[bytes]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.payloads = payloads
        self.sessions: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for payload in self.payloads:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.sessions.append(conn)
            try:
                self._session(conn, payload)
            except OSError:
                continue  # the replica gave up on this session; serve the next one

    @staticmethod
    def _session(conn: socket.socket, payload: bytes) -> None:
        conn.settimeout(10)
        parser = RequestParser()
        psync = False
        while not psync:
            data = conn.recv(4096)
            if not data:
                return
            parser.feed(data)
            while (req := parser.next()) is not None:
                name = req.argv[0].upper() if req.argv else b""
                if name in (b"PSYNC", b"SYNC"):
                    psync = True
                elif name == b"PING":
                    conn.sendall(b"+PONG\r\n")
                elif name:
                    conn.sendall(b"+OK\r\n")
        conn.sendall(f"+FULLRESYNC {REPLID} 0\r\n".encode() + payload)

    def close(self) -> None:
        self.listener.close()
        for conn in self.sessions:
            conn.close()


def test_truncated_transfer_keeps_serving_old_data(tmp_path: Path) -> None:
    rdb = (VECTORS / "fake-primary-sample.rdb").read_bytes()
    good = b"$%d\r\n" % len(rdb) + rdb
    truncated = b"$%d\r\n" % len(rdb) + rdb[: len(rdb) // 2]
    fake = FakePrimary([good, truncated, truncated])
    try:
        replica = start_valsync(
            "--replicaof",
            "127.0.0.1",
            str(fake.port),
            "--repl-diskless-load",
            "swapdb",
            "--enable-debug-command",
            "yes",
            dir=tmp_path,
        )
        with replica:
            r = connect(replica)
            wait_until(lambda: info(r)["master_link_status"] == "up", 20, "first sync")
            before = digest(r)
            keys = r.dbsize()
            assert keys > 0
            fake.sessions[0].close()
            wait_until(lambda: len(fake.sessions) >= 2, 20, "second session")
            fake.sessions[1].close()
            wait_until(
                lambda: "truncated" in replica.log() or "ended" in replica.log(),
                20,
                "failed load logged",
            )
            assert r.dbsize() == keys
            assert digest(r) == before
    finally:
        fake.close()


def test_corrupt_rdb_through_the_disk_fails_when_loaded_then_resyncs(tmp_path: Path) -> None:
    """Through the disk into an empty replica the RDB is parsed as it arrives; a corrupt one
    is still reported once written and loaded (after "Loading DB in memory"), nothing of it
    is kept, and the next full sync loads."""
    rdb = (VECTORS / "fake-primary-sample.rdb").read_bytes()
    corrupt = rdb[:9] + b"\x7f" + rdb[10:]  # an unknown opcode right after the magic
    fake = FakePrimary([b"$%d\r\n" % len(rdb) + corrupt, b"$%d\r\n" % len(rdb) + rdb])
    try:
        with start_valsync(
            "--replicaof", "127.0.0.1", str(fake.port), "--enable-debug-command", "yes"
        ) as replica:
            r = connect(replica)
            wait_until(lambda: info(r)["master_link_status"] == "up", 30, "second sync")
            log = replica.log()
            failed = log.index("ended:")
            assert log.index("Loading DB in memory") < failed
            assert "Finished with success" not in log[:failed]
            assert r.dbsize() > 0
    finally:
        fake.close()


def test_replica_vanishing_mid_transfer_does_not_stop_the_others(tmp_path: Path) -> None:
    primary = start_valsync(
        "--repl-diskless-sync-delay",
        "2",
        "--rdb-key-save-delay",
        "300",
        "--enable-debug-command",
        "yes",
        dir=tmp_path,
    )
    replicas = []
    try:
        p = connect(primary)
        p.execute_command("DEBUG", "POPULATE", 3000)
        for _ in range(2):
            replicas.append(start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port)))
        wait_until(
            lambda: info(p, "persistence")["current_save_keys_processed"] > 100,
            20,
            "transfer under way",
        )
        replicas[0].stop(signal.SIGKILL)
        p.config_set("rdb-key-save-delay", 0)
        survivor = connect(replicas[1])
        wait_synced(p, survivor, timeout=60)
        assert digest(survivor) == digest(p)
        wait_until(lambda: info(p)["connected_slaves"] == 1, 20, "dead replica freed")
        assert p.ping()
    finally:
        for r in replicas:
            r.stop()
        primary.stop()


def test_sync_with_primary_requiring_auth() -> None:
    with start_valkey(
        "8.1.8", "--requirepass", "s3cret", "--repl-diskless-sync-delay", "0"
    ) as real:
        p = connect(real, password="s3cret")
        p.set("secret", "data")
        with start_valsync(
            "--replicaof",
            "127.0.0.1",
            str(real.port),
            "--masterauth",
            "s3cret",
            "--requirepass",
            "local-pass",
            "--enable-debug-command",
            "yes",
        ) as mine:
            r = connect(mine, password="local-pass")
            wait_synced(p, r)
            assert r.get("secret") == b"data"
            p.set("after", "sync")
            wait_synced(p, r)
            assert r.get("after") == b"sync"
            with pytest.raises(valkey.ReadOnlyError):
                r.set("x", 1)


def test_stuck_replica_during_socket_transfer_is_dropped(tmp_path: Path) -> None:
    log = tmp_path / "primary.log"
    primary = start_valsync(
        "--repl-diskless-sync-delay",
        "1",
        "--repl-timeout",
        "3",
        "--enable-debug-command",
        "yes",
        "--logfile",
        str(log),
        dir=tmp_path,
    )
    replicas = []
    try:
        p = connect(primary)
        pipe = p.pipeline(transaction=False)
        for i in range(30000):  # incompressible values: a 30 MB RDB
            pipe.set(f"big:{i}", os.urandom(1000))
        pipe.execute()
        for _ in range(2):
            replicas.append(start_valkey("8.1.8", "--replicaof", "127.0.0.1", str(primary.port)))
        replicas[0].proc.send_signal(signal.SIGSTOP)
        survivor = connect(replicas[1])
        wait_synced(p, survivor, timeout=60)
        wait_until(
            lambda: "Disconnecting timedout replica (full sync)" in log.read_text(),
            30,
            "stuck replica dropped",
        )
        replicas[0].proc.send_signal(signal.SIGCONT)
        wait_synced(p, connect(replicas[0]), timeout=60)
        assert digest(connect(replicas[0])) == digest(p) == digest(survivor)
    finally:
        for r in replicas:
            r.proc.send_signal(signal.SIGCONT)
            r.stop()
        primary.stop()
