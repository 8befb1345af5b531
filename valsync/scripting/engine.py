"""The Lua interpreter of valsync: one lupa (Lua 5.1) runtime, sandboxed as Valkey's.

Theory of operation: :class:`LuaEngine` owns a runtime whose globals were arranged by
``sandbox.lua`` (protected tables, Valkey's global list, the ``server``/``redis`` API). The
host side of the API lives here: each Lua-visible host function returns ``(ok, value)`` and
the Lua wrapper raises when ``ok`` is false, so no Python exception ever crosses into Lua.

A script runs under a :class:`ScriptRun`, which the caller (the command layer) fills with the
policy of this run and a ``execute`` callback that runs one command for ``server.call``. The
engine converts arguments and replies (:mod:`valsync.scripting.conversion`) and shapes errors
as Valkey: ``<message> script: <sha>, on @user_script:<line>.``
"""

from __future__ import annotations

import hashlib
import math
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import lupa.lua51 as lua51

from valsync.resp import encode
from valsync.resp.reply import ErrorReply, Reply
from valsync.scripting.bytecode import BytecodeError, untail
from valsync.scripting.conversion import (
    ArgumentError,
    LuaBuilder,
    error_fields,
    error_reply_bytes,
    lua_args_to_argv,
    lua_to_reply,
)
from valsync.scripting.debugger import DebuggerError, LuaDebugger
from valsync.scripting.rand48 import LRAND48_MAX, Rand48
from valsync.scripting.scripts import SCRIPT_FLAGS

VALKEY_VERSION = b"8.1.8"
VALKEY_VERSION_NUM = 0x080108
REDIS_VERSION = b"7.2.4"
REDIS_VERSION_NUM = 0x070204

PROPAGATE_AOF = 1
PROPAGATE_REPL = 2

# Valkey's log levels as scripts number them (server.LOG_*).
LOG_LEVELS = {0: "debug", 1: "verbose", 2: "notice", 3: "warning"}

# The instruction count between two checks of a running script (Valkey's count hook).
HOOK_INSTRUCTIONS = 100_000

# Every so many runs a step of garbage collection, so that Lua never needs a full cycle
# in the middle of a script (Valkey's LUA_GC_CYCLE_PERIOD).
GC_CYCLE_PERIOD = 50


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why ``server.call`` did not run a command (``scriptCall``'s checks); no leading ``-``."""

    text: bytes


CommandExecutor = Callable[[list[bytes]], "Reply | Refusal"]
"""Runs one ``server.call`` command: its reply, or the :class:`Refusal` to raise instead."""


class ScriptKilled(Exception):
    """Raised inside the count hook when SCRIPT KILL / FUNCTION KILL asked to stop."""


class LuaRaise(Exception):
    """Raised by a host function to make Lua raise ``value`` (an error table).

    lupa hands the exception to Lua as a userdata; the sandbox's error handler and ``pcall``
    give it to :meth:`LuaEngine._unwrap`, which returns ``value``.
    """

    def __init__(self, value: Any) -> None:
        super().__init__("lua error")
        self.value = value


@dataclass
class ScriptRun:
    """The state of one script execution (Valkey's ``scriptRunCtx``)."""

    funcname: str
    execute: CommandExecutor
    acl_lookup: Callable[[list[bytes]], bool | None]
    eval_mode: bool = True
    resp: int = 2
    repl_flags: int = PROPAGATE_AOF | PROPAGATE_REPL
    start: float = field(default_factory=time.monotonic)
    killed: bool = False
    write_dirty: bool = False
    """A write command ran: SCRIPT KILL can no longer stop the script."""
    on_hook: Callable[[ScriptRun], None] | None = None

    def duration_ms(self) -> int:
        return int((time.monotonic() - self.start) * 1000)


FUNCTION_NAME_ERROR = (
    "Function names can only contain letters, numbers, or underscores(_) and must be at "
    "least one character long"
)


def valid_name(name: bytes) -> bool:
    """``functionsVerifyName``: letters, digits and underscores, at least one."""
    return bool(name) and all(c == 0x5F or chr(c).isascii() and chr(c).isalnum() for c in name)


@dataclass
class RegisteredFunction:
    name: bytes
    callback: Any
    description: bytes | None
    flags: frozenset[str]


@dataclass
class LibraryLoad:
    """The functions a library registers while FUNCTION LOAD runs its code."""

    timeout: float
    start: float = field(default_factory=time.monotonic)
    functions: dict[bytes, RegisteredFunction] = field(default_factory=dict)
    """By lower-case name: function names are case-insensitive, as in Valkey."""
    fatal: str | None = None

    def add(
        self, name: bytes, callback: Any, description: bytes | None, flags: frozenset[str]
    ) -> str | None:
        if not valid_name(name):
            return FUNCTION_NAME_ERROR
        if name.lower() in self.functions:
            return "Function already exists in the library"
        self.functions[name.lower()] = RegisteredFunction(name, callback, description, flags)
        return None


def _lua_tostring(value: Any) -> bytes | None:
    """``lua_tolstring``: strings as they are, numbers printed with ``%.14g``."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number_to_lua_string(value)
    return None


def number_to_lua_string(value: int | float) -> bytes:
    if isinstance(value, float):
        if math.isnan(value):
            return b"nan" if math.copysign(1.0, value) > 0 else b"-nan"
        if math.isinf(value):
            return b"inf" if value > 0 else b"-inf"
    return (b"%.14g" % value).replace(b"e+", b"e+")


def _lua_tonumber(value: Any) -> float | None:
    """``lua_tonumber``: numbers, and strings that read as numbers (else None)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, bytes):
        text = value.strip()
        try:
            if text.lower().startswith((b"0x", b"-0x", b"+0x")):
                return float(int(text, 16))
            return float(text)
        except ValueError:
            return None
    return None


def _c_int(value: float | None) -> int:
    """``(int)`` of a lua_Number (0 when not a number)."""
    if value is None or not math.isfinite(value):
        return 0
    return int(value)


class LuaEngine:
    """A sandboxed Lua 5.1 state with Valkey's scripting API."""

    def __init__(
        self, log: Callable[[str, str], None] | None = None, function_mode: bool = False
    ) -> None:
        self.runtime = lua51.LuaRuntime(
            encoding=None,
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            attribute_filter=_deny_attributes,
        )
        self.log = log
        self.rand = Rand48()
        self.current: ScriptRun | None = None
        self.function_mode = function_mode
        self.loading: LibraryLoad | None = None
        self.debugger: LuaDebugger | None = None
        """The debugging session of the running script (SCRIPT DEBUG), if any."""
        self.builder = LuaBuilder(self.runtime.table)
        self._next = self.runtime.eval(b"next")
        self._gc_count = self.runtime.eval(b"function() return collectgarbage('count') end")
        self._gc_step = self.runtime.eval(b"function(n) collectgarbage('step', n) end")
        self._runs = 0
        self._null = self.runtime.eval(b"newproxy()")
        self._where = self.runtime.execute(
            b"local getinfo = debug.getinfo "
            b"return function(level) local i = getinfo(level, 'Sl') "
            b"if i and i.currentline > 0 then return i.short_src .. ':' .. i.currentline .. ': ' "
            b"end return '' end"
        )
        sandbox = resources.files("valsync.scripting").joinpath("sandbox.lua").read_bytes()
        loader = self.runtime.eval(b"function(src) return loadstring(src, '=valsync') end")
        self._sandbox = loader(sandbox)
        self.api = self._sandbox(self._host_table())
        self._rawget = self.api[b"rawget"]
        # what building the sandbox left behind is not the scripts' memory
        self.runtime.eval(b"collectgarbage('collect')")

    # --- the host half of the API ---------------------------------------------------------

    def _host_table(self) -> Any:
        rt = self.runtime
        api = rt.table()
        for name, value in (
            (b"REDIS_VERSION_NUM", REDIS_VERSION_NUM),
            (b"REDIS_VERSION", REDIS_VERSION),
            (b"VALKEY_VERSION_NUM", VALKEY_VERSION_NUM),
            (b"VALKEY_VERSION", VALKEY_VERSION),
            (b"SERVER_NAME", b"valkey"),
            (b"LOG_DEBUG", 0),
            (b"LOG_VERBOSE", 1),
            (b"LOG_NOTICE", 2),
            (b"LOG_WARNING", 3),
            (b"REPL_NONE", 0),
            (b"REPL_AOF", PROPAGATE_AOF),
            (b"REPL_SLAVE", PROPAGATE_REPL),
            (b"REPL_REPLICA", PROPAGATE_REPL),
            (b"REPL_ALL", PROPAGATE_AOF | PROPAGATE_REPL),
        ):
            api[name] = value
        host = rt.table()
        host[b"api"] = api
        host[b"libraries"] = self._libraries()
        host[b"call"] = self._call
        host[b"call_packed"] = lambda table, n: self._call(*self._unpack(table, n))
        host[b"pcall_packed"] = lambda table, n: self._pcall(*self._unpack(table, n))
        host[b"untail"] = _untail
        host[b"pcall"] = self._pcall
        host[b"sha1hex"] = self._sha1hex
        host[b"setresp"] = self._setresp
        host[b"set_repl"] = self._set_repl
        host[b"log"] = self._log
        host[b"acl_check_cmd"] = self._acl_check_cmd
        host[b"error_reply"] = self._error_reply
        host[b"status_reply"] = self._status_reply
        host[b"math_random"] = self._math_random
        host[b"math_randomseed"] = self._math_randomseed
        host[b"function_mode"] = self.function_mode
        host[b"register_function"] = self._register_function
        host[b"load_hook"] = self._load_hook
        host[b"hook"] = self._hook
        host[b"unwrap"] = self._unwrap
        host[b"killed_error"] = lambda message: self.builder.error_table(message)
        host[b"ldb_line"] = self._ldb_line
        host[b"ldb_debug"] = self._ldb_debug
        host[b"ldb_breakpoint"] = self._ldb_breakpoint
        return host

    def _libraries(self) -> Any:
        from valsync.scripting.libraries import install_libraries

        return install_libraries(self.runtime, self._null, self._items, self.raise_at_caller)

    def memory(self) -> int:
        """Bytes the Lua state holds (``used_memory_lua``)."""
        return int(self._gc_count() * 1024)

    def raise_at_caller(self, message: bytes) -> LuaRaise:
        """From a host function: raise ``message`` prefixed with the calling Lua line
        (``luaL_where(L, 1)``: level 3 seen from the probe, past the host function)."""
        where = self._where(3)
        return LuaRaise(where + message if isinstance(where, bytes) else message)

    def _error(self, text: bytes) -> LuaRaise:
        return LuaRaise(self.builder.error_table(text))

    def _unwrap(self, exc: Any) -> Any:
        if isinstance(exc, LuaRaise):
            return exc.value
        if self.log is not None:
            self.log("warning", f"Lua host function failed: {exc!r}")
        return self.builder.error_table(b"ERR internal error in a scripting host function")

    def _unpack(self, table: Any, n: int) -> list[Any]:
        rawget = self._rawget
        return [rawget(table, i) for i in range(1, int(n) + 1)]

    def _call(self, *args: Any) -> Any:
        ok, value = self._call_command(args)
        if not ok:
            raise LuaRaise(value)
        return value

    def _pcall(self, *args: Any) -> Any:
        return self._call_command(args)[1]

    def _call_command(self, args: tuple[Any, ...]) -> tuple[bool, Any]:
        run = self.current
        if run is None:
            return False, self.builder.error_table(b"server.call() needs a running script")
        if not args:
            return False, self.builder.error_table(
                b"Please specify at least one argument for this call"
            )
        debugger = self.debugger
        try:
            argv = lua_args_to_argv(args)
        except ArgumentError:
            if debugger is not None and debugger.logging:
                debugger.log_error(b"Command arguments must be strings or integers")
            return False, self.builder.error_table(b"Command arguments must be strings or integers")
        if debugger is not None and debugger.logging:
            debugger.log_command(argv)
        reply = run.execute(argv)
        if isinstance(reply, Refusal):
            if debugger is not None and debugger.logging:
                debugger.log_error(reply.text)
            return False, self.builder.error_table(reply.text, ignore_stats=True)
        value = self.builder.reply_to_lua(reply, run.resp)
        if debugger is not None and debugger.logging:
            resp = bytearray()
            encode(reply, resp, run.resp)
            if isinstance(reply, ErrorReply):
                debugger.log_error(bytes(resp).rstrip(b"\r\n"))
            debugger.log_reply(bytes(resp))
        if isinstance(reply, ErrorReply):
            return False, value
        return True, value

    # --- the Lua debugger's hooks ----------------------------------------------------------

    def _ldb_line(self, count_event: bool, line: Any, short_src: Any) -> bytes | None:
        """The line hook of a debugged run: the error to raise in the script, if any."""
        debugger = self.debugger
        if debugger is None:
            return None
        try:
            debugger.on_line(bool(count_event), int(line or 0), short_src or b"")
        except DebuggerError as err:
            return err.message
        return None

    def _ldb_debug(self, *args: Any) -> None:
        if self.debugger is not None:
            self.debugger.debug(args)

    def _ldb_breakpoint(self, *args: Any) -> bool:
        return self.debugger is not None and self.debugger.breakpoint()

    def _sha1hex(self, *args: Any) -> Any:
        if len(args) != 1:
            raise self._error(b"wrong number of arguments")
        data = _lua_tostring(args[0]) or b""
        return hashlib.sha1(data).hexdigest().encode()

    def _setresp(self, *args: Any) -> Any:
        if len(args) != 1:
            raise self._error(b"server.setresp() requires one argument.")
        resp = _c_int(_lua_tonumber(args[0]))
        if resp not in (2, 3):
            raise self._error(b"RESP version must be 2 or 3.")
        if self.current is not None:
            self.current.resp = resp
        return None

    def _set_repl(self, *args: Any) -> Any:
        if len(args) != 1:
            raise self._error(b"server.set_repl() requires one argument.")
        flags = _c_int(_lua_tonumber(args[0]))
        if flags & ~(PROPAGATE_AOF | PROPAGATE_REPL):
            raise self._error(
                b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."
            )
        if self.current is not None:
            self.current.repl_flags = flags
        return None

    def _log(self, *args: Any) -> Any:
        if len(args) < 2:
            raise self._error(b"server.log() requires two arguments or more.")
        level_number = _lua_tonumber(args[0])
        if level_number is None:
            raise self._error(b"First argument must be a number (log level).")
        level = _c_int(level_number)
        if level not in LOG_LEVELS:
            raise self._error(b"Invalid log level.")
        parts = [s for s in (_lua_tostring(a) for a in args[1:]) if s is not None]
        if self.log is not None:
            self.log(LOG_LEVELS[level], b" ".join(parts).decode("utf-8", "replace"))
        return None

    def _acl_check_cmd(self, *args: Any) -> Any:
        run = self.current
        if not args:
            raise self._error(b"Please specify at least one argument for this call")
        try:
            argv = lua_args_to_argv(args)
        except ArgumentError:
            raise self._error(b"Command arguments must be strings or integers") from None
        allowed = run.acl_lookup(argv) if run is not None else None
        if allowed is None:
            raise self._error(b"Invalid command passed to server.acl_check_cmd()")
        return allowed

    def _register_function(self, *args: Any) -> None:
        """``server.register_function(name, callback)`` or ``({function_name=, callback=,
        flags=, description=})``, during FUNCTION LOAD only."""
        load = self.loading
        if load is None:
            raise self._error(
                b"server.register_function can only be called on FUNCTION LOAD command"
            )
        name: Any = None
        callback: Any = None
        description: bytes | None = None
        flags: set[str] = set()
        if len(args) == 1:
            table = args[0]
            if lua51.lua_type(table) != "table":
                raise self._error(
                    b"calling server.register_function with a single argument is only "
                    b"applicable to Lua table (representing named arguments)."
                )
            for key, value in self._items(table):
                if not isinstance(key, bytes):
                    raise self._error(
                        b"named argument key given to server.register_function is not a string"
                    )
                field = key.lower()
                if field == b"function_name":
                    value = _lua_tostring(value)
                    if value is None:
                        raise self._error(
                            b"function_name argument given to server.register_function must "
                            b"be a string"
                        )
                    name = value
                elif field == b"description":
                    value = _lua_tostring(value)
                    if value is None:
                        raise self._error(
                            b"description argument given to server.register_function must be "
                            b"a string"
                        )
                    description = value
                elif field == b"callback":
                    if lua51.lua_type(value) != "function":
                        raise self._error(
                            b"callback argument given to server.register_function must be a "
                            b"function"
                        )
                    callback = value
                elif field == b"flags":
                    if lua51.lua_type(value) != "table":
                        raise self._error(
                            b"flags argument to server.register_function must be a table "
                            b"representing function flags"
                        )
                    for _, flag in self._items(value):
                        text = flag.decode("latin-1") if isinstance(flag, bytes) else None
                        if text not in SCRIPT_FLAGS:
                            raise self._error(b"unknown flag given")
                        flags.add(text)
                else:
                    raise self._error(b"unknown argument given to server.register_function")
            if name is None:
                raise self._error(b"server.register_function must get a function name argument")
            if callback is None:
                raise self._error(b"server.register_function must get a callback argument")
        elif len(args) == 2:
            name, callback = _lua_tostring(args[0]), args[1]
            if name is None:
                raise self._error(b"first argument to server.register_function must be a string")
            if lua51.lua_type(callback) != "function":
                raise self._error(b"second argument to server.register_function must be a function")
        else:
            raise self._error(b"wrong number of arguments to server.register_function")
        problem = load.add(name, callback, description, frozenset(flags))
        if problem is not None:
            load.fatal = problem
            raise self._error(problem.encode())

    def _load_hook(self) -> bytes | None:
        load = self.loading
        if load is not None and load.timeout and time.monotonic() - load.start > load.timeout:
            return b"FUNCTION LOAD timeout"
        return None

    def load_library(self, code: bytes, load: LibraryLoad) -> str | None:
        """Run a library's code so that it registers its functions; the error text, if any."""
        self.loading = load
        try:
            result = self.api[b"load_library"](code, HOOK_INSTRUCTIONS)
        finally:
            self.loading = None
        if not isinstance(result, tuple):
            result = (result,)
        if result[0]:
            return None
        if load.fatal is not None:
            return load.fatal
        err, compiling = result[1], result[2]
        if compiling:
            return "Error compiling function: " + (_lua_tostring(err) or b"").decode(
                "utf-8", "replace"
            )
        if err is not None and lua51.lua_type(err) == "table":
            message = _lua_tostring(self._rawget(err, b"err")) or b""
        else:
            message = b"ERR " + (_lua_tostring(err) or b"")
        return "Error registering functions: " + message.decode("utf-8", "replace")

    def _error_reply(self, *args: Any) -> Any:
        if len(args) != 1 or not isinstance(args[0], bytes):
            return self.builder.error_table(b"wrong number or type of arguments")
        text = args[0]
        return self.builder.error_table(text if text.startswith(b"-") else b"-" + text)

    def _status_reply(self, *args: Any) -> Any:
        if len(args) != 1 or not isinstance(args[0], bytes):
            return self.builder.error_table(b"wrong number or type of arguments")
        return self.builder.single(b"ok", args[0])

    def _math_random(self, *args: Any) -> float:
        """Valkey's ``math.random``: rand48 scaled as Lua's own ``math.random`` scales."""
        r = (self.rand.next() % LRAND48_MAX) / LRAND48_MAX
        if not args:
            return r
        if len(args) == 1:
            upper = _c_int(_lua_tonumber(args[0]))
            if upper < 1:
                raise self.raise_at_caller(b"bad argument #1 to 'random' (interval is empty)")
            return float(math.floor(r * upper) + 1)
        if len(args) == 2:
            lower = _c_int(_lua_tonumber(args[0]))
            upper = _c_int(_lua_tonumber(args[1]))
            if lower > upper:
                raise self.raise_at_caller(b"bad argument #2 to 'random' (interval is empty)")
            return float(math.floor(r * (upper - lower + 1)) + lower)
        raise self.raise_at_caller(b"wrong number of arguments")

    def _math_randomseed(self, *args: Any) -> None:
        self.rand.seed(_c_int(_lua_tonumber(args[0]) if args else 0))

    # --- compiling and running ------------------------------------------------------------

    def compile(self, body: bytes, chunkname: bytes = b"@user_script") -> tuple[Any, bytes]:
        """(function, b"") or (None, Lua's compile error message)."""
        result = self.api[b"compile"](body, chunkname)
        if isinstance(result, tuple):
            fn, err = result
            return None, err if isinstance(err, bytes) else b""
        return result, b""

    def new_array(self, items: list[bytes]) -> Any:
        t = self.runtime.table()
        for i, item in enumerate(items, 1):
            t[i] = item
        return t

    def run(
        self,
        fn: Any,
        run: ScriptRun,
        keys: list[bytes],
        args: list[bytes],
        caller_resp: int,
        debugger: LuaDebugger | None = None,
    ) -> Reply:
        """Run a compiled script (EVAL) or a library function (FCALL); its reply. With a
        ``debugger`` the script runs under it (EVAL only), line by line."""
        self.current = run
        try:
            if debugger is not None:
                debugger.inspector = LuaStackInspector(self)
                self.debugger = debugger
                result = self.api[b"run_eval_debug"](fn, self.new_array(keys), self.new_array(args))
            else:
                runner = self.api[b"run_eval" if run.eval_mode else b"run_function"]
                result = runner(
                    fn,
                    self.new_array(keys),
                    self.new_array(args),
                    HOOK_INSTRUCTIONS if run.on_hook is not None else 0,
                )
        finally:
            self.current = None
            self.debugger = None
            self._runs += 1
            if self._runs == GC_CYCLE_PERIOD:
                self._runs = 0
                self._gc_step(GC_CYCLE_PERIOD)
        if not isinstance(result, tuple):
            result = (result,)
        ok = result[0]
        value = result[1] if len(result) > 1 else None
        if ok:
            return lua_to_reply(value, run.resp, caller_resp, self._rawget, self._items)
        return self._error_to_reply(value, run.funcname)

    def _hook(self) -> bytes | None:
        """Called by the count hook: the kill message once the run was killed."""
        run = self.current
        if run is None or run.on_hook is None:
            return None
        run.on_hook(run)
        if not run.killed:
            return None
        if run.eval_mode:
            return b"Script killed by user with SCRIPT KILL."
        return b"Script killed by user with FUNCTION KILL."

    def _items(self, table: Any) -> list[tuple[Any, Any]]:
        out: list[tuple[Any, Any]] = []
        key = None
        while True:
            step = self._next(table, key)
            if step is None or not isinstance(step, tuple) or step[0] is None:
                break
            key, value = step
            out.append((key, value))
        return out

    def _error_to_reply(self, err: Any, funcname: str) -> Reply:
        if err is None or lua51.lua_type(err) != "table":
            text = _lua_tostring(err) or b"execution failure"
            return error_reply_bytes(
                b"ERR Error running script %s, %s" % (funcname.encode(), text[:100])
            )
        msg = self._rawget(err, b"err")
        message = _lua_tostring(msg) if msg is not None else None
        if message is None:
            message = b"ERR unknown error"
        source = _lua_tostring(self._rawget(err, b"source"))
        line = _lua_tostring(self._rawget(err, b"line"))
        if source is not None and line is not None:
            message += b" script: %s, on %s:%s." % (funcname.encode(), source, line)
        counted = self._rawget(err, b"ignore_error_stats_update") is True
        return error_reply_bytes(message, counted=counted)


class LuaStackInspector:
    """What the debugger sees of a stopped script, through the sandbox's helpers."""

    def __init__(self, engine: LuaEngine) -> None:
        self.engine = engine
        self.api = engine.api

    def kind(self, value: Any) -> str:
        return str(lua51.lua_type(value))

    def items(self, table: Any) -> list[tuple[Any, Any]]:
        return self.engine._items(table)

    def address(self, value: Any) -> str:
        text = self.api[b"ldb_address"](value)
        text = text.decode("latin-1") if isinstance(text, bytes) else ""
        return text.rpartition(": ")[2]

    def locals(self, level: int) -> list[tuple[bytes, Any]] | None:
        found = self.api[b"ldb_locals"](level)
        if found is None:
            return None
        rawget = self.engine._rawget
        out = []
        for _, pair in self.engine._items(found):
            out.append((rawget(pair, 1), rawget(pair, 2)))
        return out

    def global_value(self, name: bytes) -> Any:
        return self.api[b"ldb_global"](name)

    def frames(self) -> list[tuple[bytes, bytes | None, int]]:
        rawget = self.engine._rawget
        out = []
        for _, frame in self.engine._items(self.api[b"ldb_frames"]()):
            name = rawget(frame, 2)
            out.append(
                (
                    rawget(frame, 1) or b"",
                    name if isinstance(name, bytes) else None,
                    int(rawget(frame, 3) or 0),
                )
            )
        return out

    def evaluate(self, code: bytes) -> tuple[bool, Any]:
        result = self.api[b"ldb_eval"](code)
        if not isinstance(result, tuple):
            result = (result,)
        ok = bool(result[0])
        value = result[1] if len(result) > 1 else None
        if not ok and lua51.lua_type(value) == "table":
            value = _lua_tostring(self.engine._rawget(value, b"err"))
        return ok, value

    def server_call(self, args: list[bytes]) -> None:
        self.api[b"ldb_server_call"](self.engine.new_array(args), len(args))


def _untail(dump: bytes) -> bytes | None:
    try:
        return untail(dump)
    except (BytecodeError, struct.error, KeyError, IndexError):
        return None


def _deny_attributes(obj: object, name: object, is_setting: bool) -> object:
    raise AttributeError("access to Python attributes is not allowed from scripts")


__all__ = ["LuaEngine", "LuaRaise", "Refusal", "ScriptKilled", "ScriptRun", "error_fields"]
