"""EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, and how a script's commands run.

:func:`run_script` is shared with FCALL: it prepares the run as Valkey's
``scriptPrepareForRun`` (refusals that depend on the script's flags), runs the Lua code with
an executor that applies ``scriptCall``'s checks to every ``server.call``, and hands the
script's effects to the caller's context, so that they reach replicas as one unit (wrapped in
MULTI/EXEC when there is more than one command, as Valkey does).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from time import perf_counter_ns
from typing import Any, cast

from valsync.commands.acl_cmds import (
    CONTEXT_LUA,
    acl_fullname,
    command_keys,
    permission_refusal,
    user_of,
)
from valsync.commands.context import BlockRequest, ClientState, CommandContext, ScriptRequest
from valsync.commands.dispatch import call
from valsync.commands.errors import (
    MISCONF_RDB,
    NOT_INTEGER,
    OOM,
    READONLY,
    CommandError,
    parse_int,
)
from valsync.commands.registry import COMMANDS, command, command_fullname
from valsync.commands.server_cmds import SUBCOMMAND_ARITY, check_subcommand
from valsync.resp import encode
from valsync.resp.reply import NO_REPLY, OK, ErrorReply, Raw, Reply, ReplySeries, SimpleString
from valsync.scripting.conversion import error_fields
from valsync.scripting.debugger import LuaDebugger, Transport
from valsync.scripting.engine import PROPAGATE_REPL, Refusal, ScriptRun
from valsync.scripting.scripts import (
    ALLOW_OOM,
    ALLOW_STALE,
    NO_WRITES,
    Script,
    ShebangError,
    parse_shebang,
    sha1hex,
)
from valsync.scripting.state import ScriptingState

NOSCRIPT = "NOSCRIPT No matching script."
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."
MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
MASTERDOWN_SCRIPT = (
    "MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' "
    "and 'allow-stale' flag is not set on the script."
)
OOM_SCRIPT = (
    "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'"
)
READONLY_SCRIPT = "READONLY Can not run script with write flag on readonly replica"
RO_WITH_WRITE_FLAG = "ERR Can not execute a script with write flag using *_ro command."

SUBCOMMAND_ARITY["script"] = {
    b"debug": 3,
    b"exists": -3,
    b"flush": -2,
    b"help": 2,
    b"kill": 2,
    b"load": 3,
    b"show": 3,
}

SCRIPT_HELP = [
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined",
    "     by the lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "SHOW <sha1>",
    "    Show a script from the scripts cache.",
    "HELP",
    "    Print this help.",
]

_FALLBACK = ScriptingState()
"""The scripting state of a context without a server (unit-test harnesses)."""


def scripting_state(ctx: CommandContext) -> ScriptingState:
    server = ctx.server
    state = getattr(server, "scripting", None) if server is not None else None
    return state if isinstance(state, ScriptingState) else _FALLBACK


def help_reply(lines: list[str]) -> Reply:
    return [SimpleString(line) for line in lines]


# --- the server's view, for the refusals that depend on replication -----------------------


class ServerView:
    """What the checks of a script run need to know about the server (None: standalone)."""

    def __init__(self, ctx: CommandContext) -> None:
        server = ctx.server
        repl = getattr(server, "repl", None)
        self.obey = ctx.client.is_primary_link
        self.is_replica = bool(repl is not None and repl.is_replica)
        config = getattr(server, "config", None)
        self.replica_read_only = bool(
            self.is_replica and config is not None and config.get_bool("replica-read-only")
        )
        self.stale = bool(
            self.is_replica
            and repl is not None
            and not repl.link_up
            and config is not None
            and not config.get_bool("replica-serve-stale-data")
        )
        self._repl = repl
        self.oom = bool(getattr(server, "maxmemory", 0) and getattr(server, "pre_command_oom", 0))
        """The command that started the script found the server over maxmemory."""
        persistence = getattr(server, "persistence", None)
        self.disk_error = bool(not self.obey and persistence is not None and persistence.disk_error)

    def enough_replicas(self) -> bool:
        if self._repl is None or self.obey:
            return True
        return bool(self._repl.enough_good_replicas())


# --- running a script ---------------------------------------------------------------------


def prepare_refusal(view: ServerView, flags: frozenset[str], compat: bool, ro: bool) -> str | None:
    """``scriptPrepareForRun``'s refusals, before any Lua runs."""
    if compat:
        return MASTERDOWN if view.stale else None
    if view.stale and ALLOW_STALE not in flags:
        return MASTERDOWN_SCRIPT
    if NO_WRITES not in flags:
        if view.replica_read_only and not view.obey:
            return READONLY_SCRIPT
        if ro:
            return RO_WITH_WRITE_FLAG
        if view.disk_error:
            return MISCONF_RDB
        if not view.enough_replicas():
            return NOREPLICAS
        if view.oom and not view.obey and ALLOW_OOM not in flags:
            return OOM_SCRIPT
    return None


class ScriptExecutor:
    """Runs the commands of one script (Valkey's ``scriptCall`` and its checks)."""

    def __init__(
        self, caller: CommandContext, view: ServerView, read_only: bool, run: ScriptRun
    ) -> None:
        self.caller = caller
        self.view = view
        self.read_only = read_only
        self.run = run
        self.write_dirty = False
        client = ClientState(
            id=0, db=caller.client.db, resp=2, is_script=True, user=caller.client.user
        )
        # WAIT inside the script waits for the caller's writes (Valkey's script client takes
        # the caller's write offset; 0 would count every replica)
        client.last_write_offset = caller.client.last_write_offset
        self.ctx = CommandContext(
            caller.keyspace,
            client,
            caller.now_ms,
            expire_mode=caller.expire_mode,
            lazy_expire_unlink=caller.lazy_expire_unlink,
            rng=caller.rng,
            server=caller.server,
        )
        self.ctx.in_multi_exec = True
        # the time stands still while a script runs (Valkey's cached command time)
        self.ctx.frozen_time = time.time()
        self.commands_run = 0
        self.allow_oom = False
        """The script declared ``allow-oom`` (scriptVerifyOOM lets its denyoom commands run)."""

    def __call__(self, argv: list[bytes]) -> Reply | Refusal:
        result = self._run(argv)
        server = self.caller.server
        if isinstance(result, Refusal) and server is not None:
            spec = COMMANDS.get(argv[0].lower().decode("latin-1"))
            name = command_fullname(spec.name, argv) if spec is not None else None
            server.count_script_refusal(error_fields(result.text).decode("utf-8", "replace"), name)
        return result

    def _run(self, argv: list[bytes]) -> Reply | Refusal:
        spec = COMMANDS.get(argv[0].lower().decode("latin-1"))
        if spec is None:
            return Refusal(b"Unknown command called from script")
        if not spec.arity_ok(len(argv)):
            return Refusal(b"Wrong number of args calling command from script")
        server = self.caller.server
        flags = spec.flags if spec.flags_for is None else spec.flags_for(server, argv)
        if "noscript" in flags and not (server is not None and server.scripts_may_run_noscript):
            return Refusal(b"This Redis command is not allowed from script")
        view = self.view
        if view.stale and "stale" not in flags:
            return Refusal(b"Can not execute the command on a stale replica")
        if server is not None and server.acl.restricted:
            denied = permission_refusal(server, self.caller.client, argv, CONTEXT_LUA)
            if denied is not None:
                return Refusal(b"ACL failure in script: " + denied.encode())
        is_write = spec.is_write
        if self.read_only and (is_write or "may_replicate" in flags):
            return Refusal(b"Write commands are not allowed from read-only scripts.")
        if is_write and not self.write_dirty:
            if view.replica_read_only and not view.obey:
                return Refusal(b"-" + READONLY.encode())
            if view.disk_error:
                return Refusal(b"-" + MISCONF_RDB.encode())
            if not view.enough_replicas():
                return Refusal(b"-" + NOREPLICAS.encode())
        if "denyoom" in flags and view.oom and not view.obey and not self.write_dirty:
            if not self.allow_oom:
                return Refusal(b"-" + OOM.encode())
        if is_write:
            self.write_dirty = self.run.write_dirty = True
        ctx = self.ctx
        ctx.client.resp = self.run.resp
        before = len(ctx.propagated)
        start = perf_counter_ns()
        if server is None:
            reply: Reply | BlockRequest = call(ctx, spec, argv)
        else:
            # the script's caller is the client whose writes these are (NOLOOP tracking)
            previous, server.current_client = server.current_client, self.caller.client
            try:
                reply = call(ctx, spec, argv)
            finally:
                server.current_client = previous
        usec = (perf_counter_ns() - start) // 1000
        if isinstance(reply, BlockRequest):
            reply = reply.on_timeout() if reply.on_timeout is not None else reply.timeout_reply
        if not self.run.repl_flags & PROPAGATE_REPL and len(ctx.propagated) > before:
            del ctx.propagated[before:]
        self.commands_run += 1
        server = self.caller.server
        if server is not None:
            name = command_fullname(spec.name, argv)
            server.account_call(
                ctx.client, spec, name, argv, reply, usec, script_caller=self.caller.client
            )
        return reply

    def finish(self) -> None:
        """Hand the script's effects to the caller: one replication unit, the dirty count."""
        caller, ctx = self.caller, self.ctx
        caller.dirty += ctx.dirty
        caller.expired_keys += ctx.expired_keys
        caller.propagated.extend(ctx.take_propagated())


def acl_checker(caller: CommandContext) -> Callable[[list[bytes]], bool | None]:
    """``server.acl_check_cmd``: None for an unknown command (or wrong arity), else whether the
    script's user may run it (no ACL log entry, as in Valkey)."""

    def check(argv: list[bytes]) -> bool | None:
        spec = COMMANDS.get(argv[0].lower().decode("latin-1"))
        if spec is None or not spec.arity_ok(len(argv)):
            return None
        server = caller.server
        if server is None or not server.acl.restricted:
            return True
        user = user_of(server, caller.client)
        cmd = acl_fullname(argv)
        if cmd is None:
            return True
        return server.acl.check(user, cmd.fullname, argv, command_keys, cmd.no_auth) is None

    return check


RunHook = Callable[[ScriptRun], None]


def run_script(
    ctx: CommandContext,
    state: ScriptingState,
    fn: Any,
    funcname: str,
    flags: frozenset[str],
    compat: bool,
    ro: bool,
    keys: list[bytes],
    args: list[bytes],
    eval_mode: bool,
    argv: list[bytes] | None = None,
    debugger: LuaDebugger | None = None,
) -> Reply | ScriptRequest:
    """Prepare, run and finish one script (EVAL) or function (FCALL).

    From a client connection (outside MULTI) the run is handed to the connection as a
    :class:`ScriptRequest`, to execute in a worker thread; elsewhere it runs here. A
    ``debugger`` (SCRIPT DEBUG SYNC) runs the script under the Lua debugger, which talks to
    the client from that thread while the server waits.
    """
    view = ServerView(ctx)
    refusal = prepare_refusal(view, flags, compat, ro)
    if refusal is not None:
        raise CommandError(refusal)
    read_only = ro or (not compat and NO_WRITES in flags)
    run = ScriptRun(
        funcname=funcname, execute=_unset, acl_lookup=acl_checker(ctx), eval_mode=eval_mode
    )
    executor = ScriptExecutor(ctx, view, read_only, run)
    executor.allow_oom = not compat and ALLOW_OOM in flags
    run.execute = executor
    run.start = time.monotonic()
    state.running = run
    state.running_argv = argv or []
    state.running_from_primary = view.obey
    state.debugging = debugger is not None
    engine = state.engine if eval_mode else state.functions.engine
    caller_resp = ctx.client.resp
    if ctx.client.extra.get("offload_scripts") and not ctx.in_multi_exec:

        def job(on_server_thread: Callable[[Callable[[], Any]], Any]) -> Reply:
            run.execute = lambda command: on_server_thread(lambda: executor(command))
            run.on_hook = _no_op_hook
            try:
                return engine.run(fn, run, keys, args, caller_resp, debugger)
            except Exception as exc:  # noqa: BLE001 - the thread reports, the server lives
                return ErrorReply(f"ERR internal error running the script: {exc!r}")
            finally:
                if debugger is not None:
                    debugger.end()

        def finish(fresh: CommandContext, reply: Any) -> Reply:
            executor.caller = fresh
            state.end_run()
            executor.finish()
            if debugger is not None:
                _end_debugging(fresh)
            return cast(Reply, reply)

        return ScriptRequest((), None, None, job=job, finish=finish)
    try:
        reply = engine.run(fn, run, keys, args, caller_resp, debugger)
    finally:
        if debugger is not None:
            debugger.end()
        state.end_run()
        executor.finish()
    return reply


DEBUG_SESSION_END = b"*1\r\n+<endsession>\r\n"


def _end_debugging(ctx: CommandContext) -> None:
    """A debugging session ends the connection once the script's reply is written."""
    ctx.client.kill_requested = True
    server = ctx.server
    if server is not None:
        server.log.notice("Valkey synchronous debugging eval session ended")


def _new_debugger(ctx: CommandContext, source: bytes, transport: Transport) -> LuaDebugger:
    config = getattr(ctx.server, "config", None)

    def busy_threshold() -> int:
        return config.get_int("busy-reply-threshold") if config is not None else 5000

    return LuaDebugger(transport, source, busy_threshold_ms=busy_threshold)


def _debug_session(ctx: CommandContext, source: bytes) -> LuaDebugger | None:
    """The debugger for this EVAL when the client asked for one (SCRIPT DEBUG SYNC) and the
    connection can serve it (a client connection, outside MULTI)."""
    transport = ctx.client.extra.get("ldb_transport")
    if transport is None:
        return None
    if ctx.server is not None:
        ctx.server.log.notice("Valkey synchronous debugging eval session started")
    return _new_debugger(ctx, source, transport())


def _forked_session(
    ctx: CommandContext, state: ScriptingState, argv: list[bytes], ro: bool
) -> Reply | None:
    """SCRIPT DEBUG YES: the session runs in a fork child, which answers the client and
    exits, so nothing it writes reaches this server's dataset. None: no connection to fork
    for (the script then runs without the debugger)."""
    fork = ctx.client.extra.get("ldb_fork")
    if fork is None:
        return None
    client, server = ctx.client, ctx.server

    def in_child(transport: Transport) -> None:
        if server is not None:
            server.log.notice("Valkey forked for debugging eval")
        client.extra.pop("offload_scripts", None)
        debugger = _new_debugger(ctx, argv[1], transport)
        try:
            reply = cast(Reply, _run_eval(ctx, state, argv, False, ro, debugger))
        except CommandError as err:
            reply = ErrorReply(err.text)
        if debugger.active:
            debugger.end()
        out = bytearray()
        encode(reply, out, client.resp)
        transport.send(bytes(out))
        if server is not None:
            server.log.notice("Lua debugging session child exiting")

    try:
        fork(in_child)
    except OSError as err:
        raise CommandError(
            f"ERR Fork() failed: can't run EVAL in debugging mode: {err.strerror}"
        ) from None
    client.extra.pop("lua_debug", None)
    client.kill_requested = True
    return NO_REPLY


def _no_op_hook(run: ScriptRun) -> None:
    """Threaded runs only need the count hook to notice SCRIPT KILL."""


def _unset(argv: list[bytes]) -> Reply | Refusal:
    return Refusal(b"Unknown command called from script")


def _numkeys(argv: list[bytes]) -> int:
    numkeys = parse_int(argv[2], NOT_INTEGER)
    if numkeys > len(argv) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise CommandError("ERR Number of keys can't be negative")
    return numkeys


def create_script(state: ScriptingState, body: bytes, evictable: bool) -> Script:
    """``luaCreateFunction``: compile and cache ``body`` (or find it cached)."""
    sha = sha1hex(body)
    cache = state.cache
    script = cache.get(sha)
    if script is not None:
        if not evictable:
            cache.promote(script)
        return script
    try:
        shebang = parse_shebang(body)
    except ShebangError as err:
        raise CommandError(f"ERR {err}") from None
    engine = state.engine
    # the shebang line is dropped but its newline kept, so line numbers stay the user's
    fn, error = engine.compile(body[shebang.length :])
    if fn is None:
        raise CommandError(
            "ERR Error compiling script (new function): " + error.decode("utf-8", "replace")
        )
    script = Script(sha, body, shebang, fn, evictable)
    cache.add(script)
    return script


def _eval(ctx: CommandContext, argv: list[bytes], evalsha: bool, ro: bool) -> Reply | ScriptRequest:
    state = scripting_state(ctx)
    server = ctx.server
    if server is not None and server.monitors:
        # shown before the script's own commands, as Valkey's evalCommand feeds it
        server.feed_monitors_now(ctx.client, argv)
    if evalsha and len(argv[1]) != 40:
        raise CommandError(NOSCRIPT)
    mode = ctx.client.extra.get("lua_debug")
    if mode is not None and not ctx.in_multi_exec:
        if evalsha:
            raise CommandError("ERR Please use EVAL instead of EVALSHA for debugging")
        if mode == "yes":
            forked = _forked_session(ctx, state, argv, ro)
            if forked is not None:
                return forked
        debugger = _debug_session(ctx, argv[1]) if mode == "sync" else None
        if debugger is not None:
            try:
                return _run_eval(ctx, state, argv, evalsha, ro, debugger)
            except CommandError as err:
                # the session ends (on the client's socket) before the error reply
                _end_debugging(ctx)
                return ReplySeries([Raw(DEBUG_SESSION_END), ErrorReply(err.text)])
    return _run_eval(ctx, state, argv, evalsha, ro, None)


def _run_eval(
    ctx: CommandContext,
    state: ScriptingState,
    argv: list[bytes],
    evalsha: bool,
    ro: bool,
    debugger: LuaDebugger | None,
) -> Reply | ScriptRequest:
    numkeys = _numkeys(argv)
    if evalsha:
        script = state.cache.get(argv[1].decode("latin-1"))
        if script is None:
            raise CommandError(NOSCRIPT)
    else:
        script = create_script(state, argv[1], evictable=True)
    reply = run_script(
        ctx,
        state,
        script.function,
        script.sha,
        script.shebang.flags,
        script.shebang.compat,
        ro,
        argv[3 : 3 + numkeys],
        argv[3 + numkeys :],
        eval_mode=True,
        argv=argv,
        debugger=debugger,
    )
    state.cache.touch(script)
    return reply


@command("eval", -3, "noscript stale skip_monitor may_replicate")
def eval_(ctx: CommandContext, argv: list[bytes]) -> Reply | ScriptRequest:
    return _eval(ctx, argv, evalsha=False, ro=False)


@command("evalsha", -3, "noscript stale skip_monitor may_replicate")
def evalsha(ctx: CommandContext, argv: list[bytes]) -> Reply | ScriptRequest:
    return _eval(ctx, argv, evalsha=True, ro=False)


@command("eval_ro", -3, "readonly noscript stale skip_monitor")
def eval_ro(ctx: CommandContext, argv: list[bytes]) -> Reply | ScriptRequest:
    return _eval(ctx, argv, evalsha=False, ro=True)


@command("evalsha_ro", -3, "readonly noscript stale skip_monitor")
def evalsha_ro(ctx: CommandContext, argv: list[bytes]) -> Reply | ScriptRequest:
    return _eval(ctx, argv, evalsha=True, ro=True)


def script_command_flags(flags: frozenset[str], script_flags: frozenset[str]) -> frozenset[str]:
    """``scriptFlagsToCmdFlags``: a script with a shebang declares its own command flags."""
    out = set(flags) - {"stale", "denyoom", "write", "may_replicate"}
    if not script_flags & {ALLOW_OOM, NO_WRITES}:
        out.add("denyoom")
    if NO_WRITES not in script_flags:
        out.add("write")
    if ALLOW_STALE in script_flags:
        out.add("stale")
    return frozenset(out)


def _eval_flags(evalsha: bool) -> Callable[[object, list[bytes]], frozenset[str]]:
    """``evalGetCommandFlags``: the flags of the script EVAL/EVALSHA names, when known."""

    def flags_for(server: object, argv: list[bytes]) -> frozenset[str]:
        spec = COMMANDS["evalsha" if evalsha else "eval"]
        base = spec.flags if argv[0].lower().find(b"_ro") < 0 else COMMANDS["eval_ro"].flags
        if len(argv) < 2 or (evalsha and len(argv[1]) != 40):
            return base
        state = getattr(server, "scripting", None)
        if not isinstance(state, ScriptingState):
            return base
        sha = argv[1].decode("latin-1").lower() if evalsha else sha1hex(argv[1])
        script = state.cache.get(sha)
        if script is not None:
            shebang = script.shebang
        elif evalsha:
            return base
        else:
            try:
                shebang = parse_shebang(argv[1])
            except ShebangError:
                return base
        if shebang.compat:
            return base
        return script_command_flags(base, shebang.flags)

    return flags_for


for _name, _sha in (("eval", False), ("evalsha", True), ("eval_ro", False), ("evalsha_ro", True)):
    COMMANDS[_name] = replace(COMMANDS[_name], flags_for=_eval_flags(_sha))


def _script_flags(server: object, argv: list[bytes]) -> frozenset[str]:
    """SCRIPT KILL runs while a script is busy (``script|kill`` is ``allow_busy``)."""
    flags = COMMANDS["script"].flags
    if len(argv) > 1 and argv[1].lower() == b"kill":
        return flags | {"allow_busy"}
    return flags


@command("script", -2, "noscript stale")
def script(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = check_subcommand("script", argv)
    state = scripting_state(ctx)
    if sub == b"help":
        return help_reply(SCRIPT_HELP)
    if sub == b"flush":
        if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
            raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
        if len(argv) > 3:
            raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
        state.reset_eval()
        return OK
    if sub == b"exists":
        return [1 if state.cache.get(sha.decode("latin-1")) is not None else 0 for sha in argv[2:]]
    if sub == b"load":
        return create_script(state, argv[2], evictable=False).sha.encode()
    if sub == b"show":
        found = state.cache.get(argv[2].decode("latin-1"))
        if found is None:
            raise CommandError(NOSCRIPT)
        return found.body
    if sub == b"kill":
        return kill_script(state, is_eval=True)
    if sub == b"debug":
        return script_debug(ctx, argv[2].lower())
    raise CommandError(f"ERR unknown subcommand '{argv[1].decode('utf-8', 'replace')}'")


def script_debug(ctx: CommandContext, mode: bytes) -> Reply:
    """SCRIPT DEBUG: the next EVAL of this client runs under the Lua debugger."""
    client = ctx.client
    if client.pending_output or ctx.in_multi_exec:
        raise CommandError("ERR SCRIPT DEBUG must be called outside a pipeline")
    if mode == b"no":
        client.extra.pop("lua_debug", None)
        return OK
    if mode == b"sync":
        client.extra["lua_debug"] = "sync"
        return OK
    if mode == b"yes":
        client.extra["lua_debug"] = "yes"
        return OK
    raise CommandError("ERR Use SCRIPT DEBUG YES/SYNC/NO")


SLOW_EVAL = (
    "BUSY Valkey is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
)
SLOW_FUNCTION = (
    "BUSY Valkey is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
)


COMMANDS["script"] = replace(COMMANDS["script"], flags_for=_script_flags)


def kill_script(state: ScriptingState, is_eval: bool) -> Reply:
    """``scriptKill``."""
    run = state.running
    if run is None:
        return ErrorReply("NOTBUSY No scripts in execution right now.")
    if state.running_from_primary:
        return ErrorReply(
            "UNKILLABLE The busy script was sent by a master instance in the context of "
            "replication and cannot be killed."
        )
    if run.write_dirty:
        return ErrorReply(
            "UNKILLABLE Sorry the script already executed write commands against the "
            "dataset. You can either wait the script termination or kill the server in a "
            "hard way using the SHUTDOWN NOSAVE command."
        )
    if is_eval and not run.eval_mode:
        return ErrorReply(SLOW_FUNCTION)
    if not is_eval and run.eval_mode:
        return ErrorReply(SLOW_EVAL)
    run.killed = True
    return OK
