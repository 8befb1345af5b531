"""valsync: a Valkey-compatible server in Python, built around Valkey's replication protocol."""

from pathlib import Path

__version__ = "0.1.0"
VALKEY_COMPAT_VERSION = "8.1.8"


def refuse_stale_compiled(package: Path) -> None:
    """A mypyc-built module (``make``; mypyc-modules.txt) shadows its .py: never run one
    older than its source, which would silently run code that is no longer there."""
    for so in package.glob("*/*.so"):
        py = so.with_name(so.name.split(".", 1)[0] + ".py")
        if py.exists() and py.stat().st_mtime > so.stat().st_mtime:
            raise ImportError(
                f"{so} is older than {py.name}: run `make build` to recompile, "
                "or `make clean-compiled` for pure Python"
            )


refuse_stale_compiled(Path(__file__).parent)
