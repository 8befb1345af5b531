"""Look a command up, check its arity and run it: the part of Valkey's ``processCommand``/``call``
that does not depend on the connection (auth, MULTI and blocking live in the connection)."""

from __future__ import annotations

from valsync.commands.context import BlockRequest, CommandContext
from valsync.commands.errors import CommandError, wrong_arity
from valsync.commands.registry import COMMANDS, CommandSpec
from valsync.resp.reply import ErrorReply, Reply


def unknown_command_error(argv: list[bytes]) -> ErrorReply:
    """``ERR unknown command 'x', with args beginning with: 'a' 'b' `` as Valkey words it: the
    raw bytes of each argument up to a NUL (``%s``), the name cut at 128 bytes and the
    arguments shown while fewer than 128 bytes of them are."""
    shown = b""
    for arg in argv[1:]:
        if len(shown) >= 128:
            break
        shown += b"'" + arg.split(b"\0", 1)[0][: 128 - len(shown)] + b"' "
    name = argv[0].split(b"\0", 1)[0][:128]
    text = b"ERR unknown command '" + name + b"', with args beginning with: " + shown
    return ErrorReply(text.decode("utf-8", "surrogateescape"))


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
