"""Lua scripting and functions, byte for byte against a real valkey-server 8.1.8.

A corpus of scripts (the API, conversions in both protocols, errors and their decorations,
the sandbox, shebang flags, the script cache) runs on a valsync process and on the real
server over raw sockets; every reply must be identical, and so must ``DEBUG DIGEST``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.differential import RawClient
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

Case = tuple[str, ...]

# (script, numkeys, keys/args...) run with EVAL; each is also run with EVALSHA afterwards.
API: list[Case] = [
    ("return 1", "0"),
    ("return 'hello'", "0"),
    ("return 3.99", "0"),
    ("return -3.99", "0"),
    ("return 1e300", "0"),
    ("return 0/0", "0"),
    ("return {1,2,3,'ciao',{1,2}}", "0"),
    ("return {1,2,nil,3}", "0"),
    ("return {}", "0"),
    ("return true", "0"),
    ("return false", "0"),
    ("return nil", "0"),
    ("return {ok='fine'}", "0"),
    ("return {ok='a\\r\\nb'}", "0"),
    ("return {err='MYERR something'}", "0"),
    ("return {err=1}", "0"),
    ("return {ok=1}", "0"),
    ("return redis.status_reply('OKAY')", "0"),
    ("return redis.error_reply('xx')", "0"),
    ("return redis.error_reply('-CODE msg')", "0"),
    ("return redis.error_reply()", "0"),
    ("return redis.status_reply(1)", "0"),
    ("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}", "2", "k1", "k2", "a1", "a2"),
    ("return #ARGV", "0", "a", "b", "c"),
    ("return redis.sha1hex('')", "0"),
    ("return redis.sha1hex('Pizza & Mandolino')", "0"),
    ("return redis.sha1hex()", "0"),
    ("return redis.sha1hex(123)", "0"),
    ("redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[1])", "1", "k", "v"),
    ("return redis.call('set', 'k', 'v')", "0"),
    ("return redis.call('get', 'nokey')", "0"),
    ("return redis.call('incr', 'counter')", "0"),
    ("return redis.call('set', 'n', 3.5)", "0"),
    ("return redis.call('set', 'n', 10), redis.call('get', 'n')", "0"),
    ("redis.call('set', 'n', 1e15); return redis.call('get', 'n')", "0"),
    ("redis.call('set', 'n', 0.1); return redis.call('get', 'n')", "0"),
    ("redis.call('rpush', 'l', 'a', 'b', 'c'); return redis.call('lrange', 'l', 0, -1)", "0"),
    ("redis.call('hset', 'h', 'f', 'v', 'g', 'w'); return redis.call('hgetall', 'h')", "0"),
    ("redis.call('zadd', 'z', 1.5, 'a'); return redis.call('zscore', 'z', 'a')", "0"),
    (
        "redis.call('zadd', 'z', 1.5, 'a'); return redis.call('zrange', 'z', 0, -1, 'withscores')",
        "0",
    ),
    ("return redis.call('ping')", "0"),
    ("return redis.call('type', 'nokey')", "0"),
    ("return redis.pcall('incr', 'x', 'y')", "0"),
    ("return redis.pcall('nosuch')", "0"),
    ("redis.call('set','x','a'); return redis.pcall('incr','x')", "0"),
    ("redis.call('set','x','a'); return redis.call('incr','x')", "0"),
    ("local e = redis.pcall('incr','x','y') return {e['err'], type(e)}", "0"),
    ("return redis.call('incr','x','y')", "0"),
    ("return redis.call('nosuch')", "0"),
    ("return redis.call()", "0"),
    ("return redis.call('set','a',{})", "0"),
    ("return redis.call('set',nil,'a')", "0"),
    ("return redis.call('eval','return 1', 0)", "0"),
    ("return redis.call('multi')", "0"),
    ("return redis.call('blpop', 'nolist', 0)", "0"),
    ("redis.call('select', 1); redis.call('set', 'indb1', 'x'); return redis.call('dbsize')", "0"),
    ("return redis.call('dbsize')", "0"),
    ("return pcall(function() redis.call('nosuch') end)", "0"),
    ("local ok, e = pcall(function() redis.call('nosuch') end) return e", "0"),
    ("local ok, e = pcall(function() error('x') end) return e", "0"),
    ("local ok, e = pcall(function() error({err='T x'}) end) return e", "0"),
    ("local ok, e = pcall(error) return {ok, e}", "0"),
    ("return {pcall(function() return 1, 2, 3 end)}", "0"),
    ("error('boom')", "0"),
    ("error('MYERR boom')", "0"),
    ("error('MYERR boom', 0)", "0"),
    ("error({err='MY boom'})", "0"),
    ("error({})", "0"),
    ("error(nil)", "0"),
    ("error(5)", "0"),
    ("local x = nil; return x.y", "0"),
    ("local function f() error('inner') end\nf()", "0"),
    ("\n\nreturn redis.call('nosuch')", "0"),
    ("return (", "0"),
    ("return 1 +", "0"),
    ("redis.log(redis.LOG_WARNING, 'from a script')", "0"),
    ("redis.log(redis.LOG_WARNING)", "0"),
    ("redis.log('x', 'y')", "0"),
    ("redis.log(10, 'y')", "0"),
    ("return redis.setresp(4)", "0"),
    ("return redis.setresp()", "0"),
    ("return redis.set_repl(redis.REPL_ALL)", "0"),
    ("return redis.set_repl(99)", "0"),
    ("return redis.set_repl()", "0"),
    ("return redis.replicate_commands()", "0"),
    ("return redis.breakpoint()", "0"),
    ("return redis.debug('x')", "0"),
    ("return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM, server.SERVER_NAME}", "0"),
    (
        "return {redis.REPL_ALL, redis.REPL_AOF, redis.REPL_REPLICA, redis.REPL_SLAVE, redis.REPL_NONE}",
        "0",
    ),
    ("return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}", "0"),
    ("return redis == server", "0"),
    ("return redis.acl_check_cmd('set', 'a', 'b')", "0"),
    ("return redis.acl_check_cmd('nosuch')", "0"),
    ("return tostring(1/3)", "0"),
    ("return tostring(1e15) .. ' ' .. tostring(2^53) .. ' ' .. tostring(-0.5)", "0"),
    ("return string.format('%5.2f|%d|%s|%q', 3.14159, 42, 'x', 'a\\nb')", "0"),
    ("return {string.rep('ab', 3), string.upper('x'), ('abc'):len()}", "0"),
    ("return table.concat({1, 2, 3}, ',')", "0"),
    ("return {math.floor(3.7), math.max(1, 5, 3), math.huge > 0}", "0"),
    ("return {string.find('hello world', 'o w')}", "0"),
    ("return {string.gsub('hello', 'l', 'L')}", "0"),
    ("return {tonumber('0x10'), tonumber('  12  '), tonumber('z')}", "0"),
    ("return type(os.clock())", "0"),
    ("local t = {} for i = 1, 100 do t[i] = i end return t", "0"),
    ("return {1, {2, {3, {4, {5}}}}}", "0"),
    ("return coroutine.wrap(function() coroutine.yield(7) end)()", "0"),
    ("return select('#', 1, nil, 3)", "0"),
    ("return unpack({1, 2, 3})", "0"),
]

SANDBOX: list[Case] = [
    ("a = 5", "0"),
    ("return foo", "0"),
    ("redis.call = nil", "0"),
    ("redis.call = function() return 1 end", "0"),
    ("string.x = 1", "0"),
    ("cjson = nil", "0"),
    ("rawset(_G, 'x', 1)", "0"),
    ("rawset(string, 'x', 1)", "0"),
    ("setmetatable(_G, {})", "0"),
    ("local g = getmetatable(_G) g.__index = {}", "0"),
    ("getmetatable('').__index = {}", "0"),
    ("_G = {}", "0"),
    ("redis = function() return 1 end", "0"),
    ("return getmetatable(_G) == nil", "0"),
    ("return type(getmetatable(_G).__index)", "0"),
    ("return loadfile", "0"),
    ("return dofile", "0"),
    ("return print", "0"),
    ("return os.time()", "0"),
    ("return io", "0"),
    ("return debug", "0"),
    ("return require", "0"),
    ("return getfenv", "0"),
    ("return loadstring(string.dump(function() return 1 end))", "0"),
    ("return loadstring('return 7')()", "0"),
    ("return loadstring('x = 1')()", "0"),
    ("return loadstring('return nosuch')()", "0"),
    ("return rawget(_G, 'nosuch')", "0"),
    ("return rawget(string, 'rep') ~= nil", "0"),
    ("KEYS[1] = 'x' return KEYS[1]", "1", "a"),
    ("local t = {} for k in pairs(redis) do t[#t+1] = k end table.sort(t) return t", "0"),
    ("local t = {} for k in pairs(string) do t[#t+1] = k end table.sort(t) return t", "0"),
    ("local t = {} for k in pairs(math) do t[#t+1] = k end table.sort(t) return t", "0"),
    ("local t = {} for k in pairs(table) do t[#t+1] = k end table.sort(t) return t", "0"),
    ("local t = {} for k in pairs(os) do t[#t+1] = k end table.sort(t) return t", "0"),
    ("local t = {} for k, v in next, _G do t[#t+1] = k end return #t > 10", "0"),
]

LIBRARIES: list[Case] = [
    ("return cjson.encode({1,2,3,'a',{x=1}})", "0"),
    ("return cjson.encode({a='x/y\"z\n', b=1.5, c=true, d=cjson.null})", "0"),
    ("return cjson.encode({})", "0"),
    ("return cjson.encode({[1]=1,[20]=2})", "0"),
    ("return cjson.encode({[1]=1,[3]=2})", "0"),
    ("return cjson.encode(function() end)", "0"),
    ("return cjson.encode(1/0)", "0"),
    ("return cjson.encode(0.1)", "0"),
    ("return cjson.encode(123456789012345)", "0"),
    ("return cjson.encode('\1\127\200')", "0"),
    ("return cjson.encode({[1.5]=1})", "0"),
    ("return cjson.encode({[true]=1})", "0"),
    (
        'local t = cjson.decode(\'{"a":[1,2,{"b":null}],"c":"\\u00e9"}\') '
        "return {t.a[1], t.a[2], type(t.a[3].b), t.c, t.a[3].b == cjson.null}",
        "0",
    ),
    ("return cjson.decode('[1,2')", "0"),
    ("return cjson.decode('{1:2}')", "0"),
    ("return cjson.decode('x')", "0"),
    ("return cjson.decode('1.5')", "0"),
    ("return cjson.decode('\"abc\"')", "0"),
    ("return cjson.decode(cjson.encode({a={b={c='d'}}})).a.b.c", "0"),
    ("return {pcall(cjson.decode, 'x')}", "0"),
    ("return {cjson.encode_sparse_array()}", "0"),
    (
        "return {bit.band(0xff, 0x0f), bit.bor(1,2,4), bit.bxor(5,3), bit.bnot(0), "
        "bit.lshift(1,31), bit.rshift(-1,28), bit.arshift(-256,4), bit.tohex(255), "
        "bit.tohex(-1, -4), bit.tobit(2^32+5), bit.rol(1,33), bit.bswap(0x12345678)}",
        "0",
    ),
    ("return bit.band('x')", "0"),
    ("return bit.band()", "0"),
    ("return cmsgpack.pack({1,2,3}, 'abc', 1.5, -1, 300, {a=1}, true, nil)", "0"),
    ("return {cmsgpack.unpack(cmsgpack.pack(1, 'x', {1,2}, -100, 70000, 2^40))}", "0"),
    ("return cmsgpack.unpack('\\xc1')", "0"),
    ("return cmsgpack.pack(string.rep('x', 40), 0.25, -2^40)", "0"),
    ("return struct.pack('>I2i4bB', 258, -2, -1, 255)", "0"),
    ("return {struct.unpack('>I2i4', struct.pack('>I2i4', 258, -2))}", "0"),
    ("return struct.size('>I2i4d')", "0"),
    ("return {struct.unpack('s', 'ab\\0cd')}", "0"),
    ("return {struct.unpack('<d', struct.pack('<d', 1.5))}", "0"),
    ("return math.random(0)", "0"),
    ("return type(math.random())", "0"),
    ("local t = {} for k in pairs(_G) do t[#t+1] = k end table.sort(t) return t", "0"),
    ("local t = {} for k in pairs(cjson) do t[#t+1] = k end table.sort(t) return t", "0"),
    ("local t = {} for k in pairs(bit) do t[#t+1] = k end table.sort(t) return t", "0"),
    ("local t = {} for k in pairs(struct) do t[#t+1] = k end table.sort(t) return t", "0"),
    ("local t = {} for k in pairs(cmsgpack) do t[#t+1] = k end table.sort(t) return t", "0"),
    ("cjson.encode = function() return 1 end", "0"),
    ("cmsgpack.pack = function() return 1 end", "0"),
    ("bit.lshift = function() return 1 end", "0"),
]

FLAGS: list[Case] = [
    ("#!lua\nreturn 1", "0"),
    ("#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"),
    ("#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')", "0"),
    ("#!lua flags=no-writes,allow-stale\nreturn 1", "0"),
    ("#!lua flags=allow-oom,allow-cross-slot-keys,no-cluster\nreturn 1", "0"),
    ("#!lua flags=nosuch\nreturn 1", "0"),
    ("#!lua foo=bar\nreturn 1", "0"),
    ("#!python\nreturn 1", "0"),
    ("#!lua", "0"),
    ("#!lua\nreturn redis.call('nosuch')", "0"),
    ("#!lua\n\nerror('third line')", "0"),
]

RESP3: list[Case] = [
    ("redis.setresp(3); return redis.call('hgetall', 'h')", "0"),
    ("redis.setresp(3); local r = redis.call('hgetall', 'h'); return type(r['map'])", "0"),
    ("redis.setresp(3); return redis.call('smembers', 'oneset')", "0"),
    ("redis.setresp(3); return redis.call('zscore', 'z', 'a')", "0"),
    (
        "redis.setresp(3); local r = redis.call('zscore', 'z', 'a'); return tostring(r['double'])",
        "0",
    ),
    ("redis.setresp(3); return redis.call('get', 'nokey')", "0"),
    ("redis.setresp(3); return redis.call('get', 'nokey') == nil", "0"),
    ("redis.setresp(2); return redis.call('get', 'nokey') == false", "0"),
    ("redis.setresp(3); return true", "0"),
    ("redis.setresp(3); return false", "0"),
    ("redis.setresp(3); return {double=3.5}", "0"),
    ("redis.setresp(3); return {double=3}", "0"),
    ("return {double=0.25}", "0"),
    ("return {big_number='123456789012345678901234567890'}", "0"),
    ("return {verbatim_string={format='txt', string='hello'}}", "0"),
    ("return {map={a=1}}", "0"),
    ("return {set={a=true}}", "0"),
    ("redis.setresp(3); return redis.call('hello')", "0"),
]


def _evalsha_case(case: Case) -> Case:
    import hashlib

    return (hashlib.sha1(case[0].encode()).hexdigest(), *case[1:])


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    real = start_valkey("8.1.8")
    mine = start_valsync("--enable-debug-command", "yes")
    try:
        yield mine, real
    finally:
        mine.stop()
        real.stop()


def _clients(pair: tuple[ServerProcess, ServerProcess], resp: int) -> tuple[RawClient, RawClient]:
    mine, real = (RawClient(p.port) for p in pair)
    if resp == 3:
        assert mine.call("HELLO", "3")[:1] == real.call("HELLO", "3")[:1]
    return mine, real


def _prepare(client: RawClient) -> None:
    for cmd in (
        ("FLUSHALL",),
        ("SCRIPT", "FLUSH"),
        ("HSET", "h", "f", "v"),
        ("SADD", "oneset", "m"),
        ("ZADD", "z", "1.5", "a"),
    ):
        client.call(*cmd)


def _check(mine: RawClient, real: RawClient, *args: str | bytes) -> None:
    theirs = real.call(*args)
    ours = mine.call(*args)
    assert ours == theirs, f"{args!r}: valsync {ours!r} != valkey {theirs!r}"


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("corpus", ["API", "SANDBOX", "LIBRARIES", "FLAGS", "RESP3"])
def test_scripts_match_valkey(
    pair: tuple[ServerProcess, ServerProcess], corpus: str, resp: int
) -> None:
    mine, real = _clients(pair, resp)
    with mine, real:
        for client in (mine, real):
            _prepare(client)
        for case in globals()[corpus]:
            _check(mine, real, "EVAL", *case)
            _check(mine, real, "EVALSHA", *_evalsha_case(case))
            _check(mine, real, "EVAL_RO", *case)
        _check(mine, real, "DEBUG", "DIGEST")


COMMANDS: list[tuple[str, ...]] = [
    ("EVAL", "return 1", "x"),
    ("EVAL", "return 1", "-1"),
    ("EVAL", "return 1", "2", "a"),
    ("EVAL", "return 1"),
    ("EVALSHA", "abc", "0"),
    ("EVALSHA", "a" * 40, "0"),
    ("EVALSHA", "a" * 40, "x"),
    ("EVALSHA", "abc", "x"),
    ("EVAL_RO", "return redis.call('set', 'k', 'v')", "0"),
    ("EVAL_RO", "return redis.call('get', 'k')", "0"),
    ("EVAL_RO", "#!lua\nreturn 1", "0"),
    ("EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"),
    ("SCRIPT", "LOAD", "return 'loaded'"),
    ("SCRIPT", "EXISTS", "c4c0d8a1e7e43cfc2af0e0d3e16b37b8b7ec3d2e", "x"),
    ("EVALSHA", "c4c0d8a1e7e43cfc2af0e0d3e16b37b8b7ec3d2e", "0"),
    ("SCRIPT", "LOAD", "return ("),
    ("SCRIPT", "LOAD", "#!lua flags=bad\nreturn 1"),
    ("SCRIPT", "SHOW", "c4c0d8a1e7e43cfc2af0e0d3e16b37b8b7ec3d2e"),
    ("SCRIPT", "SHOW", "nosuch"),
    ("SCRIPT", "HELP"),
    ("SCRIPT", "FLUSH", "ASYNC"),
    ("SCRIPT", "FLUSH", "SYNC"),
    ("SCRIPT", "FLUSH", "BAD"),
    ("SCRIPT", "FLUSH", "SYNC", "EXTRA"),
    ("SCRIPT", "EXISTS", "c4c0d8a1e7e43cfc2af0e0d3e16b37b8b7ec3d2e"),
    ("SCRIPT", "KILL"),
    ("SCRIPT", "NOSUCH"),
    ("SCRIPT", "LOAD"),
    ("SCRIPT", "EXISTS"),
    ("MULTI",),
    ("EVAL", "redis.call('set', 'm', 1) return redis.call('incr', 'm')", "0"),
    ("EXEC",),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_script_commands_match_valkey(pair: tuple[ServerProcess, ServerProcess], resp: int) -> None:
    mine, real = _clients(pair, resp)
    with mine, real:
        for client in (mine, real):
            _prepare(client)
        for cmd in COMMANDS:
            _check(mine, real, *cmd)
        _check(mine, real, "DEBUG", "DIGEST")


LIB = (
    "#!lua name=mylib\n"
    "redis.register_function('f', function(keys, args) "
    "return {keys[1], args[1], redis.call('ping')} end)\n"
    "redis.register_function{function_name='g', callback=function(keys, args) "
    "return redis.call('set', keys[1], args[1]) end, description='sets', "
    "flags={'allow-oom', 'no-cluster'}}\n"
)
ONE = (
    "#!lua name=one\n"
    "redis.register_function{function_name='ro', callback=function(keys, args) "
    "return redis.call('get', keys[1]) end, flags={'no-writes'}}\n"
)
ERRS = (
    "#!lua name=errs\n"
    "redis.register_function('e1', function() error('boom') end)\n"
    "redis.register_function('e2', function() return redis.call('nosuch') end)\n"
    "redis.register_function('e3', function() return a.b end)\n"
    "redis.register_function('e4', function() x = 1 end)\n"
    "redis.register_function('e5', function() return {type(redis.setresp), type(KEYS)} end)\n"
    "redis.register_function('e6', function(k, a) redis.setresp(3) "
    "return redis.call('hgetall', k[1]) end)\n"
)


def _lib(body: str, name: str = "mylib") -> str:
    return f"#!lua name={name}\n{body}"


FUNCTIONS: list[tuple[str, ...]] = [
    ("FUNCTION", "FLUSH"),
    ("FUNCTION", "LOAD", "return 1"),
    ("FUNCTION", "LOAD", "#!lua\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=mylib"),
    ("FUNCTION", "LOAD", _lib("error('x')")),
    ("FUNCTION", "LOAD", _lib("local x = string.len('a')")),
    ("FUNCTION", "LOAD", _lib("redis.register_function('f-1', function() end)")),
    ("FUNCTION", "LOAD", _lib("redis.register_function()")),
    ("FUNCTION", "LOAD", _lib("redis.register_function('f')")),
    ("FUNCTION", "LOAD", _lib("redis.register_function(1, function() end)")),
    ("FUNCTION", "LOAD", _lib("redis.register_function('f', 1)")),
    ("FUNCTION", "LOAD", _lib("redis.register_function(1)")),
    ("FUNCTION", "LOAD", _lib("redis.register_function{function_name='f'}")),
    ("FUNCTION", "LOAD", _lib("redis.register_function{callback=function() end}")),
    ("FUNCTION", "LOAD", _lib("redis.register_function{function_name=1, callback=print}")),
    ("FUNCTION", "LOAD", _lib("redis.register_function{function_name='f', foo=1}")),
    (
        "FUNCTION",
        "LOAD",
        _lib("redis.register_function{function_name='f', callback=function() end, flags={'bad'}}"),
    ),
    (
        "FUNCTION",
        "LOAD",
        _lib(
            "redis.register_function('f', function() end) redis.register_function('f', function() end)"
        ),
    ),
    ("FUNCTION", "LOAD", _lib("redis.call('set','x','y')")),
    ("FUNCTION", "LOAD", _lib("return 1", name="my-lib")),
    ("FUNCTION", "LOAD", "#!lua name=mylib foo=bar\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=a name=b\nreturn 1"),
    ("FUNCTION", "LOAD", _lib("return (")),
    ("FUNCTION", "LOAD", "#!py name=mylib\nreturn 1"),
    ("FUNCTION", "LOAD", _lib("local x = 1")),
    ("FUNCTION", "LOAD", "BADOPT", _lib("local x = 1")),
    ("FUNCTION", "LOAD", LIB),
    ("FUNCTION", "LOAD", LIB),
    ("FUNCTION", "LOAD", "REPLACE", LIB),
    ("FUNCTION", "LOAD", _lib("redis.register_function('f', function() end)", name="other")),
    ("FUNCTION", "LIST", "LIBRARYNAME"),
    ("FUNCTION", "LIST", "bad"),
    ("FUNCTION", "DUMP"),
    ("FCALL", "f", "1", "k", "a"),
    ("FCALL", "g", "1", "k", "v"),
    ("FCALL_RO", "g", "1", "k", "v"),
    ("FCALL", "nosuch", "0"),
    ("FCALL", "f", "x"),
    ("FCALL", "f", "-1"),
    ("FCALL", "f", "3", "a"),
    ("FUNCTION", "LOAD", ONE),
    ("FUNCTION", "LIST", "LIBRARYNAME", "one"),
    ("FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "o*"),
    ("FUNCTION", "LIST", "LIBRARYNAME", "nomatch*"),
    ("FCALL", "ro", "1", "k"),
    ("FCALL_RO", "ro", "1", "k"),
    ("FUNCTION", "LOAD", ERRS),
    ("HSET", "h", "a", "1"),
    ("FCALL", "e1", "0"),
    ("FCALL", "e2", "0"),
    ("FCALL", "e3", "0"),
    ("FCALL", "e4", "0"),
    ("FCALL", "e5", "0"),
    ("FCALL", "e6", "1", "h"),
    ("FUNCTION", "STATS"),
    ("FUNCTION", "DELETE", "nosuch"),
    ("FUNCTION", "DELETE", "errs"),
    ("FUNCTION", "DELETE", "one"),
    ("FUNCTION", "STATS"),
    ("FUNCTION", "KILL"),
    ("FUNCTION", "HELP"),
    ("FUNCTION", "NOSUCH"),
    ("FUNCTION", "FLUSH", "BAD"),
    ("FUNCTION", "RESTORE", "garbage"),
    ("FUNCTION", "RESTORE", "garbage", "BADPOLICY"),
    ("FUNCTION", "FLUSH", "ASYNC"),
    ("FUNCTION", "LIST"),
    ("FUNCTION", "DUMP"),
]


@pytest.mark.parametrize("resp", [2, 3])
def test_functions_match_valkey(pair: tuple[ServerProcess, ServerProcess], resp: int) -> None:
    mine, real = _clients(pair, resp)
    with mine, real:
        for client in (mine, real):
            _prepare(client)
            client.call("FUNCTION", "FLUSH")
        for cmd in FUNCTIONS:
            _check(mine, real, *cmd)
        _check(mine, real, "DEBUG", "DIGEST")


def test_function_dump_restores_across(pair: tuple[ServerProcess, ServerProcess]) -> None:
    """A dump of one side restores on the other (and the policies refuse the same way)."""
    mine, real = _clients(pair, 2)
    with mine, real:
        for client in (mine, real):
            client.call("FUNCTION", "FLUSH")
            client.call("FUNCTION", "LOAD", LIB)
        ours, theirs = mine.call("FUNCTION", "DUMP"), real.call("FUNCTION", "DUMP")
        assert ours == theirs
        payload = theirs.split(b"\r\n", 1)[1][:-2]
        for policy in ("APPEND", "REPLACE", "FLUSH"):
            _check(mine, real, "FUNCTION", "RESTORE", payload, policy)
        _check(mine, real, "FUNCTION", "DELETE", "mylib")
        _check(mine, real, "FUNCTION", "RESTORE", payload)
        _check(mine, real, "FCALL", "f", "1", "a", "b")


def test_evicted_scripts_counter_resets(pair: tuple[ServerProcess, ServerProcess]) -> None:
    """INFO's evicted_scripts counts EVAL cache evictions; CONFIG RESETSTAT zeroes it."""
    counts = []
    for server in pair:
        with RawClient(server.port) as client:
            client.call("script", "flush")
            for j in range(503):
                client.call("eval", f"return {j}", "0")
            info = [client.call("info", "stats")]
            client.call("config", "resetstat")
            client.call("eval", "return 'one more'", "0")
            info.append(client.call("info", "stats"))
            counts.append(
                [
                    next(
                        line for line in text.split(b"\r\n") if line.startswith(b"evicted_scripts")
                    )
                    for text in info
                ]
            )
    assert counts[1] == counts[0] == [b"evicted_scripts:3", b"evicted_scripts:1"]


def test_time_stands_still_in_a_script(pair: tuple[ServerProcess, ServerProcess]) -> None:
    """TIME inside a script shows the script's start, however long the script runs."""
    script = (
        "local a = redis.call('TIME')\n"
        "redis.call('DEBUG', 'SLEEP', 0.01)\n"
        "local b = redis.call('TIME')\n"
        "return {a[1] == b[1] and a[2] == b[2] and 1 or 0, #a, #b}"
    )
    for server in pair:
        with RawClient(server.port) as client:
            client.call("debug", "set-disable-deny-scripts", "1")
            try:
                assert client.call("eval", script, "0") == b"*3\r\n:1\r\n:2\r\n:2\r\n"
            finally:
                client.call("debug", "set-disable-deny-scripts", "0")


def test_lua_memory_stays_small(pair: tuple[ServerProcess, ServerProcess]) -> None:
    """Many EVALs leave no garbage piling up in the Lua state (Valkey's suite: < 100 KB)."""
    for server in pair:
        with RawClient(server.port) as client:
            client.call("script", "flush")
            for _ in range(3000):
                client.call("eval", "return redis.call('incr', KEYS[1])", "1", "lua:mem")
            info = client.call("info", "memory").split(b"\r\n")
            used = next(line for line in info if line.startswith(b"used_memory_lua:"))
            assert int(used.split(b":")[1]) < 100 * 1024
