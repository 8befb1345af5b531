"""The TCP listening sockets, opened with the plain ``socket`` module before the heavy imports.

Valkey is listening a few milliseconds after exec; valsync needs a second or more to import
its command tables (several under load). Opening the sockets first lets a client that connects
meanwhile (a test harness's PING, a Sentinel) wait in the accept queue for its answer instead
of being refused. The trio shell adopts the sockets once it runs.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

LISTEN_BACKLOG = 511
WILDCARDS = {"*": "0.0.0.0", "::*": "::"}


def _bind_host(host: str, port: int) -> list[socket.socket]:
    """Every address ``host`` resolves to, as ``trio.open_tcp_listeners`` binds them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    opened: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in infos:
            sock = socket.socket(family, kind, proto)
            opened.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
    except OSError:
        for sock in opened:
            sock.close()
        raise
    return opened


def open_tcp_sockets(port: int, bind: str, warn: Callable[[str], None]) -> list[socket.socket]:
    """The ``bind`` directive's addresses on ``port``: a ``-`` address may be missing (a
    warning), an empty ``bind`` opens none, as in Valkey; port 0 picks one port for all."""
    sockets: list[socket.socket] = []
    try:
        for spec in bind.split():
            optional = spec.startswith("-")
            host = spec.lstrip("-")
            try:
                sockets.extend(_bind_host(WILDCARDS.get(host, host), port))
            except OSError as err:
                if not optional:
                    raise
                warn(f"Could not create server TCP listening socket {spec}:{port}: {err}")
            if port == 0 and sockets:
                port = sockets[0].getsockname()[1]
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def open_unix_socket(path: str, directory: str, perm: int) -> socket.socket:
    """``unixsocket`` (relative to ``dir``): a stale file at the path is removed first, as
    Valkey does; ``unixsocketperm`` when set. Opened early too: a client that read the startup
    lines may connect to it at once (the suite's valkey-cli after a restart without TCP)."""
    full = path if os.path.isabs(path) else os.path.join(directory, path)
    try:
        os.unlink(full)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(full)
        if perm:
            os.chmod(full, perm)
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock
