"""The root of the trio task tree: listeners, client tasks, cron, signals, shutdown."""

from __future__ import annotations

import os
import signal
import socket
import time
from functools import partial
from typing import TYPE_CHECKING

import trio

from valsync.net.connection import serve_connection
from valsync.net.listening import open_tcp_sockets
from valsync.rdb.format import RdbError

if TYPE_CHECKING:
    from valsync.server import Server

CRON_PERIOD = 0.1  # Valkey's serverCron at the default hz 10


async def _open_listeners(
    server: Server, sockets: list[socket.socket] | None
) -> list[trio.SocketListener]:
    """Adopt the sockets the command line opened early (see ``listening``), or open them."""
    if sockets is None:
        sockets = open_tcp_sockets(
            server.config.get_int("port"), server.config.get_str("bind"), server.log.warning
        )
    listeners = [trio.SocketListener(trio.socket.from_stdlib_socket(s)) for s in sockets]
    path = server.config.get_str("unixsocket")
    if path:
        listeners.append(await _open_unix_listener(server, path))
    return listeners


async def _open_unix_listener(server: Server, path: str) -> trio.SocketListener:
    """``unixsocket``: a stale file at the path is removed first, as Valkey does."""
    full = path if os.path.isabs(path) else os.path.join(server.config.get("dir"), path)
    try:
        os.unlink(full)
    except FileNotFoundError:
        pass
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind(full)
    perm = server.config.get_int("unixsocketperm")
    if perm:
        os.chmod(full, perm)
    sock.listen(511)
    server.log.notice(f"The server is now ready to accept connections at {full}")
    return trio.SocketListener(sock)


async def _cron(server: Server, nursery: trio.Nursery, done: trio.Event) -> None:
    ticks = 0
    while True:
        await trio.sleep(CRON_PERIOD)
        ticks += 1
        if server.cron_paused and server.shutdown_requested is None:
            continue
        server.stats.sample_instantaneous(time.monotonic_ns() // 1000)
        started = time.perf_counter_ns()
        server.active_expire_cycle()
        server.latency_sample("expire-cycle", (time.perf_counter_ns() - started) // 1000)
        if server.repl is not None:
            server.repl.fast_cron()
            if ticks % 10 == 0:
                server.repl.cron()
        if server.persistence is not None:
            server.persistence.cron()
        if server.shutdown_requested is not None:
            done.set()
            return


async def _signals(server: Server, done: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
            server.log.warning(f"Received {name} scheduling shutdown...")
            server.shutdown_requested = server.shutdown_requested or "default"
            done.set()
            return


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
    except (RdbError, OSError) as err:
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
    """Serve until SHUTDOWN or a signal; the nursery owns every task."""
    listeners = await _open_listeners(server, sockets)
    if server.persistence is not None:
        # a forked child must not keep the port bound after we exit
        server.persistence.listener_fds = [ln.socket.fileno() for ln in listeners]
    done = trio.Event()
    loaded = True
    async with trio.open_nursery() as nursery:
        server.nursery = nursery
        nursery.start_soon(
            partial(trio.serve_listeners, partial(serve_connection, server), listeners)
        )
        nursery.start_soon(_cron, server, nursery, done)
        nursery.start_soon(_signals, server, done)
        loaded = await _load_dump(server)
        if loaded:
            if server.repl is not None:
                server.repl.resume_from_dump()
                await server.repl.start(nursery)
            if server.persistence is not None:
                await server.persistence.start(nursery)
            ports = [ln.socket.getsockname()[1] for ln in listeners]
            server.log.notice(
                f"Ready to accept connections tcp (port {ports[0] if ports else '?'})"
            )
            task_status.started(listeners)
            await done.wait()
            await server.prepare_shutdown()
        nursery.cancel_scope.cancel()
    if not loaded:
        raise SystemExit(1)
