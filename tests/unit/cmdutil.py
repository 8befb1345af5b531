"""A keyspace and a client to run commands on without a server (unit tests of handlers)."""

from __future__ import annotations

import random

from valsync.commands import BlockRequest, ClientState, CommandContext, ExpireMode, execute
from valsync.keyspace import Keyspace
from valsync.resp import Reply, encode


class Harness:
    def __init__(
        self, now_ms: int = 1_700_000_000_000, mode: ExpireMode = ExpireMode.DELETE
    ) -> None:
        self.keyspace = Keyspace()
        self.client = ClientState(id=1)
        self.now_ms = now_ms
        self.mode = mode
        self.propagated: list[tuple[int, list[bytes]]] = []
        self.rng = random.Random(1)

    def run(self, *args: bytes | str | int) -> Reply | BlockRequest:
        argv = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        ctx = CommandContext(
            self.keyspace, self.client, self.now_ms, expire_mode=self.mode, rng=self.rng
        )
        reply = execute(ctx, argv)
        self.propagated.extend((p.dbid, p.argv) for p in ctx.take_propagated())
        return reply

    def wire(self, *args: bytes | str | int, resp: int = 2) -> bytes:
        out = bytearray()
        reply = self.run(*args)
        assert not isinstance(reply, BlockRequest), "a blocking command blocked"
        encode(reply, out, resp)
        return bytes(out)
