"""The command table and its handlers, one module per data type or concern.

Importing this package registers every command in :data:`COMMANDS`.
"""

import importlib

from valsync.commands.context import (
    BlockRequest,
    ClientState,
    CommandContext,
    ExchangeRequest,
    ExchangeResult,
    ExpireMode,
    Propagated,
    ScriptRequest,
    ScriptWait,
)
from valsync.commands.dispatch import call, execute, lookup_command
from valsync.commands.errors import CommandError
from valsync.commands.registry import COMMANDS, CommandSpec, command

# Handler modules; each registers its commands on import. A module not yet written is skipped
# so that the table can grow one data type at a time.
HANDLER_MODULES = (
    "strings",
    "keys",
    "lists",
    "hashes",
    "sets",
    "zsets",
    "streams",
    "bitmaps",
    "hyperloglog",
    "geo",
    "sort",
    "dump_restore",
    "pubsub",
    "scripting",
    "functions",
    "introspection",
    "lolwut",
    "command_table",
    "memory",
    "digest",
    "server_cmds",
    "replication_cmds",
    "acl_cmds",
    "cluster",
    "modules",
)

for _name in HANDLER_MODULES:
    try:
        importlib.import_module(f"valsync.commands.{_name}")
    except ModuleNotFoundError as _err:
        if _err.name != f"valsync.commands.{_name}":
            raise

__all__ = [
    "COMMANDS",
    "BlockRequest",
    "ClientState",
    "CommandContext",
    "CommandError",
    "CommandSpec",
    "ExchangeRequest",
    "ScriptRequest",
    "ScriptWait",
    "ExchangeResult",
    "ExpireMode",
    "Propagated",
    "call",
    "command",
    "execute",
    "lookup_command",
]
