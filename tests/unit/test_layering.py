"""Import rules between layers: the state layer never reaches into the trio shell.

Every import counts, including those under ``if TYPE_CHECKING:`` and inside functions: the
state layer talks to the shell through Protocols (``valsync.replication.control``,
``valsync.rdb.child.RdbChildren``) that the assembler fills in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import valsync

PACKAGE = Path(valsync.__file__).parent


def imported_modules(source: str, package: str) -> set[str]:
    """Absolute names of every module (and imported name) a module of ``package`` imports,
    wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offending(path: Path, forbidden: str, package: str | None = None) -> list[str]:
    if package is None:
        module = "valsync." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = imported_modules(path.read_text(), package)
    return sorted(name for name in names if within(name, forbidden))


STATE_MODULES = ["server.py", "persistence.py"]
SANS_IO_PACKAGES = ["replication", "rdb", "resp", "keyspace"]


@pytest.mark.parametrize("name", STATE_MODULES)
def test_state_modules_import_nothing_from_net(name: str) -> None:
    assert offending(PACKAGE / name, "valsync.net") == []


def test_propagation_imports_nothing_from_commands() -> None:
    assert offending(PACKAGE / "replication" / "propagation.py", "valsync.commands") == []


@pytest.mark.parametrize("package", SANS_IO_PACKAGES)
def test_sans_io_packages_import_no_shell_commands_or_server(package: str) -> None:
    paths = sorted((PACKAGE / package).rglob("*.py"))
    assert paths
    bad = {
        str(path.relative_to(PACKAGE)): found
        for path in paths
        if (
            found := [
                name
                for forbidden in ("valsync.net", "valsync.commands", "valsync.server")
                for name in offending(path, forbidden)
            ]
        )
    }
    assert bad == {}


def test_the_checker_sees_type_checking_and_relative_imports(tmp_path: Path) -> None:
    """The rule would be empty if the walk missed the import forms it is about."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from valsync.net.replication import ReplicationService\n"
        "def f():\n"
        "    from ..commands import context\n"
        "    import valsync.net.rdb_child\n"
    )
    assert offending(probe, "valsync.net", "valsync.replication") == [
        "valsync.net.rdb_child",
        "valsync.net.replication",
        "valsync.net.replication.ReplicationService",
    ]
    assert offending(probe, "valsync.commands", "valsync.replication") == [
        "valsync.commands",
        "valsync.commands.context",
    ]
