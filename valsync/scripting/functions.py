"""Function libraries (FUNCTION LOAD/DELETE/FLUSH/DUMP/RESTORE), as Valkey's ``functions.c``.

Theory of operation: a library is its full source, whose first line is the metadata
``#!lua name=<lib>``; loading runs the rest (shebang line dropped, its newline kept) in the
function engine, a second sandboxed Lua state, where the code sees only ``server.register_function``
and ``server.log``. The functions it registers join a server-wide name space: a name already
taken by another library refuses the load. Libraries are persisted as their sources (RDB
opcode ``FUNCTION2``, which the RDB reader and writer already carry), so loading an RDB, a
full sync or FUNCTION RESTORE all go through :meth:`FunctionLibraries.create`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from valsync.config import split_args
from valsync.rdb import format as F
from valsync.rdb.format import CRC64
from valsync.rdb.reader import _read_string
from valsync.rdb.writer import encode_string
from valsync.scripting.engine import LibraryLoad, LuaEngine, RegisteredFunction, valid_name

LOAD_TIMEOUT_SECONDS = 0.5
LIBRARY_NAME_ERROR = (
    "Library names can only contain letters, numbers, or underscores(_) and must be at least "
    "one character long"
)


class FunctionError(Exception):
    """A refused library operation; the text is the reply without ``ERR``."""


@dataclass
class Library:
    name: bytes
    code: bytes
    functions: dict[bytes, RegisteredFunction]


def library_metadata(code: bytes) -> tuple[bytes, bytes, int]:
    """``functionExtractLibMetaData``: (engine, library name, length of the shebang line)."""
    if not code.startswith(b"#!"):
        raise FunctionError("Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise FunctionError("Invalid library metadata")
    # sdssplitargs, as Valkey: name="foo" is the name foo
    words = split_args(code[:end].decode("latin-1"))
    if not words:
        raise FunctionError("Invalid library metadata")
    parts = [word.encode("latin-1") for word in words]
    engine = parts[0][2:]
    name: bytes | None = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise FunctionError(
                    "Invalid metadata value, name argument was given multiple times"
                )
            name = part[5:]
            continue
        raise FunctionError(f"Invalid metadata value given: {part.decode('utf-8', 'replace')}")
    if name is None:
        raise FunctionError("Library name was not given")
    return engine, name, end


class FunctionLibraries:
    """All loaded libraries and the functions they registered."""

    def __init__(self, make_engine: Callable[[], LuaEngine]) -> None:
        self._make_engine = make_engine
        self._engine: LuaEngine | None = None
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, tuple[Library, RegisteredFunction]] = {}
        """Both by lower-case name: Valkey's library and function names are case-insensitive."""

    @property
    def engine(self) -> LuaEngine:
        if self._engine is None:
            self._engine = self._make_engine()
        return self._engine

    def create(self, code: bytes, replace: bool, timeout: float = LOAD_TIMEOUT_SECONDS) -> bytes:
        """``functionsCreateWithLibraryCtx``: load ``code``; the library's name."""
        engine_name, name, shebang_len = library_metadata(code)
        if not valid_name(name):
            raise FunctionError(LIBRARY_NAME_ERROR)
        if engine_name.lower() != b"lua":
            raise FunctionError(f"Engine '{engine_name.decode('utf-8', 'replace')}' not found")
        old = self.libraries.get(name.lower())
        if old is not None and not replace:
            raise FunctionError(f"Library '{name.decode('utf-8', 'replace')}' already exists")
        load = LibraryLoad(timeout=timeout)
        error = self.engine.load_library(code[shebang_len:], load)
        if error is not None:
            raise FunctionError(error)
        if not load.functions:
            raise FunctionError("No functions registered")
        for fname, fn in load.functions.items():
            owner = self.functions.get(fname)
            if owner is not None and owner[0] is not old:
                raise FunctionError(f"Function {fn.name.decode('utf-8', 'replace')} already exists")
        if old is not None:
            self._unlink(old)
        library = Library(name, code, load.functions)
        self.libraries[name.lower()] = library
        for fname, fn in load.functions.items():
            self.functions[fname] = (library, fn)
        return name

    def _unlink(self, library: Library) -> None:
        for fname in library.functions:
            self.functions.pop(fname, None)
        self.libraries.pop(library.name.lower(), None)

    def delete(self, name: bytes) -> None:
        library = self.libraries.get(name.lower())
        if library is None:
            raise FunctionError("Library not found")
        self._unlink(library)

    def flush(self) -> None:
        self.libraries.clear()
        self.functions.clear()
        self._engine = None

    def sources(self) -> list[bytes]:
        return [lib.code for lib in self.libraries.values()]

    def replace_all(self, sources: Iterable[bytes]) -> None:
        """Load the libraries of an RDB (or a full sync), dropping what was loaded before."""
        self.flush()
        for code in sources:
            self.create(code, replace=True, timeout=0)

    # --- FUNCTION DUMP / RESTORE ------------------------------------------------------------

    def dump(self, compression: bool = True) -> bytes:
        """The FUNCTION DUMP payload: FUNCTION2 records, RDB version, CRC-64."""
        body = b"".join(
            bytes([F.OPCODE_FUNCTION2]) + encode_string(lib.code, compression)
            for lib in self.libraries.values()
        )
        body += F.RDB_VERSION.to_bytes(2, "little")
        crc: int = CRC64.calc(body)
        return body + crc.to_bytes(8, "little")

    def restore(self, payload: bytes, policy: bytes) -> None:
        """FUNCTION RESTORE with policy FLUSH, APPEND or REPLACE (all or nothing)."""
        sources = parse_dump(payload)
        saved_libraries = dict(self.libraries)
        saved_functions = dict(self.functions)
        try:
            if policy == b"flush":
                self.libraries.clear()
                self.functions.clear()
            for code in sources:
                _, name, _ = library_metadata(code)
                if policy == b"append" and name.lower() in self.libraries:
                    raise FunctionError(f"Library {name.decode('utf-8', 'replace')} already exists")
                self.create(code, replace=policy == b"replace", timeout=0)
        except FunctionError:
            self.libraries = saved_libraries
            self.functions = saved_functions
            raise


def parse_dump(payload: bytes) -> list[bytes]:
    if len(payload) < 10:
        raise FunctionError("DUMP payload version or checksum are wrong")
    version = int.from_bytes(payload[-10:-8], "little")
    crc = int.from_bytes(payload[-8:], "little")
    if version > F.RDB_VERSION and version != F.RDB_VERSION_VALKEY:
        raise FunctionError("DUMP payload version or checksum are wrong")
    if crc and CRC64.calc(payload[:-8]) != crc:
        raise FunctionError("DUMP payload version or checksum are wrong")
    body = payload[:-10]
    sources: list[bytes] = []
    p = 0
    while p < len(body):
        opcode = body[p]
        if opcode == 0xF6:
            raise FunctionError("Pre-GA function format not supported")
        if opcode != F.OPCODE_FUNCTION2:
            raise FunctionError("given type is not a function")
        try:
            code, p = _read_string(body, p + 1)
        except Exception:  # noqa: BLE001 - any decoding failure is a bad payload
            raise FunctionError("failed loading the given functions payload") from None
        sources.append(code)
    return sources
