"""``extended-redis-compatibility`` (Valkey 8.x): with it on, HELLO answers as Redis 7.2.4,
INFO says ``redis_mode`` and the shared LOADING/BUSY/MISCONF errors name Redis, so clients
that check for Redis keep working."""

from __future__ import annotations

REDIS_VERSION = "7.2.4"
_SHARED_ERROR_PREFIXES = ("LOADING Valkey ", "BUSY Valkey ", "MISCONF Valkey ")


def server_name(compat: bool) -> bytes:
    return b"redis" if compat else b"valkey"


def mode_field(compat: bool) -> str:
    return "redis_mode" if compat else "server_mode"


def shared_error(text: str, compat: bool) -> str:
    """Valkey's shared error strings, with the server named as the setting says."""
    if compat and text.startswith(_SHARED_ERROR_PREFIXES):
        return text.replace("Valkey", "Redis")
    return text
