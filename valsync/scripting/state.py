"""The scripting state of one server: the EVAL interpreter and cache, and the running script."""

from __future__ import annotations

from collections.abc import Callable

from valsync.scripting.engine import LuaEngine, ScriptRun
from valsync.scripting.scripts import ScriptCache


class ScriptingState:
    def __init__(self, log: Callable[[str, str], None] | None = None) -> None:
        self.log = log
        self._engine: LuaEngine | None = None
        self.cache = ScriptCache()
        self.running: ScriptRun | None = None
        """The script (EVAL or FCALL) executing now; other clients wait or get -BUSY."""
        self.running_write_dirty = False
        self.running_from_primary = False

    @property
    def engine(self) -> LuaEngine:
        if self._engine is None:
            self._engine = LuaEngine(self.log)
        return self._engine

    def reset_eval(self) -> None:
        """SCRIPT FLUSH: a fresh interpreter and an empty cache (the rand48 state stays)."""
        rand = self._engine.rand if self._engine is not None else None
        self.cache.clear()
        self._engine = None
        if rand is not None:
            self.engine.rand = rand
