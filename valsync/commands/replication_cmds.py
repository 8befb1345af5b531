"""Replication and persistence commands: SYNC PSYNC REPLCONF ROLE REPLICAOF WAIT SAVE BGSAVE FAILOVER."""

from __future__ import annotations

from valsync.commands.context import BlockRequest, CommandContext
from valsync.commands.errors import SYNTAX, CommandError, parse_int
from valsync.commands.registry import command
from valsync.commands.server_cmds import server_of
from valsync.replication.failover import FailoverState, FailoverSyntaxError, parse_failover
from valsync.resp.reply import OK, Reply, SimpleString


def _repl(ctx: CommandContext):  # type: ignore[no-untyped-def]
    repl = server_of(ctx).repl
    if repl is None:
        raise CommandError("ERR replication is not available")
    return repl


@command("sync", 1, "admin noscript no_multi no_async_loading")
def sync(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _repl(ctx).sync(ctx.client, argv, ctx.client.pending_output)  # type: ignore[no-any-return]


@command("psync", -3, "admin noscript no_multi no_async_loading")
def psync(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _repl(ctx).sync(ctx.client, argv, ctx.client.pending_output)  # type: ignore[no-any-return]


@command("replconf", -1, "admin noscript loading stale allow_busy")
def replconf(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _repl(ctx).replconf(ctx.client, argv[1:])  # type: ignore[no-any-return]


@command("role", 1, "noscript loading stale fast")
def role(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _repl(ctx).role_reply()  # type: ignore[no-any-return]


def _replicaof(ctx: CommandContext, argv: list[bytes]) -> Reply:
    repl = _repl(ctx)
    if repl.failover_state != "no-failover":
        raise CommandError("ERR REPLICAOF not allowed while failing over.")
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        if repl.is_replica:
            repl.primary.unset_primary()
            server_of(ctx).config.set_replicaof(None)
        return OK
    try:
        port = parse_int(argv[2])
    except CommandError:
        raise CommandError("ERR Invalid master port") from None
    if not 0 <= port <= 65535:
        raise CommandError("ERR Invalid master port")
    host = argv[1].decode("utf-8", "replace")
    if ctx.client.is_replica:
        raise CommandError("ERR Command is not valid when client is a replica.")
    if not repl.primary.set_primary(host, port):
        return SimpleString("OK Already connected to specified master")
    server_of(ctx).config.set_replicaof((host, port))
    return OK


@command("replicaof", 3, "admin noscript stale no_async_loading")
def replicaof(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _replicaof(ctx, argv)


@command("slaveof", 3, "admin noscript stale no_async_loading")
def slaveof(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return _replicaof(ctx, argv)


@command("wait", 3)
def wait(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    repl = _repl(ctx)
    if repl.is_replica:
        raise CommandError(
            "ERR WAIT cannot be used with replica instances. Please also note that if a replica "
            "is configured to be writable (which is not the default) writes to replicas are just "
            "local and are not propagated."
        )
    numreplicas = parse_int(argv[1])
    try:
        timeout = parse_int(argv[2], "ERR timeout is not an integer or out of range")
    except CommandError:
        raise
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    if timeout > 2**63 - 1 - ctx.now_ms:
        raise CommandError("ERR timeout is out of range")
    first = not ctx.client.extra.get("unblocked_rerun")
    if ctx.in_multi_exec:
        return repl.acked_replicas(ctx.client.last_write_offset)  # type: ignore[no-any-return]
    return repl.wait(ctx.client, numreplicas, timeout, ctx.now_ms, first)  # type: ignore[no-any-return]


@command("waitaof", 4, "blocking")
def waitaof(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    """WAITAOF: valsync keeps no append-only file, so ``numlocal`` 1 is refused as Valkey
    refuses it with ``appendonly no``; replicas count once their FACK covers the write."""
    numlocal = parse_int(argv[1])
    if not 0 <= numlocal <= 1:
        raise CommandError("ERR value is out of range, value must between 0 and 1")
    numreplicas = parse_int(argv[2])
    if numreplicas < 0:
        raise CommandError("ERR value is out of range, must be positive")
    timeout = parse_int(argv[3], "ERR timeout is not an integer or out of range")
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    if timeout > 2**63 - 1 - ctx.now_ms:
        raise CommandError("ERR timeout is out of range")
    repl = _repl(ctx)
    if repl.is_replica:
        raise CommandError(
            "ERR WAITAOF cannot be used with replica instances. Please also note that writes to "
            "replicas are just local and are not propagated."
        )
    if numlocal:
        raise CommandError(
            "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled."
        )

    def reply(acked: int) -> Reply:
        return [0, acked]

    if ctx.in_multi_exec:
        return reply(repl.aof_acked_replicas(ctx.client.last_write_offset))
    first = not ctx.client.extra.get("unblocked_rerun")
    return repl.wait(  # type: ignore[no-any-return]
        ctx.client, numreplicas, timeout, ctx.now_ms, first, repl.aof_acked_replicas, reply
    )


@command("save", 1, "admin noscript no_multi no_async_loading")
def save(ctx: CommandContext, argv: list[bytes]) -> Reply:
    persistence = server_of(ctx).persistence
    return persistence.save()  # type: ignore[no-any-return]


@command("bgsave", -1, "admin noscript no_multi no_async_loading")
def bgsave(ctx: CommandContext, argv: list[bytes]) -> Reply:
    persistence = server_of(ctx).persistence
    if len(argv) > 2 or (len(argv) == 2 and argv[1].lower() not in (b"schedule", b"cancel")):
        raise CommandError(SYNTAX)
    if len(argv) == 2 and argv[1].lower() == b"cancel":
        return persistence.bgsave_cancel()  # type: ignore[no-any-return]
    return persistence.bgsave(len(argv) == 2)  # type: ignore[no-any-return]


@command("failover", -1, "admin noscript stale")
def failover(ctx: CommandContext, argv: list[bytes]) -> Reply:
    repl = _repl(ctx)
    try:
        request = parse_failover(argv)
    except FailoverSyntaxError as err:
        raise CommandError(str(err)) from None
    if request.abort:
        if repl.failover is FailoverState.NONE:
            raise CommandError("ERR No failover in progress.")
        repl.abort_failover("Failover manually aborted")
        return OK
    refusal = repl.start_failover(request)
    if refusal is not None:
        raise CommandError(refusal)
    return OK
