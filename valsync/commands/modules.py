"""MODULE as a Valkey with no module loaded answers it: valsync loads no extension libraries
(by design), so LIST is empty and LOAD fails the way a library that can't load fails."""

from __future__ import annotations

from valsync.commands.context import CommandContext
from valsync.commands.errors import CommandError
from valsync.commands.registry import command
from valsync.commands.server_cmds import SUBCOMMAND_ARITY, _is_local, check_subcommand, server_of
from valsync.resp.reply import Reply, SimpleString

SUBCOMMAND_ARITY["module"] = {b"help": 2, b"list": 2, b"load": -3, b"loadex": -3, b"unload": 3}

HELP = [
    "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and "
    "optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
    "HELP",
    "    Print this help.",
]

NOT_ALLOWED = (
    "ERR MODULE command not allowed. If the enable-module-command option is set to "
    '"local", you can run it from a local connection, otherwise you need to set this option '
    "in the configuration file, and then restart the server."
)


@command("module", -2)
def module(ctx: CommandContext, argv: list[bytes]) -> Reply:
    sub = check_subcommand("module", argv)
    if sub == b"help":
        return [SimpleString(line) for line in HELP]
    if sub == b"list":
        return []
    server = server_of(ctx)
    setting = server.config.get_str("enable-module-command")
    if setting == "no" or (setting == "local" and not _is_local(ctx.client.addr)):
        raise CommandError(NOT_ALLOWED)
    if sub == b"unload":
        raise CommandError("ERR Error unloading module: no such module with that name")
    path = argv[2].decode("utf-8", "replace")
    server.log.warning(f"Module {path} failed to load: valsync does not load modules")
    raise CommandError("ERR Error loading the extension. Please check the server logs.")
