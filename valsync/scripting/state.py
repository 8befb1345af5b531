"""The scripting state of one server: the EVAL interpreter and cache, and the running script."""

from __future__ import annotations

from collections.abc import Callable

from valsync.scripting.engine import LuaEngine, ScriptRun
from valsync.scripting.functions import FunctionLibraries
from valsync.scripting.rand48 import Rand48
from valsync.scripting.scripts import ScriptCache


class ScriptingState:
    def __init__(self, log: Callable[[str, str], None] | None = None) -> None:
        self.log = log
        self._engine: LuaEngine | None = None
        self.rand = Rand48()
        """Valkey's one rand48 state behind math.random, shared by EVAL and functions."""
        self.cache = ScriptCache()
        self.functions = FunctionLibraries(self._new_function_engine)
        self.running: ScriptRun | None = None
        """The script (EVAL or FCALL) executing now; other clients wait or get -BUSY."""
        self.running_argv: list[bytes] = []
        self.running_from_primary = False
        self.waiters: list[Callable[[], None]] = []
        """Called when the running script ends (clients that wait to run a command)."""

    @property
    def engine(self) -> LuaEngine:
        if self._engine is None:
            self._engine = LuaEngine(self.log)
            self._engine.rand = self.rand
        return self._engine

    def _new_function_engine(self) -> LuaEngine:
        engine = LuaEngine(self.log, function_mode=True)
        engine.rand = self.rand
        return engine

    def end_run(self) -> None:
        self.running = None
        self.running_argv = []
        waiters, self.waiters = self.waiters, []
        for wake in waiters:
            wake()

    def reset_eval(self) -> None:
        """SCRIPT FLUSH: a fresh interpreter and an empty cache."""
        self.cache.clear()
        self._engine = None
