"""The incremental fsync wrapper writes every byte in order and syncs block by block."""

from __future__ import annotations

from pathlib import Path

from valsync.rdb.autosync import AutosyncWriter


def test_autosync_writes_everything_and_syncs_whole_blocks(tmp_path: Path) -> None:
    path = tmp_path / "dump.rdb"
    chunks = [bytes([i % 251]) * (i * 37 % 900 + 1) for i in range(400)]
    with open(path, "wb") as f:
        writer = AutosyncWriter(f, every=4096)
        for chunk in chunks:
            writer.write(chunk)
    total = sum(map(len, chunks))
    assert path.read_bytes() == b"".join(chunks)
    assert writer.written == total
    assert writer.synced == total - total % 4096
