"""The C libraries Valkey links into its Lua: cjson, bit, struct, cmsgpack."""

from __future__ import annotations

from typing import Any


def install_libraries(runtime: Any) -> Any:
    return runtime.table()
