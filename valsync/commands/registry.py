"""The command table: name, arity, flags and key positions, as Valkey's COMMAND reports them.

Handler modules register with the :func:`command` decorator; :data:`COMMANDS` maps the
lower-case name to its :class:`CommandSpec`. Arity follows Valkey: positive = exact argc
(command name included), negative = at least ``-arity``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from valsync.resp.reply import Reply

if TYPE_CHECKING:
    from valsync.commands.context import BlockRequest, CommandContext

Handler = Callable[["CommandContext", list[bytes]], "Reply | BlockRequest"]

# Flags in Valkey's words (COMMAND INFO prints them): write, readonly, denyoom, admin, pubsub,
# noscript, blocking, loading, stale, fast, no_auth, may_replicate, no_multi, allow_busy.
KNOWN_FLAGS = frozenset(
    "write readonly denyoom admin pubsub noscript blocking loading stale fast no_auth "
    "may_replicate no_multi allow_busy skip_monitor skip_slowlog asking movablekeys "
    "no_async_loading".split()
)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    handler: Handler
    arity: int
    flags: frozenset[str]
    first_key: int = 0
    last_key: int = 0
    step: int = 0
    is_write: bool = False
    flags_for: Callable[[object, list[bytes]], frozenset[str]] | None = None
    """Flags that depend on the arguments (EVAL/FCALL take their script's flags), given the
    server and argv; None = always :attr:`flags`."""
    argc: range = range(0)
    """The argument counts :attr:`arity` allows, for a test in one step (``in``)."""

    def __post_init__(self) -> None:
        arity = self.arity
        allowed = range(arity, arity + 1) if arity > 0 else range(-arity, 1 << 62)
        object.__setattr__(self, "argc", allowed)

    def effective_flags(self, server: object, argv: list[bytes]) -> frozenset[str]:
        return self.flags if self.flags_for is None else self.flags_for(server, argv)

    def arity_ok(self, argc: int) -> bool:
        return argc == self.arity if self.arity > 0 else argc >= -self.arity

    def key_positions(self, argv: list[bytes]) -> list[int]:
        """Indexes of key arguments (first/last/step form; ``last_key`` -1 = up to the end)."""
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        return list(range(self.first_key, min(last, len(argv) - 1) + 1, max(self.step, 1)))


COMMANDS: dict[str, CommandSpec] = {}


def command(
    name: str,
    arity: int,
    flags: str = "",
    first_key: int = 0,
    last_key: int = 0,
    step: int = 0,
) -> Callable[[Handler], Handler]:
    """Register a handler under ``name`` (lower case)."""
    flag_set = frozenset(flags.split())
    unknown = flag_set - KNOWN_FLAGS
    if unknown:
        raise ValueError(f"unknown flags {unknown} for {name}")

    def register(handler: Handler) -> Handler:
        key = name.lower()
        if key in COMMANDS:
            raise ValueError(f"command {key} registered twice")
        COMMANDS[key] = CommandSpec(
            key,
            handler,
            arity,
            flag_set,
            first_key,
            last_key,
            step,
            "write" in flag_set,
        )
        return handler

    return register


# Commands with subcommands: CLIENT LIST and INFO commandstats show them as ``client|list``.
CONTAINER_COMMANDS = frozenset(
    "client config command object slowlog commandlog latency memory script function pubsub "
    "xinfo xgroup acl cluster module".split()
)


def command_fullname(name: str, argv: list[bytes]) -> str:
    """``client|list`` for a subcommand, as CLIENT LIST and Valkey's logs show it."""
    if name in CONTAINER_COMMANDS and len(argv) > 1:
        return f"{name}|{argv[1].lower().decode('latin-1')}"
    return name
