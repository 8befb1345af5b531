"""Valkey's error replies, word for word, and the strict argument parsers that raise them."""

from __future__ import annotations

import math

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
SYNTAX = "ERR syntax error"
NO_SUCH_KEY = "ERR no such key"
INDEX_OUT_OF_RANGE = "ERR index out of range"
OVERFLOW = "ERR increment or decrement would overflow"
NAN_OR_INF = "ERR increment would produce NaN or Infinity"
INVALID_EXPIRE = "ERR invalid expire time in '{}' command"
DB_INDEX_OUT_OF_RANGE = "ERR DB index is out of range"
OOM = "OOM command not allowed when used memory > 'maxmemory'."
READONLY = "READONLY You can't write against a read only replica."
MISCONF_RDB = (  # Valkey's shared.bgsaveerr
    "MISCONF Valkey is configured to save RDB snapshots, but it's currently unable to persist "
    "to disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Valkey logs for details about the "
    "RDB error."
)
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
NOT_OUT_OF_RANGE_POSITIVE = "ERR value is out of range, must be positive"
MIN_MAX_NOT_FLOAT = "ERR min or max is not a float"
MIN_MAX_NOT_STRING = "ERR min or max not valid string range item"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
TIMEOUT_OUT_OF_RANGE = "ERR timeout is out of range"
NUMFIELDS = "ERR numfields should be greater than 0 and match the provided number of fields"

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class CommandError(Exception):
    """Raised by a handler: the reply is ``-<text>``; the command has no effect."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class CommandRejected(CommandError):
    """Raised when Valkey would refuse the command before running it (an unknown subcommand, a
    subcommand's arity): counted as a rejected call, not a call, and never shown to MONITOR.
    ``counted`` False: Valkey found no command to charge it to (an unknown subcommand)."""

    def __init__(self, text: str, counted: bool = True) -> None:
        super().__init__(text)
        self.counted = counted


def wrong_arity(name: str) -> str:
    return f"ERR wrong number of arguments for '{name}' command"


def parse_int(arg: bytes, error: str = NOT_INTEGER) -> int:
    """Valkey's ``string2ll``: strict signed 64-bit decimal (no spaces, no '+', no leading zeros)."""
    if not arg or len(arg) > 20:
        raise CommandError(error)
    digits = arg[1:] if arg[0] == 0x2D else arg
    if (
        not digits.isdigit()
        or (digits[0] == 0x30 and len(digits) > 1)
        or (digits == b"0" and arg[0] == 0x2D)
    ):
        raise CommandError(error)
    value = int(arg)
    if value < INT64_MIN or value > INT64_MAX:
        raise CommandError(error)
    return value


def parse_float(arg: bytes, error: str = NOT_FLOAT) -> float:
    """Valkey's ``string2ld``/``strtod`` rules: finite or +/-inf, never NaN, no spaces."""
    text = arg.decode("latin-1")
    if not text or text != text.strip() or text.lower() in ("nan", "-nan", "+nan"):
        raise CommandError(error)
    try:
        value = float(text)
    except ValueError:
        raise CommandError(error) from None
    if math.isnan(value) or "_" in text:
        raise CommandError(error)
    return value
