"""A link that breaks in the middle of a batch of stream commands (found by tools/chaos).

The replica applied some commands of a chunk, then could not send the ACK a GETACK in the
same chunk asked for (the primary had reset the connection). Its next PSYNC must resume after
what it applied, or the primary sends those commands again and the replica applies them twice
(a list grows twice, an XADD fails). A scripted primary sends the chunk, then resets.
"""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

import pytest

from tests.integration.support import connect, wait_until
from tests.realvalkey import start_valkey, start_valsync
from valsync.resp import RequestParser
from valsync.resp.reply import encode_command

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "replica-to-fake-primary"
REPLID = "b" * 40


class ResettingPrimary:
    """Session 1: full sync, then, once the replica's first ACK came, a chunk of
    ``RPUSH l x1``, ``REPLCONF GETACK *``, ``RPUSH l x2``, then a reset (SO_LINGER 0).
    Later sessions record the PSYNC and answer ``+CONTINUE``."""

    def __init__(self, rdb: bytes) -> None:
        self.rdb = rdb
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.psyncs: list[list[bytes]] = []
        self.stream_start = 1000
        self.x1 = encode_command([b"RPUSH", b"l", b"x1"])
        self.getack = encode_command([b"REPLCONF", b"GETACK", b"*"])
        self.x2 = encode_command([b"RPUSH", b"l", b"x2"])
        self.open: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _handshake(self, conn: socket.socket) -> tuple[RequestParser, list[bytes]]:
        parser = RequestParser()
        while True:
            data = conn.recv(4096)
            if not data:
                raise OSError("replica left")
            parser.feed(data)
            while (argv := parser.next_argv()) is not None:
                name = argv[0].upper()
                if name in (b"PSYNC", b"SYNC"):
                    return parser, argv
                conn.sendall(b"+PONG\r\n" if name == b"PING" else b"+OK\r\n")

    @staticmethod
    def _wait_ack(conn: socket.socket, parser: RequestParser) -> None:
        while True:
            while (argv := parser.next_argv()) is not None:
                if [a.upper() for a in argv[:2]] == [b"REPLCONF", b"ACK"]:
                    return
            data = conn.recv(4096)
            if not data:
                raise OSError("replica left")
            parser.feed(data)

    def _serve(self) -> None:
        first = True
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.open.append(conn)
            conn.settimeout(10)
            try:
                parser, psync = self._handshake(conn)
                self.psyncs.append(psync)
                if not first:
                    conn.sendall(f"+CONTINUE {REPLID}\r\n".encode())
                    continue
                first = False
                conn.sendall(
                    f"+FULLRESYNC {REPLID} {self.stream_start}\r\n".encode()
                    + b"$%d\r\n" % len(self.rdb)
                    + self.rdb
                )
                self._wait_ack(conn, parser)
                conn.sendall(self.x1 + self.getack + self.x2)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self.listener.close()
        for conn in self.open:
            conn.close()


@pytest.mark.parametrize("kind", ["valsync", "valkey-8.1.8"])
def test_psync_after_a_broken_ack_resumes_after_the_applied_commands(kind: str) -> None:
    fake = ResettingPrimary((VECTORS / "fake-primary-sample.rdb").read_bytes())
    args = ("--replicaof", "127.0.0.1", str(fake.port))
    try:
        server = (
            start_valsync(*args, "--enable-debug-command", "yes")
            if kind == "valsync"
            else start_valkey("8.1.8", *args)
        )
        with server as replica:
            r = connect(replica)
            wait_until(lambda: len(fake.psyncs) >= 2, 30, "the replica came back")
            applied = [x.decode() for x in r.lrange("l", 0, -1)]
            assert applied in (["x1"], ["x1", "x2"]), applied
            start = fake.stream_start
            after_x1 = start + len(fake.x1)
            after_x2 = after_x1 + len(fake.getack) + len(fake.x2)
            want = after_x1 if applied == ["x1"] else after_x2
            # +1: PSYNC asks for the first byte it does not have
            assert fake.psyncs[1] == [b"PSYNC", REPLID.encode(), str(want + 1).encode()], (
                fake.psyncs,
                want,
                replica.log()[-2000:],
            )
    finally:
        fake.close()
