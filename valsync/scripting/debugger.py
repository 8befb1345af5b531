"""The Lua debugger (Valkey's LDB, ``SCRIPT DEBUG``), without any I/O of its own.

Theory of operation: a debugging session wraps one EVAL. The engine installs a line hook
that calls :meth:`LuaDebugger.on_line` for every line of the user's script; when the
debugger decides to stop (step mode, a breakpoint, ``server.breakpoint()``, a runaway
script) it sends its log to the client as one array of status lines and reads debugger
commands until one of them resumes the script. Bytes move through a :class:`Transport`
(the connection, which blocks the script's thread while it waits), and everything the
debugger needs from the Lua stack comes through a :class:`LuaInspector` (the engine), so
this module is tested with plain fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from valsync.monitor import quote

BREAKPOINTS_MAX = 64
MAXLEN_DEFAULT = 256
MAX_VALUE_DEPTH = 10
"""Nesting past which a dumped table is cut (LUA_MINSTACK / 2)."""
MAX_COMMAND_BUFFER = 1 << 20
MAX_ARGS = 1024

UNKNOWN_COMMAND = "<error> Unknown Lua debugger command or wrong number of arguments."
ABORTED = b"script aborted for user request"
PROTOCOL_ERROR = b"protocol error"
BUFFER_FULL = b"max client buffer reached"
TIMEOUT_CLOSED = b"timeout during Lua debugging with client closing connection"

HELP = [
    "Lua debugger help:",
    "[h]elp               Show this help.",
    "[s]tep               Run current line and stop again.",
    "[n]ext               Alias for step.",
    "[c]ontinue           Run till next breakpoint.",
    "[l]ist               List source code around current line.",
    "[l]ist [line]        List source code around [line].",
    "                     line = 0 means: current position.",
    "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    "                     to show before/after [line].",
    "[w]hole              List all source code. Alias for 'list 1 1000000'.",
    "[p]rint              Show all the local variables.",
    "[p]rint <var>        Show the value of the specified variable.",
    "                     Can also show global vars KEYS and ARGV.",
    "[b]reak              Show all breakpoints.",
    "[b]reak <line>       Add a breakpoint to the specified line.",
    "[b]reak -<line>      Remove breakpoint from the specified line.",
    "[b]reak 0            Remove all breakpoints.",
    "[t]race              Show a backtrace.",
    "[e]val <code>        Execute some Lua code (in a different callframe).",
    "[v]alkey <cmd>       Execute a command.",
    "[m]axlen [len]       Trim logged replies and Lua var dumps to len.",
    "                     Specifying zero as <len> means unlimited.",
    "[a]bort              Stop the execution of the script. In sync",
    "                     mode dataset changes will be retained.",
    "",
    "Debugger functions you can call from Lua scripts:",
    "server.debug()       Produce logs in the debugger console.",
    "server.breakpoint()  Stop execution like if there was a breakpoint in the",
    "                     next line of code.",
]


class Transport(Protocol):
    """The debugging client's connection, used from the script's thread."""

    def send(self, data: bytes) -> None: ...

    def receive(self) -> bytes:
        """The next bytes from the client; b"" once it is gone."""
        ...


class LuaInspector(Protocol):
    """The Lua stack of the stopped script; level 0 is the function on the current line."""

    def kind(self, value: Any) -> str:
        """``type(value)`` as Lua names it."""
        ...

    def items(self, table: Any) -> list[tuple[Any, Any]]: ...

    def address(self, value: Any) -> str:
        """The address Lua prints for a function, userdata or thread (``0x...``)."""
        ...

    def locals(self, level: int) -> list[tuple[bytes, Any]] | None:
        """The active locals of the frame at ``level`` (None past the script's frames)."""
        ...

    def global_value(self, name: bytes) -> Any: ...

    def frames(self) -> list[tuple[bytes, bytes | None, int]]:
        """(short_src, function name, current line) of each frame, innermost first."""
        ...

    def evaluate(self, code: bytes) -> tuple[bool, Any]:
        """Compile ``code`` as an expression, else as a statement, and run it."""
        ...

    def server_call(self, args: list[bytes]) -> None:
        """Run ``server.call(*args)`` as the script would, discarding the result."""
        ...


class DebuggerError(Exception):
    """Makes the script raise ``message`` (abort, protocol errors)."""

    def __init__(self, message: bytes) -> None:
        super().__init__(message.decode("utf-8", "replace"))
        self.message = message


# --- text helpers ---------------------------------------------------------------------------


def quoted(data: bytes) -> str:
    """``sdscatrepr``: a double-quoted, escaped rendering of ``data``."""
    return quote(data).decode("latin-1")


def c_atoi(data: bytes) -> int:
    """C's ``atoi``: leading blanks, a sign, then digits; 0 when there are none."""
    text = data.lstrip(b" \t\n\v\f\r")
    sign = 1
    if text[:1] in (b"+", b"-"):
        sign = -1 if text[:1] == b"-" else 1
        text = text[1:]
    digits = 0
    n = 0
    for c in text:
        if not 48 <= c <= 57:
            break
        n = n * 10 + c - 48
        digits += 1
    value = sign * n
    return ((value + 2**31) % 2**32) - 2**31 if digits else 0


def strict_long(data: bytes) -> int | None:
    """``string2l``: a canonical decimal integer, else None."""
    if not data or len(data) > 20:
        return None
    if data == b"0":
        return 0
    text = data[1:] if data[:1] == b"-" else data
    if not text or not text.isdigit() or text[:1] == b"0":
        return None
    value = int(data)
    return value if -(2**63) <= value < 2**63 else None


def format_number(value: float) -> str:
    return f"{float(value):g}"


def _c_find(data: bytes, needle: bytes, pos: int) -> int:
    """``strstr``/``strchr`` from ``pos``: the search ends at the first NUL byte."""
    nul = data.find(b"\0", pos)
    return data.find(needle, pos, len(data) if nul < 0 else nul)


def parse_command(buffer: bytes) -> tuple[list[bytes] | None, bytes | None]:
    """``ldbReplParseCommand``: (argv, None) for a whole command, (None, None) to read more,
    (None, error) for framing it cannot accept. As Valkey's parser it is forgiving: it seeks
    the first ``*``, and its searches for headers stop at a NUL byte."""
    if not buffer:
        return None, None
    start = _c_find(buffer, b"*", 0)
    if start < 0:
        return None, PROTOCOL_ERROR
    end = _c_find(buffer, b"\r\n", start)
    if end < 0:
        return None, None
    count = c_atoi(buffer[start + 1 : end])
    if count <= 0 or count > MAX_ARGS:
        return None, PROTOCOL_ERROR
    pos = end + 2
    argv: list[bytes] = []
    while len(argv) < count:
        if pos >= len(buffer) or buffer[pos] == 0:
            return None, None
        if buffer[pos : pos + 1] != b"$":
            return None, PROTOCOL_ERROR
        end = _c_find(buffer, b"\r\n", pos)
        if end < 0:
            return None, None
        size = c_atoi(buffer[pos + 1 : end])
        pos = end + 2
        if size <= 0 or size > MAX_ARGS:
            return None, PROTOCOL_ERROR
        if pos + size + 2 > len(buffer):
            return None, None
        argv.append(buffer[pos : pos + size])
        pos += size
        if buffer[pos : pos + 2] != b"\r\n":
            return None, PROTOCOL_ERROR
        pos += 2
    return argv, None


def _line_end(data: bytes, pos: int) -> int:
    end = data.find(b"\r", pos)
    return len(data) if end < 0 else end


def human_reply(data: bytes, pos: int = 0) -> tuple[str, int]:
    """``ldbRespToHuman``: one RESP reply as the debugger shows it, and where it ends."""
    if pos >= len(data):
        return "", pos
    kind = data[pos : pos + 1]
    end = _line_end(data, pos + 1)
    head = data[pos + 1 : end]
    after = end + 2
    if kind == b":":
        return head.decode("latin-1"), after
    if kind == b"$":
        size = int(head or b"0")
        if size == -1:
            return "NULL", after
        return quoted(data[after : after + size]), after + size + 2
    if kind in (b"+", b"-"):
        return quoted(data[pos:end]), after
    if kind in (b"*", b"~", b"%"):
        count = int(head or b"0")
        if kind == b"*" and count == -1:
            return "NULL", after
        parts = []
        pos = after
        for _ in range(count):
            text, pos = human_reply(data, pos)
            if kind == b"%":
                value, pos = human_reply(data, pos)
                text = f"{text} => {value}"
            parts.append(text)
        body = ",".join(parts)
        if kind == b"*":
            return f"[{body}]", pos
        if kind == b"~":
            return f"~({body})", pos
        return f"{{{body}}}", pos
    if kind == b"_":
        return "(null)", after
    if kind == b"#":
        return ("#true" if head[:1] == b"t" else "#false"), after
    if kind == b",":
        return "(double) " + head.decode("latin-1"), after
    return "", pos


# --- the session ----------------------------------------------------------------------------


@dataclass
class LuaDebugger:
    """One debugging session (Valkey's ``ldb`` state) over one EVAL."""

    transport: Transport
    source: bytes
    busy_threshold_ms: Callable[[], int] = lambda: 5000
    clock: Callable[[], float] = time.monotonic
    inspector: LuaInspector | None = None
    active: bool = True
    step: bool = True
    lua_breakpoint: bool = False
    breakpoints: list[int] = field(default_factory=list)
    current_line: int = 0
    maxlen: int = MAXLEN_DEFAULT
    maxlen_hint_sent: bool = False
    logs: list[str] = field(default_factory=list)
    buffer: bytes = b""
    lines: list[bytes] = field(init=False)
    started: float = field(init=False)

    def __post_init__(self) -> None:
        source = self.source.rstrip(b"\r\n")
        self.lines = source.split(b"\n") if source else []
        self.started = self.clock()

    # --- the log ------------------------------------------------------------------------

    def log(self, entry: str) -> None:
        self.logs.append(entry)

    def log_trimmed(self, entry: str) -> None:
        """Log ``entry`` cut at ``maxlen`` (with a one-time hint about ``maxlen 0``)."""
        if self.maxlen and len(entry) > self.maxlen:
            self.log(entry[: self.maxlen] + " ...")
            if not self.maxlen_hint_sent:
                self.maxlen_hint_sent = True
                self.log("<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.")
            return
        self.log(entry)

    def send_logs(self) -> None:
        out = bytearray(b"*%d\r\n" % len(self.logs))
        for entry in self.logs:
            line = entry.encode("latin-1").replace(b"\r", b" ").replace(b"\n", b" ")
            out += b"+" + line + b"\r\n"
        self.logs.clear()
        self.transport.send(bytes(out))

    @property
    def logging(self) -> bool:
        """Commands, replies and errors of ``server.call`` are logged (``ldbIsEnabled``)."""
        return self.active and self.step

    def log_command(self, argv: Sequence[bytes]) -> None:
        entry = "<command>"
        for i, arg in enumerate(argv):
            if i == 10:
                entry += f" ... ({len(argv) - i - 1} more)"
                break
            entry += " " + arg.decode("latin-1")
        self.log(entry)

    def log_error(self, text: bytes) -> None:
        self.log("<error> " + text.decode("latin-1"))

    def log_reply(self, resp: bytes) -> None:
        self.log_trimmed("<reply> " + human_reply(resp)[0])

    def debug(self, values: Sequence[Any]) -> None:
        """``server.debug(...)``."""
        if not self.active:
            return
        shown = ", ".join(self.value_text(v) for v in values)
        self.log(f"<debug> line {self.current_line}: {shown}")

    def breakpoint(self) -> bool:
        """``server.breakpoint()``: stop at the next line."""
        if not self.active:
            return False
        self.lua_breakpoint = True
        return True

    def end(self) -> None:
        """The script returned: the last logs and the end mark, before the EVAL reply."""
        self.log("<endsession>")
        self.send_logs()
        self.active = False

    # --- values -------------------------------------------------------------------------

    def value_text(self, value: Any, depth: int = 0) -> str:
        """``ldbCatStackValue``: a Lua value as the debugger prints it."""
        if depth == MAX_VALUE_DEPTH:
            return "<max recursion level reached! Nested table?>"
        depth += 1
        if value is None:
            return "nil"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return format_number(value)
        if isinstance(value, bytes):
            return quoted(value)
        inspector = self.inspector
        assert inspector is not None
        kind = inspector.kind(value)
        if kind == "table":
            as_array: list[str] = []
            as_map: list[str] = []
            is_array = True
            expected = 1
            for key, item in inspector.items(value):
                if is_array and (
                    isinstance(key, bool) or not isinstance(key, (int, float)) or key != expected
                ):
                    is_array = False
                item_text = self.value_text(item, depth)
                as_array.append(item_text)
                as_map.append(f"[{self.value_text(key, depth)}]={item_text}")
                expected += 1
            return "{" + "; ".join(as_array if is_array else as_map) + "}"
        if kind in ("function", "userdata", "thread"):
            return f'"{kind}@{inspector.address(value)}"'
        return '"<unknown-lua-type>"'

    # --- the line hook ------------------------------------------------------------------

    def is_breakpoint(self, line: int) -> bool:
        return line in self.breakpoints

    def on_line(self, count_event: bool, line: int, short_src: bytes) -> None:
        """Called for each line (and each instruction count) of the script: stop when asked.
        Raises :class:`DebuggerError` to make the script fail."""
        if b"user_script" not in short_src:
            return
        self.current_line = line
        stop_here = self.is_breakpoint(line) or self.lua_breakpoint
        timeout = False
        if count_event and not self.step and not stop_here:
            if (self.clock() - self.started) * 1000 < (self.busy_threshold_ms() or 5000):
                return
            timeout = True
            self.step = True
        if not (self.step or stop_here):
            return
        if stop_here:
            reason = "server.breakpoint() called" if self.lua_breakpoint else "break point"
        elif timeout:
            reason = "timeout reached, infinite loop?"
        else:
            reason = "step over"
        self.step = False
        self.lua_breakpoint = False
        self.log(f"* Stopped at {line}, stop reason = {reason}")
        self.log_source_line(line)
        self.send_logs()
        if not self.repl() and timeout:
            raise DebuggerError(TIMEOUT_CLOSED)
        self.started = self.clock()

    # --- the command loop ---------------------------------------------------------------

    def _next_command(self) -> list[bytes] | None:
        """The next whole command from the client; None when it is gone."""
        while True:
            argv, error = parse_command(self.buffer)
            if argv is not None:
                self.buffer = b""
                return argv
            if error is not None:
                raise DebuggerError(error)
            data = self.transport.receive()
            if not data:
                self.step = False
                self.breakpoints.clear()
                return None
            self.buffer += data
            if len(self.buffer) > MAX_COMMAND_BUFFER:
                self.buffer = b""
                raise DebuggerError(BUFFER_FULL)

    def repl(self) -> bool:
        """Serve debugger commands until one resumes the script; False if the client left."""
        while True:
            argv = self._next_command()
            if argv is None:
                return False
            name = argv[0].lower()
            if name in (b"s", b"step", b"n", b"next"):
                self.step = True
                return True
            if name in (b"c", b"continue"):
                return True
            if name in (b"a", b"abort"):
                raise DebuggerError(ABORTED)
            self.run_command(name, argv)
            self.send_logs()

    def run_command(self, name: bytes, argv: list[bytes]) -> None:
        """A debugger command that does not resume the script: it only logs."""
        if name in (b"h", b"help"):
            for line in HELP:
                self.log(line)
        elif name in (b"t", b"trace"):
            self.trace()
        elif name in (b"m", b"maxlen"):
            self.set_maxlen(argv)
        elif name in (b"b", b"break"):
            self.breakpoint_command(argv)
        elif name in (b"e", b"eval"):
            self.evaluate(argv)
        elif len(argv) > 1 and name in (b"r", b"redis", b"v", b"valkey", b"server"):
            self.server_command(argv)
        elif name in (b"p", b"print"):
            if len(argv) == 2:
                self.print_variable(argv[1])
            else:
                self.print_locals()
        elif name in (b"l", b"list"):
            around, context = self.current_line, 5
            if len(argv) > 1:
                number = c_atoi(argv[1])
                if number > 0:
                    around = number
            if len(argv) > 2:
                context = c_atoi(argv[2])
            self.list_source(around, context)
        elif name in (b"w", b"whole"):
            self.list_source(1, 1000000)
        else:
            self.log(UNKNOWN_COMMAND)

    def source_line(self, line: int) -> bytes:
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1]
        return b"<out of range source code line>"

    def log_source_line(self, line: int) -> None:
        current = line == self.current_line
        marked = self.is_breakpoint(line)
        prefix = ("->" if current else "  ") + ("#" if marked else " ")
        self.log(f"{prefix}{line:<3d} " + self.source_line(line).decode("latin-1"))

    def list_source(self, around: int, context: int) -> None:
        for line in range(1, len(self.lines) + 1):
            if around != 0 and abs(around - line) > context:
                continue
            self.log_source_line(line)

    def breakpoint_command(self, argv: list[bytes]) -> None:
        if len(argv) == 1:
            if not self.breakpoints:
                self.log("No breakpoints set. Use 'b <line>' to add one.")
                return
            self.log(f"{len(self.breakpoints)} breakpoints set:")
            for marked in self.breakpoints:
                self.log_source_line(marked)
            return
        for arg in argv[1:]:
            line = strict_long(arg)
            if line is None:
                self.log(f"Invalid argument:'{arg.decode('latin-1')}'")
            elif line == 0:
                self.breakpoints.clear()
                self.log("All breakpoints removed.")
            elif line > 0:
                if len(self.breakpoints) == BREAKPOINTS_MAX:
                    self.log("Too many breakpoints set.")
                elif 0 < line <= len(self.lines) and line not in self.breakpoints:
                    self.breakpoints.append(line)
                    self.list_source(line, 1)
                else:
                    self.log("Wrong line number.")
            elif -line in self.breakpoints:
                self.breakpoints.remove(-line)
                self.log("Breakpoint removed.")
            else:
                self.log("No breakpoint in the specified line.")

    def set_maxlen(self, argv: list[bytes]) -> None:
        if len(argv) == 2:
            value = c_atoi(argv[1])
            self.maxlen_hint_sent = True
            if value != 0 and value <= 60:
                value = 60
            self.maxlen = value
        if self.maxlen:
            self.log(f"<value> replies are truncated at {self.maxlen} bytes.")
        else:
            self.log("<value> replies are unlimited.")

    def _inspector(self) -> LuaInspector:
        assert self.inspector is not None
        return self.inspector

    def trace(self) -> None:
        frames = self._inspector().frames()
        for level, (short_src, name, line) in enumerate(frames):
            if b"user_script" in short_src:
                where = "In" if level == 0 else "From"
                shown = name.decode("latin-1") if name is not None else "top level"
                self.log(f"{where} {shown}:")
                self.log_source_line(line)
        if not frames:
            self.log("<error> Can't retrieve Lua stack.")

    def print_variable(self, name: bytes) -> None:
        inspector = self._inspector()
        level = 0
        while True:
            found = inspector.locals(level)
            if found is None:
                break
            for local_name, value in found:
                if local_name == name:
                    self.log_trimmed("<value> " + self.value_text(value))
                    return
            level += 1
        if name in (b"ARGV", b"KEYS"):
            self.log_trimmed("<value> " + self.value_text(inspector.global_value(name)))
        else:
            self.log("No such variable.")

    def print_locals(self) -> None:
        shown = 0
        for name, value in self._inspector().locals(0) or []:
            if b"(*temporary)" in name:
                continue
            self.log_trimmed(f"<value> {name.decode('latin-1')} = " + self.value_text(value))
            shown += 1
        if not shown:
            self.log("No local variables in the current context.")

    def evaluate(self, argv: list[bytes]) -> None:
        ok, value = self._inspector().evaluate(b" ".join(argv[1:]))
        if not ok:
            text = value if isinstance(value, bytes) else b""
            self.log("<error> " + text.decode("latin-1"))
            return
        self.log_trimmed("<retval> " + self.value_text(value))

    def server_command(self, argv: list[bytes]) -> None:
        self.step = True
        try:
            self._inspector().server_call(argv[1:])
        finally:
            self.step = False
