"""The root of the trio task tree: listeners, client tasks, cron, signals, shutdown."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import trio

from valsync.config import ConfigError
from valsync.net.connection import serve_connection
from valsync.net.listening import open_tcp_sockets, open_unix_socket
from valsync.rdb.format import RdbError
from valsync.shutdown import ShutdownRequest

if TYPE_CHECKING:
    from valsync.server import Server

CRON_PERIOD = 0.1  # Valkey's serverCron at the default hz 10


def _bind_tcp(
    port: int, bind: str, warn: Callable[[str], None] | None = None
) -> list[trio.SocketListener]:
    """Listening sockets for ``bind``/``port``, opened synchronously so that a CONFIG SET can
    fail (and roll back) before it replies (see ``listening.open_tcp_sockets``)."""
    sockets = open_tcp_sockets(port, bind, warn or (lambda _line: None))
    return _adopt(sockets)


def _adopt(sockets: list[socket.socket]) -> list[trio.SocketListener]:
    return [trio.SocketListener(trio.socket.from_stdlib_socket(sock)) for sock in sockets]


class TcpListeners:
    """The TCP listeners, re-opened by ``CONFIG SET port`` / ``bind`` while the clients
    already connected stay (their tasks belong to the server's nursery, not to these)."""

    def __init__(self, server: Server, nursery: trio.Nursery, listeners: list[trio.SocketListener]):
        self.server = server
        self.nursery = nursery
        self.listeners = listeners
        self._mark_for_children()
        self.scope = trio.CancelScope()
        server.config.on_change(
            "port", partial(self._rebind, "Unable to listen on this port. Check server logs.")
        )
        server.config.on_change(
            "bind", partial(self._rebind, "Failed to bind to specified addresses.")
        )

    def _mark_for_children(self) -> None:
        """A forked child must not keep the port bound after we exit."""
        persistence = self.server.persistence
        if persistence is not None:
            persistence.listener_fds = [ln.socket.fileno() for ln in self.listeners]

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with self.scope:
            task_status.started()
            if not self.listeners:
                await trio.sleep_forever()
            await trio.serve_listeners(
                partial(serve_connection, self.server), self.listeners, handler_nursery=self.nursery
            )

    def _rebind(self, reason: str, _text: str) -> None:
        cfg = self.server.config
        try:
            fresh = _bind_tcp(cfg.get_int("port"), cfg.get_str("bind"))
        except OSError as err:
            self.server.log.warning(f"Failed listening on port {cfg.get_int('port')} (tcp): {err}")
            raise ConfigError(reason) from None
        old_scope, old = self.scope, self.listeners
        self.scope = trio.CancelScope()
        self.listeners = fresh
        self._mark_for_children()
        old_scope.cancel()
        for listener in old:
            listener.socket.close()
        self.nursery.start_soon(self.serve)

    def close_now(self) -> None:
        """SHUTDOWN: stop accepting at once, as Valkey closes its listening sockets before
        the client that asked sees its connection end."""
        self.scope.cancel()
        for listener in self.listeners:
            listener.socket.close()
        self.listeners = []


def _unix_listener(server: Server, sock: socket.socket | None) -> list[trio.SocketListener]:
    """The ``unixsocket`` listener: the socket the command line opened, else opened now."""
    cfg = server.config
    path = cfg.get_str("unixsocket")
    if not path:
        return []
    if sock is None:
        sock = open_unix_socket(path, cfg.get_str("dir"), cfg.get_int("unixsocketperm"))
    server.log.notice(f"The server is now ready to accept connections at {sock.getsockname()}")
    return _adopt([sock])


class ShutdownBell:
    """Rung by SHUTDOWN and by the cron once a signal asked; re-armed when the final save
    fails and the shutdown is cancelled."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def ring(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()

    def rearm(self) -> None:
        self._event = trio.Event()


async def _cron(server: Server, nursery: trio.Nursery, done: ShutdownBell) -> None:
    ticks = 0
    while True:
        await trio.sleep(CRON_PERIOD)
        ticks += 1
        if server.cron_paused:
            continue  # a signal's shutdown waits too (SHUTDOWN ABORT can still cancel it)
        server.stats.sample_instantaneous(time.monotonic_ns() // 1000)
        started = time.perf_counter_ns()
        server.active_expire_cycle()
        server.latency_sample("expire-cycle", (time.perf_counter_ns() - started) // 1000)
        server.memory.cron()
        if server.repl is not None:
            server.repl.fast_cron()
            if ticks % 10 == 0:
                server.repl.cron()
        if ticks % 10 == 0:
            server.migrate_sockets.close_idle()
        if server.persistence is not None:
            server.persistence.cron()
        if server.scripting.debug_children:
            server.scripting.reap_debug_children()
        server.stats.record_cycle((time.perf_counter_ns() - started) // 1000 or 1, cron=True)
        if server.shutdown_requested is not None:
            done.ring()


async def _signals(server: Server) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
            server.log.warning(f"Received {name} scheduling shutdown...")
            # taken up by the cron, as Valkey's serverCron takes shutdown_asap
            flags = server.config.get_str("shutdown-on-" + name.lower())
            server.shutdown_requested = server.shutdown_requested or ShutdownRequest.from_config(
                flags, signum
            )


def _log_corrupt_dump(server: Server, err: RdbError) -> None:
    """Valkey's lines for a dump that fails to load (rdbReportCorruptRDB, then exit)."""
    log = server.log
    reason = err.reason
    if reason.startswith("bad checksum: "):
        log.warning(f"{reason.removeprefix('bad checksum: ')}. Aborting now.")
        reason = "RDB CRC error"
    log.warning(
        f"Internal error in RDB reading offset {max(err.offset, 0)}, function at rdb.c:0 -> "
        f"{reason}"
    )
    log.warning("Terminating server after rdb file reading failure.")
    log.warning(f"Fatal error loading the DB, check server logs. Exiting. ({err})")


async def _load_dump(server: Server) -> bool:
    """The dump at start, decoded in a worker thread while clients get -LOADING (Valkey
    listens before it loads); False when it is corrupt: the server must not start."""
    persistence = server.persistence
    if persistence is None or not persistence.has_dump():
        server.loading = False
        return True
    started = time.monotonic()
    server.loading = True
    try:
        result = await trio.to_thread.run_sync(persistence.read_dump)
    except RdbError as err:
        _log_corrupt_dump(server, err)
        return False
    except OSError as err:
        server.log.warning(f"Fatal error loading the DB, check server logs. Exiting. ({err})")
        return False
    persistence.adopt_dump(result, started)
    server.loading = False
    return True


async def run_server(
    server: Server,
    sockets: list[socket.socket] | None = None,
    *,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until SHUTDOWN or a signal; the nursery owns every task. ``sockets``: the TCP
    sockets the command line opened before the heavy imports (else opened here)."""
    cfg = server.config
    unix_socks = [s for s in sockets or [] if s.family == socket.AF_UNIX]
    if sockets is None:
        listeners = _bind_tcp(cfg.get_int("port"), cfg.get_str("bind"), server.log.warning)
    else:
        listeners = _adopt([s for s in sockets if s.family != socket.AF_UNIX])
    unix = _unix_listener(server, unix_socks[0] if unix_socks else None)
    # only once bound, as Valkey: harnesses connect as soon as they read this line
    server.log.notice("Server initialized")
    done = ShutdownBell()
    loaded = True
    async with trio.open_nursery() as nursery:
        server.nursery = nursery
        tcp = TcpListeners(server, nursery, listeners)
        server.shutdown_listeners.append(tcp.close_now)
        server.shutdown_listeners.append(done.ring)
        await nursery.start(tcp.serve)
        if unix:
            nursery.start_soon(
                partial(
                    trio.serve_listeners,
                    partial(serve_connection, server),
                    unix,
                    handler_nursery=nursery,
                )
            )
        nursery.start_soon(_cron, server, nursery, done)
        nursery.start_soon(_signals, server)
        loaded = await _load_dump(server)
        if loaded:
            if server.repl is not None:
                server.repl.resume_from_dump()
                await server.repl.start(nursery)
            if server.persistence is not None:
                await server.persistence.start(nursery)
            ports = [
                ln.socket.getsockname()[1] for ln in listeners if ln.socket.family != socket.AF_UNIX
            ]
            server.log.notice(
                f"Ready to accept connections tcp (port {ports[0] if ports else '?'})"
            )
            task_status.started(listeners + unix)
            while True:
                await done.wait()
                if await server.prepare_shutdown():
                    break
                done.rearm()
        nursery.cancel_scope.cancel()
    if not loaded:
        raise SystemExit(1)
