"""valsync refuses to import a mypyc-built module older than its source (mypyc-modules.txt)."""

import os
from pathlib import Path

import pytest

from valsync import refuse_stale_compiled


def test_a_module_edited_after_its_build_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rdb").mkdir()
    py = tmp_path / "rdb" / "writer.py"
    so = tmp_path / "rdb" / "writer.cpython-311-x86_64-linux-gnu.so"
    py.write_text("")
    so.write_bytes(b"")
    os.utime(py, (1000, 1000))
    os.utime(so, (2000, 2000))
    refuse_stale_compiled(tmp_path)
    os.utime(py, (3000, 3000))
    with pytest.raises(ImportError, match="older than writer.py"):
        refuse_stale_compiled(tmp_path)


def test_a_shared_library_without_a_source_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "rdb").mkdir()
    (tmp_path / "rdb" / "helper.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    refuse_stale_compiled(tmp_path)
