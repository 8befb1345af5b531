"""The ``valsync`` command: ``serve``, ``dashboard`` and ``rdb check|dump``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

USAGE = """usage: valsync serve [CONFIGFILE] [--DIRECTIVE VALUE ...] [--dashboard]
       valsync dashboard [HOST:PORT ...] [--once] [--hz N]
       valsync rdb check FILE
       valsync rdb dump FILE
"""


def serve(argv: list[str]) -> int:
    from valsync.config import Config, ConfigError
    from valsync.log import ServerLog
    from valsync.net.listening import open_tcp_sockets, open_unix_socket

    dashboard = False
    if "--dashboard" in argv:
        argv = [a for a in argv if a != "--dashboard"]
        dashboard = True
    try:
        config = Config.from_args(argv)
    except ConfigError as err:
        if err.log_line:
            ServerLog().warning(str(err))
        else:
            sys.stderr.write(err.stderr_text)
        return 1
    log = ServerLog(config.get_str("loglevel"), config.logfile_path or "")
    if dashboard and not config.get_str("logfile"):
        # the screen belongs to the dashboard: logs go to <dir>/valsync.log
        log.set_logfile(os.path.join(config.get_str("dir"), "valsync.log"))
    port = config.get_int("port")
    try:
        # listening before the heavy imports: early clients queue instead of being refused
        sockets = open_tcp_sockets(port, config.get_str("bind"), log.warning)
    except OSError as err:
        log.warning(f"Failed listening on port {port} (tcp), aborting: {err}")
        return 1
    unixsocket = config.get_str("unixsocket")
    if unixsocket:
        try:
            sockets.append(
                open_unix_socket(
                    unixsocket, config.get_str("dir"), config.get_int("unixsocketperm")
                )
            )
        except OSError as err:
            log.warning(f"Failed opening Unix socket: {err}")
            return 1
    import trio

    from valsync.app import build_server, run

    try:
        server = build_server(config, log)
    except SystemExit as exc:
        return int(exc.code or 1)
    try:
        trio.run(run, server, dashboard, sockets)
    except KeyboardInterrupt:
        return 0
    except OSError as err:
        log.warning(f"Failed listening on port {port} (tcp), aborting: {err}")
        return 1
    return 0


def rdb_tool(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("check", "dump"):
        sys.stderr.write(USAGE)
        return 2
    from valsync.rdb import tools

    if argv[0] == "check":
        ok, message = tools.check_file(argv[1])
        print(message)
        return 0 if ok else 1
    try:
        for record in tools.dump_file(argv[1]):
            print(json.dumps(record))
    except Exception as err:  # noqa: BLE001 - any failure is the dump's error message
        sys.stderr.write(f"{err}\n")
        return 1
    return 0


def main(args: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if args is None else args)
    if not argv or argv[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "serve":
        return serve(rest)
    if cmd == "dashboard":
        from valsync.dashboard import main_dashboard

        return main_dashboard(rest)
    if cmd == "rdb":
        return rdb_tool(rest)
    if cmd in ("-v", "--version", "version"):
        from valsync import VALKEY_COMPAT_VERSION, __version__

        print(f"valsync {__version__} (Valkey {VALKEY_COMPAT_VERSION} compatible)")
        return 0
    sys.stderr.write(USAGE)
    return 2
