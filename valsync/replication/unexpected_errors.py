"""A replica never drops a write silently: what happens when a replicated command fails.

Theory of operation (Valkey's ``afterErrorReply`` in networking.c). A replica does not answer
its primary, so an error reply to a command of the primary's stream would go unseen. Valkey
therefore, whenever an error reply is produced for its primary's link (or for one of its
replicas' links):

1. logs at WARNING ``== CRITICAL == This replica is sending an error to its primary: '<error>'
   after processing the command '<command>'`` (``primary``/``replica`` swapped for an error
   sent to a replica; ``<unknown>`` when the command name was not found);
2. on a primary link, when the backlog holds bytes, logs its last 256 bytes (``Latest backlog
   is: '...'``), or, with ``hide-user-data-from-log yes`` (the default), a NOTICE saying so;
3. counts it in INFO stats ``unexpected_error_replies`` (besides ``total_error_replies``);
4. on a primary link of a read-only replica, with ``propagation-error-behavior`` ``panic`` or
   ``panic-on-replicas``, panics with ``This replica panicked sending an error to its primary
   after processing the command '<command>'``; with ``ignore`` (the default) the stream goes on.

The error text is logged as Valkey holds it: shared error objects (WRONGTYPE, ``ERR syntax
error``, BUSYKEY...) with their leading ``-`` and code, errors built by ``addReplyError``
without the ``ERR `` that the reply adds. Nothing here does I/O; the server logs and exits.
"""

from __future__ import annotations

from dataclasses import dataclass

# Valkey's shared error objects (createSharedObjects): logged as "-<CODE> <message>".
SHARED_ERRORS = frozenset(
    {
        "WRONGTYPE Operation against a key holding the wrong kind of value",
        "ERR no such key",
        "ERR syntax error",
        "ERR source and destination objects are the same",
        "ERR index out of range",
        "NOSCRIPT No matching script.",
        "LOADING Valkey is loading the dataset in memory",
        "READONLY You can't write against a read only replica.",
        "NOAUTH Authentication required.",
        "OOM command not allowed when used memory > 'maxmemory'.",
        "EXECABORT Transaction discarded because of previous errors.",
        "NOREPLICAS Not enough good replicas to write.",
        "BUSYKEY Target key name already exists.",
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    }
)
MAX_LOGGED_ERROR = 4096
BACKLOG_DUMP_LEN = 256
BEHAVIORS = ("ignore", "panic", "panic-on-replicas")


@dataclass(frozen=True, slots=True)
class UnexpectedError:
    """What to do about one error reply on a replication link."""

    warning: str
    """The ``== CRITICAL ==`` line, logged at WARNING."""
    show_backlog: bool
    """Log the latest backlog after it (primary links only)."""
    panic: str | None
    """The panic message when the server must stop, else None."""


def error_as_logged(text: str) -> str:
    """The error as Valkey's log line shows it (see the module docstring)."""
    if text in SHARED_ERRORS or not text.startswith("ERR "):
        return "-" + text
    return text[4:]


def unexpected_error(
    error_text: str,
    command: str | None,
    *,
    to_primary: bool,
    behavior: str,
    replica_read_only: bool,
) -> UnexpectedError:
    """Decide the log line and the panic for an error reply sent to our primary
    (``to_primary``) or to one of our replicas."""
    sender, receiver = ("replica", "primary") if to_primary else ("primary", "replica")
    if error_text.startswith("ERR unknown subcommand "):
        command = None  # Valkey's command lookup found no such subcommand
    name = command if command is not None else "<unknown>"
    shown = error_as_logged(error_text)[:MAX_LOGGED_ERROR]
    warning = (
        f"== CRITICAL == This {sender} is sending an error to its {receiver}: '{shown}' "
        f"after processing the command '{name}'"
    )
    panic = None
    if to_primary and replica_read_only and behavior in ("panic", "panic-on-replicas"):
        panic = (
            f"This {sender} panicked sending an error to its {receiver} "
            f"after processing the command '{name}'"
        )
    return UnexpectedError(warning, to_primary, panic)


def backlog_log_line(tail: bytes, hide_user_data: bool) -> tuple[str, str]:
    """(level, line) logged after the CRITICAL line on a primary link with a backlog."""
    if hide_user_data:
        return (
            "notice",
            "hide-user-data-from-log is on, skip logging backlog content to avoid spilling "
            "user data.",
        )
    return "notice", f"Latest backlog is: '{c_repr(tail[-BACKLOG_DUMP_LEN:])}'"


_ESCAPES = {
    0x5C: "\\\\",
    0x22: '\\"',
    0x0A: "\\n",
    0x0D: "\\r",
    0x09: "\\t",
    0x07: "\\a",
    0x08: "\\b",
}


def c_repr(data: bytes) -> str:
    """Valkey's ``sdscatrepr``: a double-quoted C string literal of ``data``."""
    out = ['"']
    for b in data:
        esc = _ESCAPES.get(b)
        if esc is not None:
            out.append(esc)
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    out.append('"')
    return "".join(out)
