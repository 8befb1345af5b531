"""The sans-IO parts of scripting: shebangs, the script cache, rand48, conversions, and the
engine driven with an in-memory command executor (no server, no sockets)."""

from __future__ import annotations

import hashlib

import pytest

from valsync.resp.reply import (
    Double,
    ErrorReply,
    MapReply,
    Raw,
    Reply,
    ScriptError,
    SetReply,
    SimpleString,
)
from valsync.scripting.conversion import error_fields, lua_number_to_int, number_to_arg
from valsync.scripting.engine import LuaEngine, Refusal, ScriptRun
from valsync.scripting.functions import FunctionError, FunctionLibraries, library_metadata
from valsync.scripting.rand48 import LRAND48_MAX, Rand48
from valsync.scripting.scripts import (
    EVAL_LRU_LENGTH,
    Script,
    ScriptCache,
    ShebangError,
    parse_shebang,
)


def test_shebang_flags_and_errors() -> None:
    assert parse_shebang(b"return 1").compat
    bang = parse_shebang(b"#!lua flags=no-writes,allow-stale\nreturn 1")
    assert not bang.compat and bang.flags == {"no-writes", "allow-stale"} and bang.length == 33
    assert parse_shebang(b"#!lua flags=\nreturn 1").flags == frozenset()
    for body, text in [
        (b"#!lua", "Invalid script shebang"),
        (b"#!python\n", "Could not find scripting engine 'python'"),
        (b"#!lua name=x\n", "Unknown lua shebang option: name=x"),
        (b"#!lua flags=no-writes,\n", "Unexpected flag in script shebang: "),
    ]:
        with pytest.raises(ShebangError) as err:
            parse_shebang(body)
        assert str(err.value) == text


def test_eval_cache_evicts_the_oldest_eval_script_only() -> None:
    cache = ScriptCache()
    loaded = Script("l" * 40, b"", parse_shebang(b""), None, evictable=False)
    cache.add(loaded)
    for i in range(EVAL_LRU_LENGTH + 3):
        cache.add(Script(f"{i:040d}", b"", parse_shebang(b""), None, evictable=True))
    assert cache.evicted == 3
    assert cache.get("0" * 40) is None and cache.get(loaded.sha) is loaded
    survivor = cache.get(f"{3:040d}")
    assert survivor is not None
    cache.promote(survivor)
    assert survivor.sha not in cache.lru


def test_rand48_draws_what_valkey_8_1_8_draws() -> None:
    """math.random(), math.random(10), math.random(5, 100), tostring(math.random()) on a
    fresh 8.1.8 answered 0, 9, 38, 0.44658343468168."""
    rand = Rand48()
    draws = [(rand.next() % LRAND48_MAX) / LRAND48_MAX for _ in range(4)]
    assert int(draws[0]) == 0
    assert int(draws[1] * 10) + 1 == 9
    assert int(draws[2] * 96) + 5 == 38
    assert b"%.14g" % draws[3] == b"0.44658343468168"


def test_number_conversions() -> None:
    assert number_to_arg(3) == b"3" and number_to_arg(3.0) == b"3"
    assert number_to_arg(3.5) == b"3.5" and number_to_arg(0.1) == b"0.1"
    assert number_to_arg(1e300) == b"1e+300"
    assert lua_number_to_int(3.99) == 3 and lua_number_to_int(-3.99) == -3
    assert lua_number_to_int(float("nan")) == -(2**63)
    assert error_fields(b"-WRONGTYPE x y") == b"WRONGTYPE x y"
    assert error_fields(b"plain") == b"ERR plain"


class FakeServer:
    """Answers ``server.call`` from a dict, as a command table would."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def __call__(self, argv: list[bytes]) -> Reply | Refusal:
        name = argv[0].lower()
        if name == b"set":
            self.data[argv[1]] = argv[2]
            return SimpleString("OK")
        if name == b"get":
            return self.data.get(argv[1])
        if name == b"hgetall":
            return MapReply([(b"f", b"v")])
        if name == b"smembers":
            return SetReply([b"m"])
        if name == b"zscore":
            return Double(1.5)
        if name == b"bad":
            return ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value")
        return Refusal(b"Unknown command called from script")


def _run(engine: LuaEngine, body: bytes, caller_resp: int = 2) -> Reply:
    fn, error = engine.compile(body)
    assert fn is not None, error
    sha = hashlib.sha1(body).hexdigest()
    run = ScriptRun(funcname=sha, execute=FakeServer(), acl_lookup=lambda argv: True)
    return engine.run(fn, run, [b"k"], [b"a"], caller_resp)


@pytest.fixture(scope="module")
def engine() -> LuaEngine:
    return LuaEngine()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"return {1, 'a', 3.9, true, false}", [1, b"a", 3, 1, None]),
        (b"return {KEYS[1], ARGV[1]}", [b"k", b"a"]),
        (b"return redis.call('set', 'x', 1)", Raw(b"+OK\r\n")),
        (b"redis.call('set', 'x', 2.5) return redis.call('get', 'x')", b"2.5"),
        (b"return redis.call('hgetall', 'h')", [b"f", b"v"]),
        (b"redis.setresp(3) return redis.call('hgetall', 'h')", MapReply([(b"f", b"v")])),
        (b"redis.setresp(3) return redis.call('smembers', 's')", SetReply([b"m"])),
        (b"redis.setresp(3) return redis.call('zscore', 'z', 'm')", Double(1.5)),
        (b"return redis.call('zscore', 'z', 'm')", b"1.5"),
        (b"return redis.call('get', 'nokey') == false", 1),
        (
            b"return redis.pcall('bad')['err']",
            b"WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
    ],
)
def test_conversions(engine: LuaEngine, body: bytes, expected: Reply) -> None:
    assert _run(engine, body) == expected


def test_errors_carry_valkeys_decorations(engine: LuaEngine) -> None:
    body = b"\nreturn redis.call('nosuch')"
    sha = hashlib.sha1(body).hexdigest().encode()
    reply = _run(engine, body)
    assert isinstance(reply, ScriptError) and reply.counted  # counted when refused
    assert reply.data == (
        b"-ERR Unknown command called from script script: " + sha + b", on @user_script:2.\r\n"
    )
    reply = _run(engine, b"x = 1")
    assert isinstance(reply, Raw) and b"Attempt to modify a readonly table" in reply.data
    assert engine.compile(b"return (")[1] == b"user_script:1: unexpected symbol near '<eof>'"


def test_libraries_roundtrip(engine: LuaEngine) -> None:
    assert _run(engine, b"return cjson.encode({a={1,2,'x'}})") == b'{"a":[1,2,"x"]}'
    assert _run(engine, b"return cjson.decode('[1,2,3]')[3]") == 3
    assert _run(engine, b"return {cmsgpack.unpack(cmsgpack.pack(1, 'x'))}") == [1, b"x"]
    assert _run(engine, b"return bit.tohex(bit.band(0xff0f, 0x0ff0))") == b"00000f00"
    assert _run(engine, b"return struct.unpack('>H', struct.pack('>H', 513))") == 513


def test_function_libraries() -> None:
    assert library_metadata(b"#!lua name=lib\nx") == (b"lua", b"lib", 14)
    libraries = FunctionLibraries(lambda: LuaEngine(function_mode=True))
    code = b"#!lua name=lib\nserver.register_function('f', function(k, a) return a[1] end)"
    assert libraries.create(code, replace=False) == b"lib"
    with pytest.raises(FunctionError, match="Library 'lib' already exists"):
        libraries.create(code, replace=False)
    assert libraries.create(code, replace=True) == b"lib"
    with pytest.raises(FunctionError, match="Function f already exists"):
        libraries.create(code.replace(b"name=lib", b"name=other"), replace=False)
    payload = libraries.dump()
    libraries.flush()
    libraries.restore(payload, b"append")
    assert list(libraries.functions) == [b"f"]
    with pytest.raises(FunctionError, match="DUMP payload version or checksum are wrong"):
        libraries.restore(payload[:-1] + b"\x00", b"append")


def test_function_and_library_names_are_case_insensitive() -> None:
    libraries = FunctionLibraries(lambda: LuaEngine(function_mode=True))
    libraries.create(b"#!lua name=Lib\nserver.register_function('Fn', function() end)", False)
    assert b"fn" in libraries.functions and libraries.functions[b"fn"][1].name == b"Fn"
    with pytest.raises(FunctionError, match="Library 'LIB' already exists"):
        libraries.create(b"#!lua name=LIB\nserver.register_function('g', function() end)", False)
    with pytest.raises(FunctionError, match="Function already exists in the library"):
        libraries.create(
            b"#!lua name=x\nserver.register_function('a', function() end) server.register_function('A', function() end)",
            False,
        )
    libraries.delete(b"LIB")
    assert not libraries.libraries
