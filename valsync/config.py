"""Server configuration with Valkey's directive names, defaults, parsing and error texts.

Theory of operation: one table (``_SPECS``) lists each directive once, with its aliases, flags
(immutable, protected, hidden, multi-argument) and a spec object that parses argument words
into a Python value and formats that value back into ``CONFIG GET`` text. Startup
(``Config.from_args``) and ``CONFIG SET`` (``Config.config_set``) both go through that table,
and each mirrors one Valkey routine so that messages match byte for byte:

* startup = ``main()`` turning ``--name value`` into config lines appended to the file, then
  ``loadServerConfigFromString`` (errors: the ``*** FATAL CONFIG FILE ERROR`` block);
* ``CONFIG SET`` = ``configSetCommand`` (unknown/immutable/protected/duplicate checks over all
  pairs first, then every value parsed; nothing changes unless all succeed);
* ``CONFIG GET`` = ``configGetCommand`` (exact names, including hidden ones and aliases,
  answered under the name asked; glob patterns match every visible name and alias).

Differences on purpose: ``dir`` is stored as an absolute path instead of calling ``chdir``
(callers join paths with :attr:`Config.rdb_path` / :attr:`Config.logfile_path`), and
``appendonly yes`` / ``cluster-enabled yes`` are refused because valsync has neither.
"""

from __future__ import annotations

import errno
import glob
import locale
import math
import os
import re
import socket
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from valsync import VALKEY_COMPAT_VERSION
from valsync.config_rewrite import RewriteLine, format_memory, rewrite_config_text
from valsync.keyspace.canonical import strtod_whole
from valsync.keyspace.glob import stringmatch as glob_match

__all__ = ["Config", "ConfigError", "split_args", "stringmatch"]


class ConfigError(Exception):
    """A configuration problem; ``str(err)`` is the text Valkey prints or replies.

    For ``CONFIG SET`` it is the whole error reply (``ERR ...``). At startup it is the
    ``*** FATAL CONFIG FILE ERROR ...`` block (without the blank line Valkey prints before it),
    or, when ``log_line`` is true, a message Valkey writes as a warning log line instead
    (``Fatal error, can't open config file ...``). ``reason`` is the bare cause.
    """

    def __init__(self, message: str, reason: str = "", *, log_line: bool = False) -> None:
        super().__init__(message)
        self.reason = reason or message
        self.log_line = log_line

    @property
    def stderr_text(self) -> str:
        """Exactly what valkey-server writes to stderr for a fatal block (log lines excepted)."""
        return f"\n{self}\n"


class _Invalid(Exception):
    """A value was refused; the argument is Valkey's reason text."""


# --- Valkey's small parsers ------------------------------------------------------------------

_LLONG_MIN = -(2**63)
_LLONG_MAX = 2**63 - 1
_INT_MIN = -(2**31)
_INT_MAX = 2**31 - 1
_UINT_MAX = 2**32 - 1
_LONG_MAX = _LLONG_MAX
_ULLONG_MAX = 2**64 - 1
_STRING2LL = re.compile(r"0|-?[1-9][0-9]*")
_STRTOL = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_MEM_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3}
_MEM_UNITS["gb"] = 1024**3


def _string2ll(text: str) -> int | None:
    """Valkey's strict integer parser: no sign '+', no spaces, no leading zeros."""
    if len(text) > 20 or _STRING2LL.fullmatch(text) is None:
        return None
    value = int(text)
    return value if _LLONG_MIN <= value <= _LLONG_MAX else None


def _strtoll_whole(text: str) -> int | None:
    """``strtoll(s, &end, 10)`` accepted only when ``*end == '\\0'`` (save, buffer seconds)."""
    if text == "":
        return 0  # strtoll converts nothing and leaves end at the terminating NUL
    m = _STRTOL.match(text)
    if m is None or m.end() != len(text):
        return None
    number = m.group(1)
    if len(number.lstrip("+-").lstrip("0")) > 19:  # beyond any long long: strtoll saturates
        return _LLONG_MIN if number.startswith("-") else _LLONG_MAX
    return max(_LLONG_MIN, min(_LLONG_MAX, int(number)))


def _c_string(text: str) -> str:
    """What C code sees of a CONFIG SET argument: the text up to the first NUL."""
    return text.split("\x00", 1)[0]


def _memtoull(text: str) -> int | None:
    """Valkey's memory parser: digits then b, k (1000), kb (1024), m, mb, g, gb (any case)."""
    if text.startswith("-"):
        return None
    i = 0
    while i < len(text) and text[i].isascii() and text[i].isdigit():
        i += 1
    mul = _MEM_UNITS.get(text[i:].lower())
    if mul is None or i >= 128:  # Valkey copies the digits to a 128-byte buffer
        return None
    digits = int(text[:i]) if i else 0  # "" and "kb" parse as 0, as strtoull does
    return min(digits, _ULLONG_MAX) * mul % 2**64


def split_args(line: str) -> list[str] | None:
    """Valkey's ``sdssplitargs``: words, "double" quotes with escapes, 'single' quotes.

    Returns None for unbalanced quotes or a closing quote not followed by a space.
    """
    out: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return out
        cur: list[str] = []
        inq = insq = False
        while True:
            c = line[i] if i < n else ""
            if inq:
                if c == "\\" and line[i + 1 : i + 2] == "x" and _is_hex(line[i + 2 : i + 4]):
                    cur.append(chr(int(line[i + 2 : i + 4], 16)))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        return None
                    i += 1
                    break
                elif c == "":
                    return None
                else:
                    cur.append(c)
            elif insq:
                if c == "\\" and line[i + 1 : i + 2] == "'":
                    i += 1
                    cur.append("'")
                elif c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        return None
                    i += 1
                    break
                elif c == "":
                    return None
                else:
                    cur.append(c)
            elif c in (" ", "\n", "\r", "\t", ""):
                break
            elif c == '"':
                inq = True
            elif c == "'":
                insq = True
            else:
                cur.append(c)
            i += 1
        out.append("".join(cur))


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}


def _is_hex(s: str) -> bool:
    return len(s) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in s)


def _repr(text: str) -> str:
    """Valkey's ``sdscatrepr``: how a command-line value shows in the fatal-error block."""
    out = ['"']
    for b in text.encode("utf-8", "surrogateescape"):
        ch = chr(b)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _REPR_ESCAPES:
            out.append(_REPR_ESCAPES[ch])
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{b:02x}")
    out.append('"')
    return "".join(out)


_REPR_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b"}


def stringmatch(pattern: str, text: str, nocase: bool = True) -> bool:
    """Valkey's ``stringmatchlen`` glob on directive names (see :mod:`valsync.keyspace.glob`)."""
    return glob_match(pattern.encode(), text.encode(), nocase)


# --- Directive specs ---------------------------------------------------------------------------

Value = object


class _Spec:
    """How one directive's words become a value and the value becomes CONFIG GET text."""

    multi_arg = False

    def default(self) -> Value:
        raise NotImplementedError

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        raise NotImplementedError

    def fmt(self, value: Value) -> str:
        raise NotImplementedError

    def rewrite(self, name: str, value: Value) -> list[RewriteLine]:
        """CONFIG REWRITE's lines for this directive (Valkey's per-type rewrite functions)."""
        return [RewriteLine(name, f"{name} {self.fmt(value)}", value != self.default())]


@dataclass
class _LoadState:
    """What Valkey's loader remembers across lines (``save`` lines add up after the first)."""

    save_loaded: bool = False
    dir: str = ""


class _Bool(_Spec):
    def __init__(self, default: bool, refuse_yes: str = "") -> None:
        self._default = default
        self._refuse_yes = refuse_yes

    def default(self) -> Value:
        return self._default

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        word = _c_string(args[0]).lower()
        if word not in ("yes", "no"):
            raise _Invalid("argument must be 'yes' or 'no'")
        if word == "yes" and self._refuse_yes:
            raise _Invalid(self._refuse_yes)
        return word == "yes"

    def fmt(self, value: Value) -> str:
        return "yes" if value else "no"


class _Int(_Spec):
    """Integer; with ``memory`` the value also takes Valkey's units and rejects plain signs."""

    def __init__(
        self, default: int, lo: int, hi: int, memory: bool = False, percent: bool = False
    ) -> None:
        self._default, self.lo, self.hi, self.memory = default, lo, hi, memory
        self.percent = percent
        """A value ``N%`` is kept as ``-N`` (Valkey's PERCENT_CONFIG)."""

    def default(self) -> Value:
        return self._default

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        if self.memory:
            value = _memtoull(_c_string(args[0]))
            if value is None:
                value = self._percent(args[0])
            if value is None:
                raise _Invalid(
                    "argument must be a memory or percent value"
                    if self.percent
                    else "argument must be a memory value"
                )
            if self.hi <= _LLONG_MAX and value > _LLONG_MAX:
                value -= 2**64  # stored in a signed C type, as Valkey does
            if value < 0 and self.percent:
                if value < self.lo:
                    raise _Invalid(f"percentage argument must be less or equal to {-self.lo}")
                return value
        else:
            parsed = _string2ll(args[0])
            if parsed is None:
                raise _Invalid("argument couldn't be parsed into an integer")
            value = parsed
            if value < 0 and self.hi == _ULLONG_MAX:
                return value  # an unsigned long: seen as 2^64 + value, within the range
        if not self.lo <= value <= self.hi:
            raise _Invalid(f"argument must be between {self.lo} and {self.hi} inclusive")
        return value

    def _percent(self, text: str) -> int | None:
        if not self.percent or len(text) < 2 or not text.endswith("%"):
            return None
        number = _string2ll(text[:-1])
        return -number if number is not None and number >= 0 else None

    def fmt(self, value: Value) -> str:
        assert isinstance(value, int)
        return f"{-value}%" if self.percent and value < 0 else str(value)

    def rewrite(self, name: str, value: Value) -> list[RewriteLine]:
        assert isinstance(value, int)
        text = format_memory(value) if self.memory and value >= 0 else self.fmt(value)
        return [RewriteLine(name, f"{name} {text}", value != self._default)]


class _Octal(_Int):
    """An octal integer (``unixsocketperm 700``), shown back in octal."""

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        try:
            value = int(args[0], 8)
        except ValueError:
            raise _Invalid("argument couldn't be parsed into an integer") from None
        if not self.lo <= value <= self.hi:
            raise _Invalid(f"argument must be between {self.lo} and {self.hi} inclusive")
        return value

    def fmt(self, value: Value) -> str:
        assert isinstance(value, int)
        return f"{value:o}"

    def rewrite(self, name: str, value: Value) -> list[RewriteLine]:
        return [RewriteLine(name, f"{name} {self.fmt(value)}", value != self._default)]


class _Enum(_Spec):
    def __init__(self, default: str, names: Sequence[str]) -> None:
        self._default, self.names = default, tuple(names)

    def default(self) -> Value:
        return self._default

    def _error(self) -> _Invalid:
        return _Invalid("argument(s) must be one of the following: " + ", ".join(self.names))

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        word = _c_string(args[0]).lower()
        if word not in self.names:
            raise self._error()
        return word

    def fmt(self, value: Value) -> str:
        return str(value)


class _ShutdownFlags(_Enum):
    """``shutdown-on-sigterm``/``-sigint``: several words OR-ed into flags (multi-arg enum)."""

    multi_arg = True
    _BITS = {"default": 0, "save": 1, "nosave": 2, "now": 4, "force": 8}

    def __init__(self) -> None:
        super().__init__("default", tuple(self._BITS))

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        if not args:
            raise self._error()
        bits = 0
        for word in args:
            if word.lower() not in self._BITS:
                raise self._error()
            bits |= self._BITS[word.lower()]
        if bits & 1 and bits & 2:
            raise _Invalid("shutdown options SAVE and NOSAVE can't be used simultaneously")
        return self.fmt_bits(bits)

    def fmt_bits(self, bits: int) -> str:
        if bits == 0:
            return "default"
        return " ".join(name for name, bit in self._BITS.items() if bit and bits & bit)


class _Str(_Spec):
    """A string directive; Valkey keeps most in a C string (cut at the first NUL), the
    ``binary`` ones in an sds (passwords, availability-zone)."""

    def __init__(
        self,
        default: str = "",
        check: Callable[[str], None] | None = None,
        *,
        binary: bool = False,
        check_whole: bool = False,
    ) -> None:
        """``check_whole``: the check sees the text past a NUL too (Valkey passes the sds)."""
        self._default, self._check, self._binary = default, check, binary
        self._check_whole = check_whole

    def default(self) -> Value:
        return self._default

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        text = args[0] if self._binary else _c_string(args[0])
        if self._check is not None:
            self._check(args[0] if self._check_whole else text)
        return text

    def rewrite(self, name: str, value: Value) -> list[RewriteLine]:
        return [RewriteLine(name, f"{name} {_repr(str(value))}", value != self._default)]

    def fmt(self, value: Value) -> str:
        return str(value)


class _OomScoreValues(_Str):
    """``oom-score-adj-values``: three integers in [-2000, 2000] (primary, replica, child)."""

    multi_arg = True

    def __init__(self) -> None:
        super().__init__("0 200 800")

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        if len(args) != 3:
            raise _Invalid("wrong number of arguments")
        values = []
        for word in args:
            value = _strtoll_whole(_c_string(word))
            if value is None or not -2000 <= value <= 2000:
                raise _Invalid(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                )
            values.append(value)
        return " ".join(str(v) for v in values)

    def rewrite(self, name: str, value: Value) -> list[RewriteLine]:
        return [RewriteLine(name, f"{name} {value}", value != self._default)]


class _KeyspaceEvents(_Spec):
    """``notify-keyspace-events``: class letters, shown in Valkey's canonical order."""

    _ALL = "g$lshzxetd"  # what 'A' stands for
    _ORDER = "g$lshzxetdn"

    def default(self) -> Value:
        return ""

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        if len(args) != 1:
            raise _Invalid("wrong number of arguments")
        classes: set[str] = set()
        for ch in _c_string(args[0]):
            if ch == "A":
                classes.update(self._ALL)
            elif ch in self._ORDER or ch in "KEm":
                classes.add(ch)
            else:
                raise _Invalid("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        if set(self._ALL) <= classes:
            text = "An" if "n" in classes else "A"
        else:
            text = "".join(ch for ch in self._ORDER if ch in classes)
        return text + "".join(ch for ch in "KEm" if ch in classes)

    def fmt(self, value: Value) -> str:
        # like Valkey's keyspaceEventsFlagsToString, "A" hides "n" (which it does not include)
        return str(value).replace("An", "A")

    def rewrite(self, name: str, value: Value) -> list[RewriteLine]:
        return [RewriteLine(name, f"{name} {_repr(str(value))}", value != "")]


class _Percentiles(_Spec):
    """``latency-tracking-info-percentiles``: numbers in [0, 100], printed as ``%f`` trimmed."""

    multi_arg = True

    def default(self) -> Value:
        return (50.0, 99.0, 99.9)

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        values = []
        if len(args) == 1 and args[0] == "":
            return ()
        for word in args:
            # string2d: the whole text through strtod, no leading space, no overflow, no NaN
            raw = word.encode("utf-8", "surrogateescape")
            parsed = strtod_whole(raw) if raw and raw[:1] not in b" \t\n\v\f\r" else None
            if parsed is None or parsed[1] or math.isnan(parsed[0]):
                raise _Invalid("Invalid latency-tracking-info-percentiles parameters")
            value = parsed[0]
            if not 0.0 <= value <= 100.0:
                raise _Invalid(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                )
            values.append(value)
        return tuple(values)

    def fmt(self, value: Value) -> str:
        assert isinstance(value, tuple)
        return " ".join(format_percentile(v) for v in value)


def format_percentile(p: float) -> str:
    """``%f`` with trailing zeros (and a trailing dot) trimmed, as Valkey prints percentiles."""
    text = f"{p:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _check_ip(family: socket.AddressFamily, what: str) -> Callable[[str], None]:
    def check(text: str) -> None:
        if text == "":
            return
        try:
            socket.inet_pton(family, text)
        except (OSError, ValueError, UnicodeError):
            raise _Invalid(f"Invalid {what} address") from None

    return check


_HOSTNAME = re.compile(rb"[A-Za-z0-9.-]*")
NET_HOST_STR_LEN = 256


def _check_hostname(text: str) -> None:
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) >= NET_HOST_STR_LEN:
        raise _Invalid(f"Hostnames must be less than {NET_HOST_STR_LEN} characters")
    if _HOSTNAME.fullmatch(raw) is None:
        raise _Invalid("Hostnames may only contain alphanumeric characters, hyphens or dots")


def _check_locale(name: str) -> None:
    """Valkey applies it with ``setlocale(LC_COLLATE)``; valsync collates as the C locale, so
    the name is only checked (and the process's locale left as it was)."""
    previous = locale.setlocale(locale.LC_COLLATE)
    try:
        locale.setlocale(locale.LC_COLLATE, name)
    except (locale.Error, ValueError):
        raise _Invalid("Invalid locale name") from None
    finally:
        locale.setlocale(locale.LC_COLLATE, previous)


_AUX_INVALID = frozenset(b"!#$%&()*+;<>?@[]^{|}~\x00")


def _check_human_nodename(text: str) -> None:
    if any(b in _AUX_INVALID for b in text.encode("utf-8", "surrogateescape")):
        raise _Invalid("Announced human node name contained invalid character")


# What each proc-title-template variable expands to when validating (Valkey expands with
# an empty title; only an empty result or an unknown or unclosed variable is refused).
_PROC_TITLE_VARS = {
    "title": "",
    "listen-addr": "*:0",
    "server-mode": "",
    "config-file": "-",
    "port": "0",
    "tls-port": "0",
    "unixsocket": "",
}


def _check_proc_title(template: str) -> None:
    out: list[str] = []
    p = 0
    while p < len(template):
        start = template.find("{", p)
        if start < 0:
            out.append(template[p:])
            break
        out.append(template[p:start])
        start += 1
        if start < len(template) and template[start] == "{":
            out.append("{")
            p = start + 1
            continue
        end = template.find("}", start)
        value = _PROC_TITLE_VARS.get(template[start:end]) if end >= 0 else None
        if value is None:
            raise _Invalid("template format is invalid or contains unknown variables")
        out.append(value)
        p = end + 1
    if not "".join(out).strip(" "):
        raise _Invalid("template format is invalid or contains unknown variables")


def _no_rdma(_text: str) -> None:
    raise _Invalid("No RDMA building support.")


class _RdmaPort(_Int):
    """Parsed as any port; a change is refused as this build has no RDMA (as 8.1.8's)."""

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        value = super().parse(args, current, loading)
        if value != current and loading is None:
            raise _Invalid("No RDMA building support.")
        return value


def _check_dbfilename(name: str) -> None:
    if name == "":
        raise _Invalid("dbfilename can't be empty")
    if "/" in name:
        raise _Invalid("dbfilename can't be a path, just a filename")


class _Dir(_Spec):
    """``dir``: must be an enterable directory; kept absolute (Valkey chdirs and shows getcwd)."""

    def default(self) -> Value:
        return os.getcwd()

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        if len(args) != 1:
            raise _Invalid("wrong number of arguments")
        if args[0] == "":
            raise _Invalid("dir can't be empty")
        if "\x00" in args[0]:
            # C's chdir sees the path cut at the NUL: an empty path
            raise _Invalid(os.strerror(errno.ENOENT))
        # Relative to the previous dir, since Valkey has already chdir'ed there.
        path = os.path.realpath(os.path.join(str(current), args[0]))
        if not os.path.exists(path):
            raise _Invalid(os.strerror(errno.ENOENT))
        if not os.path.isdir(path):
            raise _Invalid(os.strerror(errno.ENOTDIR))
        if not os.access(path, os.X_OK):
            raise _Invalid(os.strerror(errno.EACCES))
        return path

    def fmt(self, value: Value) -> str:
        return str(value)

    def rewrite(self, name: str, value: Value) -> list[RewriteLine]:
        return [RewriteLine(name, f"{name} {_repr(str(value))}", True)]


class _Save(_Spec):
    multi_arg = True

    def default(self) -> Value:
        return [(3600, 1), (300, 100), (60, 10000)]

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        args = [_c_string(word) for word in args]
        if len(args) == 1 and args[0] == "":
            args = []
        if len(args) % 2:
            raise _Invalid("Invalid save parameters")
        nums: list[int] = []
        for j, word in enumerate(args):
            val = _strtoll_whole(word)
            if val is None or (j % 2 == 0 and val < 1) or (j % 2 == 1 and val < 0):
                raise _Invalid("Invalid save parameters")
            nums.append(val)
        # the number of changes is kept in a C int: its low 32 bits, signed
        points = [(nums[j], (nums[j + 1] + 2**31) % 2**32 - 2**31) for j in range(0, len(nums), 2)]
        if loading is not None:
            # In a config file, the first "save" line replaces the defaults, later ones add.
            if not loading.save_loaded or not args:
                loading.save_loaded = True
                return points
            assert isinstance(current, list)
            return [*current, *points]
        return points

    def fmt(self, value: Value) -> str:
        assert isinstance(value, list)
        return " ".join(f"{s} {c}" for s, c in value)

    def rewrite(self, name: str, value: Value) -> list[RewriteLine]:
        assert isinstance(value, list)
        line = f"{name} {self.fmt(value)}" if value else f'{name} ""'
        return [RewriteLine(name, line, True)]


_OBUF_CLASSES = ("normal", "replica", "pubsub")
_OBUF_NAMES = {"normal": "normal", "slave": "replica", "replica": "replica", "pubsub": "pubsub"}


class _OutputBufferLimit(_Spec):
    multi_arg = True

    def default(self) -> Value:
        return {
            "normal": (0, 0, 0),
            "replica": (256 * 1024 * 1024, 64 * 1024 * 1024, 60),
            "pubsub": (32 * 1024 * 1024, 8 * 1024 * 1024, 60),
        }

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        if len(args) % 4:
            raise _Invalid("Wrong number of arguments in buffer limit configuration.")
        assert isinstance(current, dict)
        new = dict(current)
        for j in range(0, len(args), 4):
            cls = _OBUF_NAMES.get(args[j].lower())
            if cls is None:
                raise _Invalid("Invalid client class specified in buffer limit configuration.")
            hard, soft = _memtoull(args[j + 1]), _memtoull(args[j + 2])
            secs = _strtoll_whole(args[j + 3])
            if secs is not None:  # Valkey keeps it in a C int: the low 32 bits, signed
                secs = (secs + 2**31) % 2**32 - 2**31
            if hard is None or soft is None or secs is None or secs < 0:
                raise _Invalid(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                )
            new[cls] = (hard, soft, secs)
        return new

    def fmt(self, value: Value) -> str:
        assert isinstance(value, dict)
        return " ".join(
            f"{'slave' if c == 'replica' else c} {h} {s} {t}"
            for c, (h, s, t) in ((c, value[c]) for c in _OBUF_CLASSES)
        )

    def rewrite(self, name: str, value: Value) -> list[RewriteLine]:
        assert isinstance(value, dict)
        default = self.default()
        assert isinstance(default, dict)
        return [
            RewriteLine(
                name,
                f"{name} {'slave' if c == 'replica' else c} {format_memory(value[c][0])} "
                f"{format_memory(value[c][1])} {value[c][2]}",
                value[c] != default[c],
            )
            for c in _OBUF_CLASSES
        ]


class _Bind(_Spec):
    multi_arg = True

    def default(self) -> Value:
        return ["*", "-::*"]

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        if len(args) > 16:
            raise _Invalid("Too many bind addresses specified.")
        if len(args) == 1 and args[0] == "":
            return []
        return list(args)

    def fmt(self, value: Value) -> str:
        assert isinstance(value, list)
        return " ".join(value)

    def rewrite(self, name: str, value: Value) -> list[RewriteLine]:
        assert isinstance(value, list)
        addresses = self.fmt(value) if value else '""'
        return [RewriteLine(name, f"{name} {addresses}", value != self.default())]


class _ReplicaOf(_Spec):
    multi_arg = True

    def default(self) -> Value:
        return None

    def parse(self, args: list[str], current: Value, loading: _LoadState | None) -> Value:
        if len(args) != 2:
            raise _Invalid("wrong number of arguments")
        if args[0].lower() == "no" and args[1].lower() == "one":
            return None
        port = _strtoll_whole(args[1])
        if port is None or not 0 <= port <= 65535:
            raise _Invalid("Invalid primary port")
        return (args[0], port)

    def fmt(self, value: Value) -> str:
        if value is None:
            return ""
        assert isinstance(value, tuple)
        return f"{value[0]} {value[1]}"

    def rewrite(self, name: str, value: Value) -> list[RewriteLine]:
        """Written from the live replication state (see :meth:`Config.rewrite_text`)."""
        if value is None:
            return [RewriteLine(name, None, False)]
        return [RewriteLine(name, f"{name} {self.fmt(value)}", True)]


@dataclass(frozen=True)
class _Directive:
    name: str
    spec: _Spec
    aliases: tuple[str, ...] = ()
    immutable: bool = False
    protected: bool = False  # needs enable-protected-configs (yes, or local for local clients)
    hidden: bool = False  # answered only to an exact CONFIG GET name, never to a pattern
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", (self.name, *self.aliases))


def _d(name: str, spec: _Spec, *aliases: str, **flags: bool) -> _Directive:
    return _Directive(name, spec, tuple(aliases), **flags)


_MB = 1024 * 1024
_PROTECTED = ("no", "yes", "local")
_LOGLEVELS = ("debug", "verbose", "notice", "warning", "nothing")
_POLICIES = (
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
)

# Names, aliases, defaults, ranges and flags as in Valkey 8.1.8's config.c (checked against
# CONFIG GET of a running 8.1.8; see tests/integration/test_config_vs_valkey.py).
_SPECS: tuple[_Directive, ...] = (
    # network
    _d("port", _Int(6379, 0, 65535)),
    _d("bind", _Bind()),
    _d("protected-mode", _Bool(True)),
    _d("tcp-backlog", _Int(511, 0, _INT_MAX), immutable=True),
    _d("unixsocket", _Str(), immutable=True),
    _d("timeout", _Int(0, 0, _INT_MAX)),
    _d("tcp-keepalive", _Int(300, 0, _INT_MAX)),
    # general
    _d("daemonize", _Bool(False), immutable=True),  # accepted, valsync never daemonizes
    _d("supervised", _Enum("no", ("upstart", "systemd", "auto", "no")), immutable=True),
    _d("pidfile", _Str(), immutable=True),
    _d("loglevel", _Enum("notice", _LOGLEVELS)),
    _d("logfile", _Str(), immutable=True),
    _d("databases", _Int(16, 1, _INT_MAX), immutable=True),
    _d("always-show-logo", _Bool(False), immutable=True),
    _d("set-proc-title", _Bool(True), immutable=True),
    _d("enable-protected-configs", _Enum("no", _PROTECTED), immutable=True),
    _d("enable-debug-command", _Enum("no", _PROTECTED), immutable=True),
    _d("enable-module-command", _Enum("no", _PROTECTED), immutable=True),
    _d("cluster-enabled", _Bool(False, "cluster mode is not supported by valsync"), immutable=True),
    # snapshotting
    _d("save", _Save()),
    _d("stop-writes-on-bgsave-error", _Bool(True)),
    _d("rdbcompression", _Bool(True)),
    _d("rdbchecksum", _Bool(True), immutable=True),
    _d("dbfilename", _Str("dump.rdb", _check_dbfilename), protected=True),
    _d("dir", _Dir(), protected=True),
    _d("rdb-del-sync-files", _Bool(False)),
    _d("rdb-version-check", _Enum("strict", ("strict", "relaxed"))),
    _d("rdb-key-save-delay", _Int(0, _INT_MIN, _INT_MAX), hidden=True),
    _d("key-load-delay", _Int(0, _INT_MIN, _INT_MAX), hidden=True),
    _d("loading-process-events-interval-bytes", _Int(2 * _MB, 1024, _INT_MAX), hidden=True),
    # replication
    _d("replicaof", _ReplicaOf(), "slaveof", immutable=True),
    _d("primaryauth", _Str(binary=True), "masterauth"),
    _d("primaryuser", _Str(), "masteruser"),
    _d("replica-serve-stale-data", _Bool(True), "slave-serve-stale-data"),
    _d("replica-read-only", _Bool(True), "slave-read-only"),
    _d("repl-diskless-sync", _Bool(True)),
    _d("repl-diskless-sync-delay", _Int(5, 0, _INT_MAX)),
    _d("repl-diskless-sync-max-replicas", _Int(0, 0, _INT_MAX)),
    _d(
        "repl-diskless-load",
        _Enum("disabled", ("disabled", "on-empty-db", "swapdb", "flush-before-load")),
    ),
    _d("dual-channel-replication-enabled", _Bool(False)),
    _d("repl-ping-replica-period", _Int(10, 1, _INT_MAX), "repl-ping-slave-period"),
    _d("repl-timeout", _Int(60, 1, _INT_MAX)),
    _d("repl-disable-tcp-nodelay", _Bool(False)),
    _d("repl-backlog-size", _Int(10 * _MB, 1, _LLONG_MAX, memory=True)),
    _d("repl-backlog-ttl", _Int(3600, 0, _LONG_MAX)),
    _d("replica-priority", _Int(100, 0, _INT_MAX), "slave-priority"),
    _d("replica-announce-ip", _Str(), "slave-announce-ip"),
    _d("replica-announce-port", _Int(0, 0, 65535), "slave-announce-port"),
    _d("replica-announced", _Bool(True)),
    _d("replica-lazy-flush", _Bool(True), "slave-lazy-flush"),
    _d("replica-ignore-maxmemory", _Bool(True), "slave-ignore-maxmemory"),
    _d("min-replicas-to-write", _Int(0, 0, _INT_MAX), "min-slaves-to-write"),
    _d("min-replicas-max-lag", _Int(10, 0, _INT_MAX), "min-slaves-max-lag"),
    _d(
        "propagation-error-behavior",
        _Enum("ignore", ("ignore", "panic", "panic-on-replicas")),
    ),
    # security and clients
    _d("requirepass", _Str(binary=True)),
    _d("maxclients", _Int(10000, 1, _UINT_MAX)),
    # memory
    _d("maxmemory", _Int(0, 0, _ULLONG_MAX, memory=True)),
    _d("maxmemory-policy", _Enum("noeviction", _POLICIES)),
    _d("client-output-buffer-limit", _OutputBufferLimit()),
    _d("client-query-buffer-limit", _Int(1024 * _MB, _MB, _LONG_MAX, memory=True)),
    _d("proto-max-bulk-len", _Int(512 * _MB, _MB, _LONG_MAX, memory=True)),
    # lazy freeing
    _d("lazyfree-lazy-eviction", _Bool(True)),
    _d("lazyfree-lazy-expire", _Bool(True)),
    _d("lazyfree-lazy-server-del", _Bool(True)),
    _d("lazyfree-lazy-user-del", _Bool(True)),
    _d("lazyfree-lazy-user-flush", _Bool(True)),
    # append only file (not implemented: only "no")
    _d("appendonly", _Bool(False, "appendonly yes is not supported by valsync")),
    _d("appendfsync", _Enum("everysec", ("everysec", "always", "no"))),
    _d("no-appendfsync-on-rewrite", _Bool(False)),
    # advanced
    _d("hz", _Int(10, 0, _INT_MAX)),
    _d("active-expire-effort", _Int(1, 1, 10)),
    _d("activerehashing", _Bool(True)),
    _d("notify-keyspace-events", _KeyspaceEvents()),
    _d("hide-user-data-from-log", _Bool(True)),
    _d("enable-debug-assert", _Bool(False), immutable=True, hidden=True),
    _d("latency-monitor-threshold", _Int(0, 0, _LLONG_MAX)),
    _d("latency-tracking", _Bool(True)),
    _d("latency-tracking-info-percentiles", _Percentiles()),
    _d("commandlog-execution-slower-than", _Int(10000, -1, _LLONG_MAX), "slowlog-log-slower-than"),
    _d("commandlog-slow-execution-max-len", _Int(128, 0, _LLONG_MAX), "slowlog-max-len"),
    _d("commandlog-request-larger-than", _Int(1024 * 1024, -1, _LLONG_MAX)),
    _d("commandlog-large-request-max-len", _Int(128, 0, _LLONG_MAX)),
    _d("commandlog-reply-larger-than", _Int(1024 * 1024, -1, _LLONG_MAX)),
    _d("commandlog-large-reply-max-len", _Int(128, 0, _LLONG_MAX)),
    _d("tracking-table-max-keys", _Int(1_000_000, 0, _LLONG_MAX)),
    _d("busy-reply-threshold", _Int(5000, 0, _LONG_MAX), "lua-time-limit"),
    _d("shutdown-timeout", _Int(10, 0, _INT_MAX)),
    _d("shutdown-on-sigint", _ShutdownFlags()),
    _d("shutdown-on-sigterm", _ShutdownFlags()),
    _d("list-max-listpack-size", _Int(-2, _INT_MIN, _INT_MAX), "list-max-ziplist-size"),
    _d("hash-max-listpack-entries", _Int(512, 0, _LONG_MAX), "hash-max-ziplist-entries"),
    _d("hash-max-listpack-value", _Int(64, 0, _LONG_MAX, memory=True), "hash-max-ziplist-value"),
    _d("set-max-intset-entries", _Int(512, 0, _LONG_MAX)),
    _d("set-max-listpack-entries", _Int(128, 0, _LONG_MAX)),
    _d("set-max-listpack-value", _Int(64, 0, _LONG_MAX)),
    _d("zset-max-listpack-entries", _Int(128, 0, _LONG_MAX), "zset-max-ziplist-entries"),
    _d("zset-max-listpack-value", _Int(64, 0, _LONG_MAX, memory=True), "zset-max-ziplist-value"),
    _d("hll-sparse-max-bytes", _Int(3000, 0, _LONG_MAX, memory=True)),
    _d("stream-node-max-bytes", _Int(4096, 0, _LONG_MAX, memory=True)),
    _d("stream-node-max-entries", _Int(100, 0, _LLONG_MAX)),
    # Accepted with Valkey 8.1.8's names, defaults and ranges so that configs written for
    # Valkey load; valsync has no cluster, AOF, TLS, RDMA, defrag, io-threads or syslog, and
    # these settings change nothing there.
    _d("aof-rewrite-incremental-fsync", _Bool(True)),
    _d("cluster-require-full-coverage", _Bool(True)),
    _d("rdb-save-incremental-fsync", _Bool(True)),
    _d("aof-load-truncated", _Bool(True)),
    _d("aof-use-rdb-preamble", _Bool(True)),
    _d("aof-timestamp-enabled", _Bool(False)),
    _d("cluster-replica-no-failover", _Bool(False), "cluster-slave-no-failover"),
    _d("jemalloc-bg-thread", _Bool(True)),
    _d("activedefrag", _Bool(False)),
    _d("syslog-enabled", _Bool(False), immutable=True),
    _d("cluster-allow-reads-when-down", _Bool(False)),
    _d("cluster-allow-pubsubshard-when-down", _Bool(True)),
    _d("crash-log-enabled", _Bool(True)),
    _d("crash-memcheck-enabled", _Bool(True)),
    _d("disable-thp", _Bool(True), immutable=True),
    _d("cluster-allow-replica-migration", _Bool(True)),
    _d("replica-ignore-disk-write-errors", _Bool(False)),
    _d("extended-redis-compatibility", _Bool(False)),
    _d("cluster-slot-stats-enabled", _Bool(False)),
    _d("aclfile", _Str(), immutable=True),
    _d("unixsocketgroup", _Str(), immutable=True),
    _d("cluster-announce-ip", _Str()),
    _d("cluster-announce-client-ipv4", _Str(check=_check_ip(socket.AF_INET, "IPv4"))),
    _d("cluster-announce-client-ipv6", _Str(check=_check_ip(socket.AF_INET6, "IPv6"))),
    _d("cluster-config-file", _Str("nodes.conf"), immutable=True),
    _d("cluster-announce-hostname", _Str(check=_check_hostname)),
    _d("cluster-announce-human-nodename", _Str(check=_check_human_nodename, check_whole=True)),
    _d("syslog-ident", _Str("valkey"), immutable=True),
    _d("appendfilename", _Str("appendonly.aof"), immutable=True),
    _d("appenddirname", _Str("appendonlydir"), immutable=True),
    _d("server-cpulist", _Str(), "server_cpulist", immutable=True),
    _d("bio-cpulist", _Str(), "bio_cpulist", immutable=True),
    _d("aof-rewrite-cpulist", _Str(), "aof_rewrite_cpulist", immutable=True),
    _d("bgsave-cpulist", _Str(), "bgsave_cpulist", immutable=True),
    _d("ignore-warnings", _Str()),
    _d("proc-title-template", _Str("{title} {listen-addr} {server-mode}", _check_proc_title)),
    _d("bind-source-addr", _Str()),
    _d("locale-collate", _Str(check=_check_locale)),
    _d("availability-zone", _Str(binary=True)),
    _d(
        "syslog-facility",
        _Enum(
            "local0",
            (
                "user",
                "local0",
                "local1",
                "local2",
                "local3",
                "local4",
                "local5",
                "local6",
                "local7",
            ),
        ),
        immutable=True,
    ),
    _d("oom-score-adj", _Enum("no", ("no", "yes", "relative", "absolute"))),
    _d("acl-pubsub-default", _Enum("resetchannels", ("allchannels", "resetchannels"))),
    _d("sanitize-dump-payload", _Enum("no", ("no", "yes", "clients"))),
    _d("cluster-preferred-endpoint-type", _Enum("ip", ("ip", "hostname", "unknown-endpoint"))),
    _d("log-format", _Enum("legacy", ("legacy", "logfmt"))),
    _d("log-timestamp-format", _Enum("legacy", ("legacy", "iso8601", "milliseconds"))),
    _d("io-threads", _Int(1, 1, 128), immutable=True),
    _d("prefetch-batch-max-size", _Int(16, 0, 128)),
    _d("auto-aof-rewrite-percentage", _Int(100, 0, _INT_MAX)),
    _d("cluster-replica-validity-factor", _Int(10, 0, _INT_MAX), "cluster-slave-validity-factor"),
    _d("cluster-migration-barrier", _Int(1, 0, _INT_MAX)),
    _d("active-defrag-cycle-min", _Int(1, 1, 99)),
    _d("active-defrag-cycle-max", _Int(25, 1, 99)),
    _d("active-defrag-threshold-lower", _Int(10, 0, 1000)),
    _d("active-defrag-threshold-upper", _Int(100, 0, 1000)),
    _d("lfu-log-factor", _Int(10, 0, _INT_MAX)),
    _d("lfu-decay-time", _Int(1, 0, _INT_MAX)),
    _d("maxmemory-samples", _Int(5, 1, 64)),
    _d("maxmemory-eviction-tenacity", _Int(10, 0, 100)),
    _d("cluster-port", _Int(0, 0, 65535), immutable=True),
    _d("cluster-announce-bus-port", _Int(0, 0, 65535)),
    _d("cluster-announce-port", _Int(0, 0, 65535)),
    _d("cluster-announce-tls-port", _Int(0, 0, 65535)),
    _d("list-compress-depth", _Int(0, 0, _INT_MAX)),
    _d("unixsocketperm", _Octal(0, 0, 0o777), immutable=True),
    _d("socket-mark-id", _Int(0, 0, _UINT_MAX), immutable=True),
    _d("max-new-connections-per-cycle", _Int(10, 1, 1000)),
    _d("max-new-tls-connections-per-cycle", _Int(1, 1, 1000)),
    _d("active-defrag-max-scan-fields", _Int(1000, 1, _LONG_MAX)),
    _d("acllog-max-len", _Int(128, 0, _LONG_MAX)),
    _d("cluster-blacklist-ttl", _Int(60, 0, _ULLONG_MAX)),
    _d("cluster-node-timeout", _Int(15000, 0, _LLONG_MAX)),
    _d("cluster-link-sendbuf-limit", _Int(0, 0, _ULLONG_MAX, memory=True)),
    _d("active-defrag-ignore-bytes", _Int(104857600, 1, _LLONG_MAX, memory=True)),
    _d("maxmemory-clients", _Int(0, -100, _LLONG_MAX, memory=True, percent=True)),
    _d("auto-aof-rewrite-min-size", _Int(67108864, 0, _LLONG_MAX, memory=True)),
    _d("tls-port", _Int(0, 0, 65535)),
    _d("tls-session-cache-size", _Int(20480, 0, _INT_MAX)),
    _d("tls-session-cache-timeout", _Int(300, 0, _INT_MAX)),
    _d("tls-cluster", _Bool(False)),
    _d("tls-replication", _Bool(False)),
    _d("tls-auth-clients", _Enum("yes", ("no", "yes", "optional"))),
    _d("tls-prefer-server-ciphers", _Bool(False)),
    _d("tls-session-caching", _Bool(True)),
    _d("tls-cert-file", _Str()),
    _d("tls-key-file", _Str()),
    _d("tls-key-file-pass", _Str()),
    _d("tls-client-cert-file", _Str()),
    _d("tls-client-key-file", _Str()),
    _d("tls-client-key-file-pass", _Str()),
    _d("tls-dh-params-file", _Str()),
    _d("tls-ca-cert-file", _Str()),
    _d("tls-ca-cert-dir", _Str()),
    _d("tls-protocols", _Str()),
    _d("tls-ciphers", _Str()),
    _d("tls-ciphersuites", _Str()),
    _d("oom-score-adj-values", _OomScoreValues()),
    _d("cluster-manual-failover-timeout", _Int(5000, 1, _INT_MAX)),
    _d("active-defrag-cycle-us", _Int(500, 0, 100000)),
    _d("import-mode", _Bool(False)),
    _d("rdma-bind", _Str(check=_no_rdma)),
    _d("rdma-port", _RdmaPort(0, 0, 65535)),
    _d("rdma-rx-size", _Int(1048576, 64 * 1024, 16 * _MB), immutable=True),
    _d("rdma-completion-vector", _Int(-1, -1, 1024), immutable=True),
)

_BY_NAME: dict[str, _Directive] = {n: d for d in _SPECS for n in d.names}
# Lines Valkey still accepts and ignores (loadServerConfigFromString's deprecated_configs).
_DEPRECATED = {"list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"}
_DEPRECATED.add("io-threads-do-reads")
_MIN_HZ, _MAX_HZ = 1, 500
_REPL_BACKLOG_MIN_SIZE = 16 * 1024


def _fatal(reason: str, linenum: int | None = None, line: str = "") -> ConfigError:
    text = f"*** FATAL CONFIG FILE ERROR (Version {VALKEY_COMPAT_VERSION}) ***\n"
    if linenum is not None:
        text += f"Reading the configuration file, at line {linenum}\n>>> '{line}'\n"
    return ConfigError(text + reason, reason)


class Config:
    """The running configuration: typed values keyed by canonical Valkey directive names."""

    def __init__(self) -> None:
        self._values: dict[str, Value] = {d.name: d.spec.default() for d in _SPECS}
        self._listeners: dict[str, list[Callable[[str], None]]] = {}
        #: absolute path of the config file given at startup (INFO's config_file), or None.
        self.config_file: str | None = None
        #: the ``user`` lines, in order (username then rules), loaded once the server exists.
        self.user_lines: list[list[bytes]] = []

    # --- startup ------------------------------------------------------------------------

    @classmethod
    def from_args(cls, argv: list[str], *, stdin: Iterable[str] | None = None) -> Config:
        """Parse ``[CONFIGFILE] [--directive value ...]`` like valkey-server's ``main()``.

        Options are turned into config lines appended after the file's contents (so they win),
        with values quoted the way Valkey echoes them in its fatal error block. A ``-`` first
        or last also reads config lines from ``stdin`` (default ``sys.stdin``).

        Raises:
            ConfigError: with Valkey's startup message; the server must not start.
        """
        cfg = cls()
        j = 0
        if argv and not argv[0].startswith("-"):
            cfg.config_file = os.path.abspath(argv[0])
            j = 1
        from_stdin = False
        options = ""
        handled_last = True
        while j < len(argv):
            arg = argv[j]
            last = j == len(argv) - 1
            if arg == "-" and (j == 0 or last):
                from_stdin = True
            elif handled_last and arg.startswith("--"):
                if options:
                    options += "\n"
                options += arg[2:] + " "
                words = split_args(arg)
                if words is not None and len(words) == 1:
                    handled_last = False  # only the name: the value follows
                    nxt_opt = not last and argv[j + 1].startswith("--")
                    if arg.lower() == "--save" and (nxt_opt or last):
                        options += '""'  # `--save` alone or followed by an option: save ""
                        handled_last = nxt_opt
                    elif arg.lower() == "--sentinel" and nxt_opt:
                        handled_last = True
                else:
                    handled_last = True
            else:
                options += _repr(arg) + " "
                handled_last = True
            j += 1

        text = ""
        if cfg.config_file is not None:
            path = cfg.config_file
            try:
                with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
                    text = f.read()
            except OSError as err:
                msg = f"Fatal error, can't open config file '{path}': {os.strerror(err.errno or 0)}"
                raise ConfigError(msg, log_line=True) from None
        if from_stdin:
            text += "".join(stdin if stdin is not None else sys.stdin)
        text += "\n" + options
        state = _LoadState()
        cfg._load_text(text, state)
        cfg._check_loaded()
        return cfg

    def _load_text(self, text: str, state: _LoadState) -> None:
        """``loadServerConfigFromString`` for one file's worth of lines."""
        lines = text.split("\n")
        for i, raw in enumerate(lines):
            line = raw.strip(" \t\r\n")
            if not line or line.startswith("#"):
                continue
            argv = split_args(line)
            if argv is None:
                raise _fatal("Unbalanced quotes in configuration line", i + 1, line)
            if not argv:
                continue
            name = argv[0].lower()
            directive = _BY_NAME.get(name)
            if directive is not None:
                spec = directive.spec
                if not spec.multi_arg and len(argv) != 2:
                    raise _fatal("wrong number of arguments", i + 1, line)
                args = argv[1:]
                if spec.multi_arg and len(argv) == 2 and argv[1]:
                    split = split_args(argv[1])
                    args = split if split is not None else []
                try:
                    value = spec.parse(args, self._values[directive.name], state)
                except _Invalid as err:
                    raise _fatal(str(err), i + 1, line) from None
                self._values[directive.name] = value
                continue
            if name in _DEPRECATED and len(argv) == 2:
                continue
            if name == "user" and len(argv) >= 2:
                words = [w.encode("utf-8", "surrogateescape") for w in argv[1:]]
                if any(seen[0] == words[0] for seen in self.user_lines):
                    raise _fatal(
                        f"Error in user declaration '{argv[1]}': Duplicate user found. A user "
                        "can only be defined once in config files",
                        i + 1,
                        line,
                    )
                self.user_lines.append(words)
                continue
            if name == "include" and len(argv) == 2:
                self._include(argv[1], state)
                continue
            raise _fatal("Bad directive or wrong number of arguments", i + 1, line)

    def _include(self, pattern: str, state: _LoadState) -> None:
        base = os.path.dirname(self.config_file or "") or "."
        path = os.path.join(base, pattern) if not os.path.isabs(pattern) else pattern
        paths = sorted(glob.glob(path)) if any(c in pattern for c in "*?[") else [path]
        for p in paths:
            try:
                with open(p, encoding="utf-8", errors="surrogateescape", newline="") as f:
                    text = f.read()
            except OSError as err:
                msg = f"Fatal error, can't open config file '{p}': {os.strerror(err.errno or 0)}"
                raise ConfigError(msg, log_line=True) from None
            self._load_text(text, state)

    def _check_loaded(self) -> None:
        """The checks Valkey runs after the last line: log file writable, hz clamped."""
        if self._values["logfile"]:
            try:
                with open(self.logfile_path, "a"):
                    pass
            except OSError as err:
                raise _fatal(f"Can't open the log file: {os.strerror(err.errno or 0)}") from None
        hz = self._values["hz"]
        assert isinstance(hz, int)
        self._values["hz"] = max(_MIN_HZ, min(_MAX_HZ, hz))

    # --- CONFIG REWRITE -------------------------------------------------------------------

    def rewrite_text(
        self, old_text: str, replicaof: tuple[str, int] | None, users: Sequence[str] = ()
    ) -> str:
        """The config file as CONFIG REWRITE leaves it; ``replicaof`` is the live primary,
        ``users`` the ``user`` lines of every ACL user (ignored when an ACL file keeps them:
        the file's ``user`` lines are then dropped, as Valkey does)."""
        options: list[RewriteLine] = []
        for d in _SPECS:
            value = replicaof if d.name == "replicaof" else self._values[d.name]
            options += d.spec.rewrite(d.name, value)
        if self._values["aclfile"]:
            options.append(RewriteLine("user", None, False))
        else:
            options += [RewriteLine("user", line, True) for line in users]
        return rewrite_config_text(
            old_text, options, lambda word: d.name if (d := _BY_NAME.get(word)) else None
        )

    def rewrite(self, replicaof: tuple[str, int] | None, users: Sequence[str] = ()) -> None:
        """CONFIG REWRITE: merge into the startup file, replaced atomically (temp + rename).

        Raises:
            ConfigError: ``ERR ...`` as Valkey words it (no config file, or an I/O error).
        """
        path = self.config_file
        if path is None:
            raise ConfigError("ERR The server is running without a config file")
        try:
            try:
                with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
                    old = f.read()
            except FileNotFoundError:
                old = ""
            new = self.rewrite_text(old, replicaof, users)
            tmp = f"{path}.tmp-{os.getpid()}"
            try:
                with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
                    f.write(new)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as err:
            raise ConfigError(f"ERR Rewriting config file: {os.strerror(err.errno or 0)}") from None

    # --- reading --------------------------------------------------------------------------

    @staticmethod
    def _directive(name: str) -> _Directive:
        try:
            return _BY_NAME[name.lower()]
        except KeyError:
            raise KeyError(f"unknown config directive {name!r}") from None

    def get(self, name: str) -> str:
        """The directive's ``CONFIG GET`` text (aliases accepted)."""
        d = self._directive(name)
        return d.spec.fmt(self._values[d.name])

    def get_int(self, name: str) -> int:
        """An integer directive, memory units already applied."""
        value = self._values[self._directive(name).name]
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"config {name!r} is not an integer")
        return value

    def get_bool(self, name: str) -> bool:
        value = self._values[self._directive(name).name]
        if not isinstance(value, bool):
            raise TypeError(f"config {name!r} is not a yes/no option")
        return value

    def get_str(self, name: str) -> str:
        """A string or enum directive (any directive's text, in fact)."""
        return self.get(name)

    def config_get(self, patterns: list[str]) -> list[tuple[str, str]]:
        """``CONFIG GET`` pairs: exact names (even hidden) under the name asked, globs otherwise."""
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for pattern in patterns:
            if not any(c in pattern for c in "[*?"):
                d = _BY_NAME.get(pattern.lower())
                if d is not None and pattern.lower() not in seen:
                    seen.add(pattern.lower())
                    out.append((pattern, d.spec.fmt(self._values[d.name])))
                continue
            for d in _SPECS:
                if d.hidden:
                    continue
                for name in d.names:
                    if name not in seen and stringmatch(pattern, name):
                        seen.add(name)
                        out.append((name, d.spec.fmt(self._values[d.name])))
        return out

    # --- CONFIG SET -----------------------------------------------------------------------

    def config_set(self, pairs: list[tuple[str, str]], *, client_is_local: bool = False) -> None:
        """Apply ``CONFIG SET`` pairs all or nothing, with Valkey's error replies.

        ``client_is_local`` matters only for protected directives (``dir``, ``dbfilename``)
        when ``enable-protected-configs`` is ``local``. Listeners run after every value is
        stored, only for directives whose text changed; a listener raising
        :class:`ConfigError` (its message as the reason, e.g. "Failed to bind to specified
        addresses.") rolls every change back, as a failed Valkey apply function does.
        """
        directives: list[_Directive] = []
        unknown: str | None = None
        refused: tuple[str, str] | None = None
        for name, _ in pairs:
            d = _BY_NAME.get(name.lower())
            if d is None:
                if refused is None and unknown is None:
                    unknown = name
                continue
            if unknown is not None or refused is not None:
                continue
            if d.immutable:
                refused = (name, "can't set immutable config")
            elif d.protected and not self.protected_action_allowed(
                "enable-protected-configs", client_is_local
            ):
                refused = (name, "can't set protected config")
            elif any(prev.lower() == name.lower() for prev, _ in pairs[: len(directives)]):
                # By name, not by directive: 8.1.8 accepts "slave-read-only no
                # replica-read-only yes" (the later one wins).
                refused = (name, "duplicate parameter")
            directives.append(d)
        if unknown is not None:
            raise ConfigError(
                f"ERR Unknown option or number of arguments for CONFIG SET - '{unknown}'"
            )
        if refused is not None:
            raise _set_error(*refused)

        new_values = dict(self._values)
        for d, (name, text) in zip(directives, pairs, strict=True):
            args = ([] if text == "" else text.split(" ")) if d.spec.multi_arg else [text]
            try:
                new_values[d.name] = d.spec.parse(args, new_values[d.name], None)
            except _Invalid as err:
                raise _set_error(name.lower(), str(err)) from None
        touched = {d.name for d in directives}
        backlog = new_values["repl-backlog-size"]
        assert isinstance(backlog, int)
        if "repl-backlog-size" in touched and backlog < _REPL_BACKLOG_MIN_SIZE:
            new_values["repl-backlog-size"] = _REPL_BACKLOG_MIN_SIZE  # as resizing the backlog
        hz = new_values["hz"]
        assert isinstance(hz, int)
        if "hz" in touched:
            new_values["hz"] = max(_MIN_HZ, min(_MAX_HZ, hz))  # updateHZ's clamp

        old_values = self._values
        changed = [
            (name.lower(), d)
            for d, (name, _) in zip(directives, pairs, strict=True)
            if d.spec.fmt(old_values[d.name]) != d.spec.fmt(new_values[d.name])
        ]
        self._values = new_values
        done: list[_Directive] = []
        for name, d in changed:
            try:
                self._notify(d, d.spec.fmt(new_values[d.name]))
            except ConfigError as err:
                self._values = old_values
                for undo in done:
                    try:
                        self._notify(undo, undo.spec.fmt(old_values[undo.name]))
                    except ConfigError:
                        pass
                raise _set_error(name, err.reason) from None
            done.append(d)

    def _notify(self, d: _Directive, text: str) -> None:
        for callback in self._listeners.get(d.name, ()):
            callback(text)

    def on_change(self, name: str, callback: Callable[[str], None]) -> None:
        """Call ``callback(new_text)`` after a CONFIG SET changed ``name`` (or an alias of it)."""
        self._listeners.setdefault(self._directive(name).name, []).append(callback)

    def protected_action_allowed(self, name: str, client_is_local: bool) -> bool:
        """``enable-debug-command`` / ``enable-protected-configs`` / ``enable-module-command``."""
        setting = self.get(name)
        return setting == "yes" or (setting == "local" and client_is_local)

    def reset_stat_noop(self) -> None:
        """Nothing to reset here: statistics live in ``valsync.stats``."""

    # --- typed views ----------------------------------------------------------------------

    @property
    def save_points(self) -> list[tuple[int, int]]:
        """``(seconds, changes)`` pairs; empty when snapshots on a timer are off."""
        value = self._values["save"]
        assert isinstance(value, list)
        return list(value)

    def client_output_buffer_limit(self, cls: str) -> tuple[int, int, int]:
        """``(hard, soft, soft_seconds)`` for ``normal``, ``replica`` (or ``slave``), ``pubsub``."""
        value = self._values["client-output-buffer-limit"]
        assert isinstance(value, dict)
        limits = value[_OBUF_NAMES[cls.lower()]]
        assert isinstance(limits, tuple)
        return limits

    @property
    def keyspace_event_classes(self) -> str:
        """``notify-keyspace-events`` with every class in force (CONFIG GET hides ``n``
        next to ``A``)."""
        return str(self._values["notify-keyspace-events"])

    @property
    def replicaof(self) -> tuple[str, int] | None:
        value = self._values["replicaof"]
        assert value is None or isinstance(value, tuple)
        return value

    def set_replicaof(self, value: tuple[str, int] | None) -> None:
        """Record the REPLICAOF command's target (no listeners: the command drives the link)."""
        self._values["replicaof"] = value

    @property
    def rdb_path(self) -> str:
        """Where the snapshot lives: ``dir`` joined with ``dbfilename``."""
        return os.path.join(self.get("dir"), self.get("dbfilename"))

    @property
    def aclfile_path(self) -> str:
        """The ACL file resolved against ``dir`` as Valkey's chdir would; empty means none."""
        aclfile = self.get("aclfile")
        return os.path.join(self.get("dir"), aclfile) if aclfile else ""

    @property
    def logfile_path(self) -> str:
        """The log file resolved against ``dir`` as Valkey's chdir would; empty means stdout."""
        logfile = self.get("logfile")
        return os.path.join(self.get("dir"), logfile) if logfile else ""


def _set_error(name: str, reason: str) -> ConfigError:
    return ConfigError(
        f"ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}", reason
    )
