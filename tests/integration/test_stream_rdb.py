"""Streams in RDB files, across real valkey-server 8.1.8 / 9.1.2 and valsync.

A real server builds streams with consumer groups, pending entries, tombstones and several
nodes, and saves; valsync starts on that dump, must show the same DEBUG DIGEST and the same
XINFO STREAM FULL (every time in it comes from the file), and saves again; both real
versions start on valsync's dump and must show the same again. The other way round, valsync
builds the streams and real servers load its dump.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import valkey

from tests.integration.support import (
    STREAM_KEYS,
    digest,
    populate_streams,
    raw_client,
    stream_traffic,
    stream_views,
)
from tests.realvalkey import ServerProcess, start_valkey, start_valsync


def _full(c: valkey.Valkey) -> dict[str, Any]:
    view = stream_views(c)
    for key in STREAM_KEYS:
        view[key + ":full"] = c.execute_command("XINFO", "STREAM", key, "FULL", "COUNT", "0")
    view["digest"] = digest(c)
    return view


def _saved(server: ServerProcess, into: Path) -> Path:
    c = raw_client(server)
    assert c.execute_command("SAVE") in (b"OK", "OK", True)
    into.mkdir()
    shutil.copy(server.dir / "dump.rdb", into / "dump.rdb")
    return into


def _start(kind: str, where: Path) -> ServerProcess:
    if kind == "valsync":
        return start_valsync("--enable-debug-command", "yes", "--dbfilename", "dump.rdb", dir=where)
    return start_valkey(kind, "--dbfilename", "dump.rdb", dir=where)


@pytest.mark.parametrize("origin", ["8.1.8", "9.1.2", "valsync"])
def test_stream_dumps_load_everywhere(
    servers: list[ServerProcess], tmp_path: Path, origin: str
) -> None:
    source = (
        start_valsync("--enable-debug-command", "yes")
        if origin == "valsync"
        else start_valkey(origin)
    )
    servers.append(source)
    c = raw_client(source)
    populate_streams(c)
    stream_traffic(c, source.port)
    expected = _full(c)
    dump_dir = _saved(source, tmp_path / "from-origin")
    loaders = ["valsync", "8.1.8", "9.1.2"] if origin != "valsync" else ["8.1.8", "9.1.2"]
    for n, kind in enumerate(loaders):
        where = tmp_path / f"load-{n}-{kind}"
        shutil.copytree(dump_dir, where)
        server = _start(kind, where)
        servers.append(server)
        assert _full(raw_client(server)) == expected, kind
        if kind == "valsync":
            dump_dir = _saved(server, tmp_path / "from-valsync")
