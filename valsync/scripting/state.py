"""The scripting state of one server: the EVAL interpreter and cache, and the running script."""

from __future__ import annotations

import os
import signal
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
        self.debugging = False
        """The running script is under the Lua debugger: the server serves nobody else."""
        self.waiters: list[Callable[[], None]] = []
        """Called when the running script ends (clients that wait to run a command)."""
        self.debug_children: dict[int, list[int]] = {}
        """Forked debugging sessions (SCRIPT DEBUG YES): pid -> descriptors to close once
        the child is reaped."""

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

    def info_memory_lines(self) -> list[str]:
        """The scripting lines of INFO memory, with Valkey's names."""
        lua = self.engine.memory()
        libraries = self.functions
        vm_functions = libraries.engine.memory()
        eval_bytes = self.cache.memory()
        function_bytes = sum(len(lib.code) + 64 for lib in libraries.libraries.values())
        return [
            f"used_memory_lua:{lua}",
            f"used_memory_vm_eval:{lua}",
            f"used_memory_lua_human:{bytes_to_human(lua)}",
            f"used_memory_scripts_eval:{eval_bytes}",
            f"number_of_cached_scripts:{len(self.cache.scripts)}",
            f"number_of_functions:{len(libraries.functions)}",
            f"number_of_libraries:{len(libraries.libraries)}",
            f"used_memory_vm_functions:{vm_functions}",
            f"used_memory_vm_total:{lua + vm_functions}",
            f"used_memory_vm_total_human:{bytes_to_human(lua + vm_functions)}",
            f"used_memory_functions:{function_bytes}",
            f"used_memory_scripts:{eval_bytes + function_bytes}",
            f"used_memory_scripts_human:{bytes_to_human(eval_bytes + function_bytes)}",
        ]

    def reap_debug_children(self) -> None:
        """Collect the debugging children that exited (from the server's cron)."""
        for pid in list(self.debug_children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self._forget_child(pid)

    def kill_debug_children(self) -> None:
        """At shutdown, as Valkey: every forked debugging session is killed."""
        for pid in list(self.debug_children):
            if self.log is not None:
                self.log("notice", f"Killing debugging session {pid}")
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self._forget_child(pid)

    def _forget_child(self, pid: int) -> None:
        for fd in self.debug_children.pop(pid, []):
            try:
                os.close(fd)
            except OSError:
                pass

    def end_run(self) -> None:
        self.running = None
        self.debugging = False
        self.running_argv = []
        waiters, self.waiters = self.waiters, []
        for wake in waiters:
            wake()

    def reset_eval(self) -> None:
        """SCRIPT FLUSH: a fresh interpreter and an empty cache."""
        self.cache.clear()
        self._engine = None


def bytes_to_human(n: int) -> str:
    """Valkey's ``bytesToHuman``: B, K, M, G with two decimals."""
    if n < 1024:
        return f"{n}B"
    for unit, size in (("K", 1024), ("M", 1024**2), ("G", 1024**3), ("T", 1024**4)):
        if n < size * 1024 or unit == "T":
            return f"{n / size:.2f}{unit}"
    return f"{n}B"
