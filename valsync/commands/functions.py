"""FUNCTION (LOAD, DELETE, FLUSH, LIST, DUMP, RESTORE, STATS, KILL, HELP), FCALL, FCALL_RO.

The FUNCTION subcommands that change the libraries are write commands: they bump the dirty
count, so they reach replicas as they were received, as Valkey propagates them.
"""

from __future__ import annotations

from dataclasses import replace

from valsync.commands.context import CommandContext, ScriptRequest
from valsync.commands.errors import CommandError
from valsync.commands.registry import COMMANDS, command
from valsync.commands.scripting import (
    SLOW_EVAL,
    help_reply,
    kill_script,
    run_script,
    script_command_flags,
    scripting_state,
)
from valsync.commands.server_cmds import SUBCOMMAND_ARITY, check_subcommand
from valsync.keyspace.glob import stringmatch
from valsync.resp.reply import OK, MapReply, Reply, SetReply, SimpleString
from valsync.scripting.functions import FunctionError
from valsync.scripting.scripts import SCRIPT_FLAGS
from valsync.scripting.state import ScriptingState

SUBCOMMAND_ARITY["function"] = {
    b"delete": 3,
    b"dump": 2,
    b"flush": -2,
    b"help": 2,
    b"kill": 2,
    b"list": -2,
    b"load": -3,
    b"restore": -3,
    b"stats": 2,
}

FUNCTION_HELP = [
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Print this help.",
]

# The write subcommands; the others must not count as writes (FUNCTION LIST on a replica).
WRITE_SUBCOMMANDS = frozenset({b"load", b"delete", b"flush", b"restore"})


def _function_flags(server: object, argv: list[bytes]) -> frozenset[str]:
    spec = COMMANDS["function"]
    sub = argv[1].lower() if len(argv) > 1 else b""
    if sub in (b"load", b"restore"):
        return spec.flags | {"write", "denyoom"}
    if sub in WRITE_SUBCOMMANDS:
        return spec.flags | {"write"}
    if sub in (b"kill", b"stats"):
        return spec.flags | {"allow_busy"}
    return spec.flags


def _error(err: FunctionError) -> CommandError:
    return CommandError(f"ERR {err}")


@command("function", -2, "noscript")
def function(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = check_subcommand("function", argv)
    state = scripting_state(ctx)
    libraries = state.functions
    if sub == b"help":
        return help_reply(FUNCTION_HELP)
    if sub == b"load":
        replace_existing = False
        for option in argv[2:-1]:
            if option.lower() != b"replace":
                raise CommandError(f"ERR Unknown option given: {option.decode('utf-8', 'replace')}")
            replace_existing = True
        timeout = 0.0 if ctx.client.is_primary_link else None
        try:
            if timeout is None:
                name = libraries.create(argv[-1], replace_existing)
            else:
                name = libraries.create(argv[-1], replace_existing, timeout)
        except FunctionError as err:
            raise _error(err) from None
        ctx.dirty += 1
        ctx.also_propagate(list(argv))
        return name
    if sub == b"delete":
        try:
            libraries.delete(argv[2])
        except FunctionError as err:
            raise _error(err) from None
        ctx.dirty += 1
        ctx.also_propagate(list(argv))
        return OK
    if sub == b"flush":
        if len(argv) > 3:
            raise CommandError(
                "ERR unknown subcommand or wrong number of arguments for 'flush'. "
                "Try FUNCTION HELP."
            )
        if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
            raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
        libraries.flush()
        ctx.dirty += 1
        ctx.also_propagate(list(argv))
        return OK
    if sub == b"list":
        return _list(state, argv)
    if sub == b"dump":
        server = ctx.server
        compression = server is None or server.config.get_bool("rdbcompression")
        return libraries.dump(compression)
    if sub == b"restore":
        policy = b"append"
        if len(argv) > 4:  # addReplySubcommandSyntaxError
            raise CommandError(
                "ERR unknown subcommand or wrong number of arguments for 'restore'. "
                "Try FUNCTION HELP."
            )
        if len(argv) == 4:
            policy = argv[3].lower()
            if policy not in (b"flush", b"append", b"replace"):
                raise CommandError(
                    "ERR Wrong restore policy given, value should be either FLUSH, APPEND or "
                    "REPLACE."
                )
        try:
            libraries.restore(argv[2], policy)
        except FunctionError as err:
            raise _error(err) from None
        ctx.dirty += 1
        ctx.also_propagate(list(argv))
        return OK
    if sub == b"stats":
        return _stats(state)
    if sub == b"kill":
        return kill_script(state, is_eval=False)
    raise CommandError("ERR syntax error")


COMMANDS["function"] = replace(COMMANDS["function"], flags_for=_function_flags)


def _list(state: ScriptingState, argv: list[bytes]) -> Reply:
    with_code = False
    pattern: bytes | None = None
    i = 2
    while i < len(argv):
        arg = argv[i]
        if not with_code and arg.lower() == b"withcode":
            with_code = True
        elif pattern is None and arg.lower() == b"libraryname":
            if i >= len(argv) - 1:
                raise CommandError("ERR library name argument was not given")
            i += 1
            pattern = argv[i]
        else:
            raise CommandError(f"ERR Unknown argument {arg.decode('utf-8', 'replace')}")
        i += 1
    out: list[Reply] = []
    for library in state.functions.libraries.values():
        if pattern is not None and not stringmatch(pattern, library.name):
            continue
        functions: list[Reply] = [
            MapReply(
                [
                    (b"name", fn.name),
                    (b"description", fn.description),
                    (
                        b"flags",
                        SetReply([SimpleString(f) for f in SCRIPT_FLAGS if f in fn.flags]),
                    ),
                ]
            )
            for fn in library.functions.values()
        ]
        pairs: list[tuple[Reply, Reply]] = [
            (b"library_name", library.name),
            (b"engine", b"LUA"),
            (b"functions", functions),
        ]
        if with_code:
            pairs.append((b"library_code", library.code))
        out.append(MapReply(pairs))
    return out


def _stats(state: ScriptingState) -> Reply:
    run = state.running
    if run is not None and run.eval_mode:
        raise CommandError(SLOW_EVAL)
    running: Reply = None
    if run is not None:
        running = MapReply(
            [
                (b"name", run.funcname.encode()),
                (b"command", list(state.running_argv)),
                (b"duration_ms", run.duration_ms()),
            ]
        )
    libraries = state.functions
    return MapReply(
        [
            (b"running_script", running),
            (
                b"engines",
                MapReply(
                    [
                        (
                            b"LUA",
                            MapReply(
                                [
                                    (b"libraries_count", len(libraries.libraries)),
                                    (b"functions_count", len(libraries.functions)),
                                ]
                            ),
                        )
                    ]
                ),
            ),
        ]
    )


def _fcall(ctx: CommandContext, argv: list[bytes], ro: bool) -> Reply | ScriptRequest:
    server = ctx.server
    if server is not None and server.monitors:
        # shown before the function's own commands, as Valkey's fcallCommandGeneric feeds it
        server.feed_monitors_now(ctx.client, argv)
    state = scripting_state(ctx)
    found = state.functions.functions.get(argv[1].lower())
    if found is None:
        raise CommandError("ERR Function not found")
    _, fn = found
    try:
        numkeys = int(argv[2])
        if str(numkeys).encode() != argv[2]:
            raise ValueError
    except ValueError:
        raise CommandError("ERR Bad number of keys provided") from None
    if numkeys > len(argv) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise CommandError("ERR Number of keys can't be negative")
    return run_script(
        ctx,
        state,
        fn.callback,
        fn.name.decode("utf-8", "replace"),
        fn.flags,
        False,
        ro,
        argv[3 : 3 + numkeys],
        argv[3 + numkeys :],
        eval_mode=False,
        argv=argv,
    )


def _fcall_flags(server: object, argv: list[bytes]) -> frozenset[str]:
    """``fcallGetCommandFlags``: the flags the called function declared."""
    spec = COMMANDS[argv[0].lower().decode("latin-1")]
    state = getattr(server, "scripting", None)
    if len(argv) < 2 or not isinstance(state, ScriptingState):
        return spec.flags
    found = state.functions.functions.get(argv[1].lower())
    if found is None:
        return spec.flags
    return script_command_flags(spec.flags, found[1].flags)


@command("fcall", -3, "noscript stale skip_monitor may_replicate")
def fcall(ctx: CommandContext, argv: list[bytes]) -> Reply | ScriptRequest:
    return _fcall(ctx, argv, ro=False)


@command("fcall_ro", -3, "readonly noscript stale skip_monitor")
def fcall_ro(ctx: CommandContext, argv: list[bytes]) -> Reply | ScriptRequest:
    return _fcall(ctx, argv, ro=True)


for _name in ("fcall", "fcall_ro"):
    COMMANDS[_name] = replace(COMMANDS[_name], flags_for=_fcall_flags)
