"""MONITOR's view of executed commands, and what it (and the command log) must not reveal.

Each executed command becomes one status line for every monitoring client::

    +<unix seconds>.<microseconds> [<db> <client addr>] "arg" "arg"...

(``[<db> lua]`` for a command a script ran). Arguments are quoted as Valkey's ``sdscatrepr``
does: ``\\\\``, ``\\"``, ``\\n``, ``\\r``, ``\\t``, ``\\a``, ``\\b`` escaped, other bytes outside
printable ASCII as ``\\xhh``. Valkey leaves out commands flagged ``admin`` or ``skip_monitor``,
rejected commands, and re-runs of a command that was blocked (it was shown once already).
Passwords are replaced by ``(redacted)`` in MONITOR and in the command log alike.
"""

from __future__ import annotations

import time

REDACTED = b"(redacted)"
# CONFIG SET values Valkey flags as sensitive.
SENSITIVE_CONFIGS = frozenset(
    {
        b"requirepass",
        b"masterauth",
        b"primaryauth",
        b"masteruser",
        b"primaryuser",
        b"tls-key-file-pass",
        b"tls-client-key-file-pass",
    }
)

# Subcommands whose command table entry carries the admin flag, which hides them from MONITOR
# (the container itself is not admin: CLIENT INFO is shown, CLIENT LIST is not).
ADMIN_SUBCOMMANDS = frozenset(
    "client|kill client|list client|no-evict client|pause client|unblock client|unpause "
    "commandlog|get commandlog|len commandlog|reset config|get config|resetstat "
    "config|rewrite config|set latency|doctor latency|graph latency|histogram "
    "latency|history latency|latest latency|reset slowlog|get slowlog|len slowlog|reset "
    "acl|deluser acl|dryrun acl|getuser acl|list acl|load acl|log acl|save acl|setuser "
    "acl|users module|list module|load module|loadex module|unload".split()
)

_ESCAPES = {
    0x5C: b"\\\\",
    0x22: b'\\"',
    0x0A: b"\\n",
    0x0D: b"\\r",
    0x09: b"\\t",
    0x07: b"\\a",
    0x08: b"\\b",
}
_REPR = [_ESCAPES.get(c, bytes([c]) if 0x20 <= c < 0x7F else b"\\x%02x" % c) for c in range(256)]


def quote(arg: bytes) -> bytes:
    """``sdscatrepr``: the argument in double quotes with C-style escapes."""
    if arg.isascii() and arg.isalnum():
        return b'"' + arg + b'"'
    return b'"' + b"".join([_REPR[c] for c in arg]) + b'"'


def monitor_line(dbid: int, source: str, argv: list[bytes], now_us: int | None = None) -> bytes:
    """The status line MONITOR clients receive for one command (``source``: addr or "lua")."""
    sec, usec = divmod(time.time_ns() // 1000 if now_us is None else now_us, 1_000_000)
    head = b"+%d.%06d [%d %s] " % (sec, usec, dbid, source.encode())
    return head + b" ".join([quote(a) for a in argv]) + b"\r\n"


def redact(name: str, argv: list[bytes]) -> list[bytes]:
    """``argv`` as MONITOR and the command log show it (secrets replaced)."""
    if name == "auth":
        return [argv[0]] + [REDACTED] * (len(argv) - 1)
    if name == "hello":
        out = list(argv)
        i = 2
        while i < len(out):
            opt = out[i].lower()
            if opt == b"auth" and i + 2 < len(out):
                out[i + 1] = out[i + 2] = REDACTED
                i += 3
            elif opt == b"setname" and i + 1 < len(out):
                i += 2
            else:
                break
        return out
    if name in ("acl|setuser", "acl|deluser", "acl|getuser"):
        return argv[:2] + [REDACTED] * (len(argv) - 2)
    if name == "migrate":
        out = list(argv)
        i = 6
        while i < len(out):
            opt = out[i].lower()
            if opt == b"keys":
                break
            if opt == b"auth" and i + 1 < len(out):
                out[i + 1] = REDACTED
                i += 1
            elif opt == b"auth2" and i + 2 < len(out):
                out[i + 1] = out[i + 2] = REDACTED
                i += 2
            i += 1
        return out
    if name == "config|set":
        out = list(argv)
        for i in range(2, len(out) - 1, 2):
            if out[i].lower() in SENSITIVE_CONFIGS:
                out[i + 1] = REDACTED
        return out
    return argv


REDACTED_COMMANDS = frozenset(
    {"auth", "hello", "config|set", "acl|setuser", "acl|deluser", "acl|getuser", "migrate"}
)
