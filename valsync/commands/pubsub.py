"""Pub/sub commands (Valkey's ``pubsub.c``): (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, (S)PUBLISH, PUBSUB.

The subscription commands answer with one push per channel (an array in RESP2), never a
plain reply. PUBLISH and SPUBLISH are not writes, yet Valkey forces them into the replication
stream (``forceCommandPropagation``) so that subscribers on replicas get the message too;
without cluster mode SPUBLISH behaves the same way.
"""

from __future__ import annotations

from valsync.commands.context import CommandContext
from valsync.commands.errors import CommandError
from valsync.commands.registry import command
from valsync.commands.server_cmds import check_subcommand, server_of
from valsync.pubsub import Kind, PubSub
from valsync.resp.reply import Reply, ReplySeries, SimpleString


def _pubsub(ctx: CommandContext) -> PubSub:
    return server_of(ctx).pubsub


def _subscribe(ctx: CommandContext, argv: list[bytes], kind: Kind) -> Reply:
    state = _pubsub(ctx)
    replies: list[Reply] = [state.subscribe(ctx.client, kind, name) for name in argv[1:]]
    state.mark(ctx.client)
    return ReplySeries(replies)


def _unsubscribe(ctx: CommandContext, argv: list[bytes], kind: Kind) -> Reply:
    state = _pubsub(ctx)
    client = ctx.client
    if len(argv) == 1:
        replies: list[Reply] = list(state.unsubscribe_all(client, kind))
    else:
        replies = [state.unsubscribe(client, kind, name) for name in argv[1:]]
    state.mark(client)
    return ReplySeries(replies)


@command("subscribe", -2, "pubsub noscript loading stale")
def subscribe(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _subscribe(ctx, argv, _pubsub(ctx).channels)


@command("psubscribe", -2, "pubsub noscript loading stale")
def psubscribe(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _subscribe(ctx, argv, _pubsub(ctx).patterns)


@command("ssubscribe", -2, "pubsub noscript loading stale", 1, -1, 1)
def ssubscribe(ctx: CommandContext, argv: list[bytes]) -> Reply:
    if ctx.in_multi_exec:
        # Valkey lets SUBSCRIBE/PSUBSCRIBE run inside EXEC for old clients' sake, not this one
        raise CommandError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    return _subscribe(ctx, argv, _pubsub(ctx).shard)


@command("unsubscribe", -1, "pubsub noscript loading stale")
def unsubscribe(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _unsubscribe(ctx, argv, _pubsub(ctx).channels)


@command("punsubscribe", -1, "pubsub noscript loading stale")
def punsubscribe(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _unsubscribe(ctx, argv, _pubsub(ctx).patterns)


@command("sunsubscribe", -1, "pubsub noscript loading stale", 1, -1, 1)
def sunsubscribe(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _unsubscribe(ctx, argv, _pubsub(ctx).shard)


@command("publish", 3, "pubsub loading stale fast may_replicate")
def publish(ctx: CommandContext, argv: list[bytes]) -> Reply:
    receivers = _pubsub(ctx).publish(argv[1], argv[2])
    ctx.also_propagate(argv)
    return receivers


@command("spublish", 3, "pubsub loading stale fast may_replicate", 1, 1, 1)
def spublish(ctx: CommandContext, argv: list[bytes]) -> Reply:
    receivers = _pubsub(ctx).publish(argv[1], argv[2], shard=True)
    ctx.also_propagate(argv)
    return receivers


PUBSUB_HELP = (
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Print this help.",
)


@command("pubsub", -2, "")
def pubsub_cmd(ctx: CommandContext, argv: list[bytes]) -> Reply:
    state = _pubsub(ctx)
    sub = check_subcommand("pubsub", argv)
    argc = len(argv)
    if sub == b"help":
        return [SimpleString(line) for line in PUBSUB_HELP]
    if sub in (b"channels", b"shardchannels") and argc <= 3:
        kind = state.channels if sub == b"channels" else state.shard
        names: list[Reply] = list(state.names(kind, argv[2] if argc == 3 else None))
        return names
    if sub in (b"numsub", b"shardnumsub"):
        kind = state.channels if sub == b"numsub" else state.shard
        out: list[Reply] = []
        for name in argv[2:]:
            out += [name, state.numsub(kind, name)]
        return out
    if sub == b"numpat":
        return len(state.patterns.table)
    raise CommandError(
        "ERR unknown subcommand or wrong number of arguments for "
        f"'{argv[1].decode('utf-8', 'replace')[:128]}'. Try PUBSUB HELP."
    )
