"""CLUSTER and ASKING as a Valkey started without ``cluster-enabled`` answers them: valsync
has no cluster mode, and a client (or a script) asking gets Valkey's own refusal."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from valsync.commands.command_table import table
from valsync.commands.context import CommandContext
from valsync.commands.errors import CommandError
from valsync.commands.registry import COMMANDS, command
from valsync.resp.reply import Reply

CLUSTER_DISABLED = "ERR This instance has cluster support disabled"


@cache
def subcommand_flags() -> dict[bytes, frozenset[str]]:
    """CLUSTER's subcommands and their flags, from Valkey's command table (read at the first
    CLUSTER, not at start: the parsed table is 4 MB a server may never need)."""
    info = table()["cluster"]["info"]
    assert isinstance(info, list)
    out: dict[bytes, frozenset[str]] = {}
    subcommands = info[9] if len(info) > 9 else []
    assert isinstance(subcommands, list)
    for sub in subcommands:
        assert isinstance(sub, list)
        name, flags = sub[0], sub[2]
        assert isinstance(name, str) and isinstance(flags, dict)
        words = frozenset(str(item["s"]) for item in flags["set"] if isinstance(item, dict))
        out[name.split("|", 1)[1].encode()] = words
    return out


@command("cluster", -2)
def cluster(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if argv[1].lower() not in subcommand_flags():
        raise CommandError(
            f"ERR unknown subcommand '{argv[1].decode('utf-8', 'replace')}'. Try CLUSTER HELP."
        )
    raise CommandError(CLUSTER_DISABLED)


def _cluster_flags(server: object, argv: list[bytes]) -> frozenset[str]:
    spec = COMMANDS["cluster"]
    if len(argv) < 2:
        return spec.flags
    return spec.flags | subcommand_flags().get(argv[1].lower(), frozenset())


COMMANDS["cluster"] = replace(COMMANDS["cluster"], flags_for=_cluster_flags)


@command("asking", 1, "fast")
def asking(ctx: CommandContext, argv: list[bytes]) -> Reply:
    raise CommandError(CLUSTER_DISABLED)
