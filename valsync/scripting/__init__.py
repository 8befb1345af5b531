"""Lua scripting: the sandboxed interpreter, its API and the Lua <-> RESP conversions."""

from valsync.scripting.engine import LuaEngine, ScriptKilled, ScriptRun

__all__ = ["LuaEngine", "ScriptKilled", "ScriptRun"]
