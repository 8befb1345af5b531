"""Look a command up, check its arity and run it: the part of Valkey's ``processCommand``/``call``
that does not depend on the connection (auth, MULTI and blocking live in the connection)."""

from __future__ import annotations

from valsync.commands.context import BlockRequest, CommandContext
from valsync.commands.errors import CommandError, wrong_arity
from valsync.commands.registry import COMMANDS, CommandSpec
from valsync.resp.reply import ErrorReply, Reply


def unknown_command_error(argv: list[bytes]) -> ErrorReply:
    """``ERR unknown command 'x', with args beginning with: 'a' 'b' `` as Valkey words it."""
    name = argv[0].decode("utf-8", "replace")
    shown = "".join(f"'{a.decode('utf-8', 'replace')[:128]}' " for a in argv[1:])
    return ErrorReply(f"ERR unknown command '{name[:128]}', with args beginning with: {shown}")


def lookup_command(argv: list[bytes]) -> CommandSpec | ErrorReply:
    spec = COMMANDS.get(argv[0].lower().decode("latin-1"))
    if spec is None:
        return unknown_command_error(argv)
    if not spec.arity_ok(len(argv)):
        return ErrorReply(wrong_arity(spec.name))
    return spec


def call(ctx: CommandContext, spec: CommandSpec, argv: list[bytes]) -> Reply | BlockRequest:
    """Run ``spec``'s handler; a :class:`CommandError` becomes the error reply."""
    dirty_before = ctx.dirty
    try:
        reply = spec.handler(ctx, argv)
    except CommandError as err:
        ctx.finish(argv, spec.is_write, dirty_before)
        return ErrorReply(err.text)
    ctx.finish(argv, spec.is_write, dirty_before)
    return reply


def execute(ctx: CommandContext, argv: list[bytes]) -> Reply | BlockRequest:
    """Look up and run one command (what unit tests and the stream applier use)."""
    spec = lookup_command(argv)
    if isinstance(spec, ErrorReply):
        return spec
    return call(ctx, spec, argv)
