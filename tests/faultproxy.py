"""A TCP proxy that injects network faults between a primary and its replica.

The decisions are sans-IO: :class:`LinkFaults` turns the bytes one proxied connection carries
into actions (send these bytes, sleep, cut the connection) according to the shared
:class:`FaultPlan` the test sets. :class:`FaultProxy` runs the pumps in a trio loop on its own
thread, so synchronous tests drive it with plain calls.

Modes: ``pass``; ``delay`` (every chunk waits ``delay`` seconds, order kept); ``bytewise``
(every byte sent on its own); ``stall`` (nothing moves until ``stall_until``); ``cut_mid_rdb``
(the next full sync's payload is cut after ``rdb_bytes`` bytes); ``cut_mid_command`` (the next
chunk of the stream that starts a command is cut after its first bytes). Dropping every live
connection at once is :meth:`FaultProxy.drop`. The cuts fire once, then the plan passes again.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import trio

DOWN = "primary->replica"
UP = "replica->primary"


@dataclass
class Send:
    data: bytes


@dataclass
class Sleep:
    seconds: float


@dataclass
class Cut:
    pass


Action = Send | Sleep | Cut


@dataclass
class FaultPlan:
    """What the test wants now; shared by every connection of one proxy."""

    mode: str = "pass"
    delay: float = 0.0
    stall_until: float = 0.0
    rdb_bytes: int = 2000
    cuts: int = 0
    cut_log: list[str] = field(default_factory=list)

    def set(self, mode: str, **params: float) -> None:
        for name, value in params.items():
            setattr(self, name, value)
        self.mode = mode

    def fired(self, what: str) -> None:
        self.cuts += 1
        self.cut_log.append(what)
        self.mode = "pass"


class LinkFaults:
    """One proxied connection: chunks in, actions out (no I/O here)."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._down_head = b""  # start of the primary's replies, until a +FULLRESYNC line
        self._payload_seen: int | None = None  # bytes after +FULLRESYNC, once seen

    def feed(self, direction: str, data: bytes, now: float) -> list[Action]:
        plan = self.plan
        if direction == DOWN:
            cut = self._cut_down(data)
            if cut is not None:
                return cut
        if plan.mode == "delay":
            return [Sleep(plan.delay), Send(data)]
        if plan.mode == "bytewise":
            return [Send(data[i : i + 1]) for i in range(len(data))]
        if plan.mode == "stall" and now < plan.stall_until:
            return [Sleep(plan.stall_until - now), Send(data)]
        return [Send(data)]

    def _cut_down(self, data: bytes) -> list[Action] | None:
        plan = self.plan
        if plan.mode == "cut_mid_command" and data.startswith(b"*") and len(data) > 5:
            plan.fired("mid-command")
            return [Send(data[:5]), Cut()]
        if self._payload_seen is None:
            self._down_head += data
            at = self._down_head.find(b"+FULLRESYNC")
            end = self._down_head.find(b"\r\n", at) if at >= 0 else -1
            if end < 0:
                if len(self._down_head) > 4096:
                    self._down_head = self._down_head[-64:]
                return None
            self._payload_seen = len(self._down_head) - (end + 2)
            self._down_head = b""
            if plan.mode == "cut_mid_rdb" and self._payload_seen > plan.rdb_bytes:
                keep = len(data) - (self._payload_seen - plan.rdb_bytes)
                plan.fired("mid-rdb")
                return [Send(data[:keep]), Cut()]
            return None
        before = self._payload_seen
        self._payload_seen += len(data)
        if plan.mode == "cut_mid_rdb" and before <= plan.rdb_bytes < self._payload_seen:
            plan.fired("mid-rdb")
            return [Send(data[: plan.rdb_bytes - before]), Cut()]
        return None


class FaultProxy:
    """Listens on ``port`` and relays each connection to ``target_port`` through a plan."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.plan = FaultPlan()
        self.port = 0
        self.connections = 0
        self._token: trio.lowlevel.TrioToken | None = None
        self._links: set[trio.CancelScope] = set()
        self._main_scope: trio.CancelScope | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def set(self, mode: str, **params: float) -> None:
        assert self._token is not None
        trio.from_thread.run_sync(lambda: self.plan.set(mode, **params), trio_token=self._token)

    def drop(self) -> int:
        """Close every live proxied connection now; returns how many."""
        assert self._token is not None

        def cancel_all() -> int:
            for scope in self._links:
                scope.cancel()
            return len(self._links)

        return trio.from_thread.run_sync(cancel_all, trio_token=self._token)

    def close(self) -> None:
        if self._token is not None and self._main_scope is not None:
            scope = self._main_scope
            try:
                trio.from_thread.run_sync(scope.cancel, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as self._main_scope:
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            self.port = listeners[0].socket.getsockname()[1]
            self._ready.set()
            await trio.serve_listeners(self._serve, listeners)

    async def _serve(self, client: trio.SocketStream) -> None:
        self.connections += 1
        faults = LinkFaults(self.plan)
        with trio.CancelScope() as scope:
            self._links.add(scope)
            try:
                upstream = await trio.open_tcp_stream("127.0.0.1", self.target_port)
            except OSError:
                await client.aclose()
                self._links.discard(scope)
                return
            for stream in (client, upstream):
                stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pump, client, upstream, UP, faults, scope)
                    nursery.start_soon(self._pump, upstream, client, DOWN, faults, scope)
            finally:
                self._links.discard(scope)
        for stream in (client, upstream):
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)

    @staticmethod
    async def _pump(
        src: trio.SocketStream,
        dst: trio.SocketStream,
        direction: str,
        faults: LinkFaults,
        scope: trio.CancelScope,
    ) -> None:
        try:
            while data := await src.receive_some(65536):
                for action in faults.feed(direction, data, time.monotonic()):
                    if isinstance(action, Send):
                        await dst.send_all(action.data)
                    elif isinstance(action, Sleep):
                        await trio.sleep(action.seconds)
                    else:
                        scope.cancel()
                        return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        scope.cancel()
