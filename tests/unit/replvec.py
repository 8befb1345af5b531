"""Access to the captured replication vectors copied under ``tests/vectors/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from valsync.resp.request import Request, RequestParser

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def vec(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


def meta(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def names(pattern: str) -> list[str]:
    return sorted(str(p.relative_to(VECTORS)) for p in VECTORS.glob(pattern))


def frame_all(data: bytes) -> list[Request]:
    """Every command in ``data`` (multibulk or inline), in order."""
    parser = RequestParser()
    parser.feed(data)
    out = []
    while (req := parser.next()) is not None:
        out.append(req)
    return out


def line_end(data: bytes, prefix: bytes) -> int:
    """Index just after the line that starts with ``prefix``."""
    start = data.index(prefix)
    return data.index(b"\r\n", start) + 2
