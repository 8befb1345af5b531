"""Assembles a Server with its persistence and replication services, and runs it under trio."""

from __future__ import annotations

import gc
import os
import socket

import trio

from valsync import banner
from valsync.config import Config
from valsync.heap import release_free_memory
from valsync.log import ServerLog
from valsync.net.server_loop import run_server
from valsync.server import Server
from valsync.shutdown import ShutdownRequest

GC_YOUNG_THRESHOLD = 10_000


def build_server(config: Config, log: ServerLog) -> Server:
    """Create the server; load the dump at start (refusing to start on a corrupt one)."""
    server = Server(config, log)
    pid = os.getpid()
    port = config.get_int("port")
    log.notice("oO0OoO0OoO0Oo valsync is starting oO0OoO0OoO0Oo")
    log.notice(banner.version_line(pid))
    log.notice("Configuration loaded")
    if config.get_bool("always-show-logo"):
        log.raw_write(banner.logo(port, pid))
    else:
        log.notice(banner.running_mode_line(port))
    acl_error = server.load_users()
    if acl_error is not None:
        log.warning(acl_error)
        raise SystemExit(1)
    from valsync.net.rdb_child import RdbChildManager
    from valsync.persistence import Persistence

    server.persistence = Persistence(server, RdbChildManager)
    server.loading = server.persistence.has_dump()  # loaded once listening (-LOADING meanwhile)
    from valsync.net.replication import ReplicationService

    server.repl = ReplicationService(server)
    from valsync.net.exchange import run_exchange_blocking

    server.blocking_exchange = run_exchange_blocking
    _adjust_oom_score(server)
    _tune_gc()
    # the start's transient objects (the command table read for the ACL catalog) go back
    release_free_memory()
    return server


def _tune_gc() -> None:
    """The commands' own objects (argv lists, replies) are rarely cyclic: the cyclic
    collector runs every 10,000 new containers instead of 700, and the objects of the
    startup (modules, functions, tables) are never scanned again. A replica applying 300,000
    SETs spent a fifth of its CPU time in the collector with the defaults."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _adjust_oom_score(server: Server) -> None:
    from valsync.oom_score import BGCHILD, OomScoreAdj

    repl = server.repl
    oom = OomScoreAdj(server.config, lambda: repl is not None and repl.is_replica)
    server.config.on_change("oom-score-adj", oom.apply_for_config)
    server.config.on_change("oom-score-adj-values", oom.apply_for_config)
    server.role_listeners.append(oom.apply_quietly)
    server.persistence.children.in_child = lambda: oom.apply_quietly(BGCHILD)
    oom.apply_quietly()


async def run(
    server: Server, dashboard: bool = False, sockets: list[socket.socket] | None = None
) -> None:
    if not dashboard:
        await run_server(server, sockets)
        return
    from valsync.dashboard import run_dashboard

    async with trio.open_nursery() as nursery:

        async def serve(*, task_status: trio.TaskStatus[object] = trio.TASK_STATUS_IGNORED) -> None:
            await run_server(server, sockets, task_status=task_status)
            # SHUTDOWN or a signal ended the server: the view goes with it
            nursery.cancel_scope.cancel()

        await nursery.start(serve)
        port = server.config.get_int("port")
        nursery.start_soon(_dashboard_then_shutdown, server, port, run_dashboard)


async def _dashboard_then_shutdown(server: Server, port: int, run_dashboard: object) -> None:
    assert callable(run_dashboard)
    try:
        await run_dashboard([("127.0.0.1", port)])
    finally:
        server.shutdown_requested = server.shutdown_requested or ShutdownRequest()
