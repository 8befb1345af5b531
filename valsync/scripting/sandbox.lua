-- valsync's Lua sandbox: the globals a Valkey 8.1.8 script sees, built on stock Lua 5.1.
--
-- Valkey patches its Lua VM with read-only tables; stock Lua has none, so every protected
-- table is shown to scripts through an empty proxy whose metatable forwards reads and refuses
-- writes.  The raw-access builtins (rawset, rawget, next, pairs, getmetatable, setmetatable)
-- are wrapped so that they see through a proxy and refuse to modify one, with Valkey's words.
-- Frames of this chunk are hidden from the error handler, which then reports the script's
-- own line as Valkey does.
--
-- Called once with a table of host (Python) functions; returns the engine's entry points.

local host = ...

local G = _G
local raw_rawset, raw_rawget, raw_next, raw_type = rawset, rawget, next, type
local raw_setmetatable, raw_getmetatable = setmetatable, getmetatable
local raw_pcall, raw_error, raw_select, raw_unpack = pcall, error, select, unpack
local raw_xpcall = xpcall
local raw_loadstring, raw_load, raw_setfenv, raw_tostring = loadstring, load, setfenv, tostring
local dbg = debug
local string_byte = string.byte
local string_dump = string.dump
local string_lib = string

local READONLY = "Attempt to modify a readonly table"

-- proxy -> the table it protects
local backing = raw_setmetatable({}, { __mode = "k" })
-- protected table -> its proxy
local proxy_of = raw_setmetatable({}, { __mode = "k" })

local function refuse_write()
    raw_error(READONLY, 2)
end

local function protect(t, index)
    local existing = proxy_of[t]
    if existing then
        return existing
    end
    local p = {}
    backing[p] = t
    proxy_of[t] = p
    raw_setmetatable(p, { __index = index or t, __newindex = refuse_write })
    return p
end

local function see_through(t)
    return backing[t] or t
end

-- libraries the host provides (cjson, bit, struct, cmsgpack) join the globals here
for name, lib in raw_next, host.libraries do
    raw_rawset(G, name, lib)
end

-- Valkey's math.random/randomseed: the server's own rand48, not the C library's
math.random = host.math_random
math.randomseed = host.math_randomseed

local server = {}
for name, value in raw_next, host.api do
    server[name] = value
end

local function pack(...)
    return { n = raw_select("#", ...), ... }
end

-- The host functions are called as they are (C functions to Lua, so a tail call keeps the
-- script's frame for the error position); they raise a host exception carrying the error
-- table, which host.unwrap turns back into the table.
local unwrap = host.unwrap
for _, name in raw_next, {
    "call", "pcall", "sha1hex", "setresp", "set_repl", "log", "acl_check_cmd", "error_reply",
    "status_reply",
} do
    server[name] = host[name]
end
-- lupa can't pass a Python function 8000 arguments (Lua's C stack limit): call and pcall are
-- Lua functions that hand big argument lists over packed in a table. This frame (source
-- "=valsync") is hidden from the error handler, and scripts are loaded without tail calls
-- (host.untail), so the script's own line is still the one reported.
for _, name in raw_next, { "call", "pcall" } do
    local direct, packed = host[name], host[name .. "_packed"]
    server[name] = function(...)
        local n = raw_select("#", ...)
        if n > 4000 then
            return packed({ ... }, n)
        end
        return direct(...)
    end
end
local untail = host.untail
local function load_untailed(code, chunkname)
    local f, err = raw_loadstring(code, chunkname)
    if not f then
        return nil, err
    end
    local plain = untail(string_dump(f))
    if plain then
        f = raw_loadstring(plain, chunkname) or f
    end
    return f
end
local function unwrap_error(e)
    if raw_type(e) == "userdata" then
        return unwrap(e)
    end
    return e
end
local function_mode = host.function_mode
if not function_mode then
    server.breakpoint = host.ldb_breakpoint
    server.debug = host.ldb_debug
    server.replicate_commands = function()
        return true
    end
end

-- the global pcall of Valkey replaces an error table by its 'err' string
local function valkey_pcall(f, ...)
    local result = pack(raw_pcall(f, ...))
    if not result[1] then
        local e = unwrap_error(result[2])
        if raw_type(e) == "table" then
            local msg = e.err
            local t = raw_type(msg)
            if t == "string" or t == "number" then
                e = msg
            end
        end
        return false, e
    end
    return raw_unpack(result, 1, result.n)
end

-- the script environment: reads fall through to G (to the library API while a function
-- library loads), unknown names are an error
local lookup = G
local env_meta_index = function(_, name)
    local value = raw_rawget(lookup, name)
    if value == nil then
        raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(name) .. "'", 2)
    end
    return value
end
local env = {}
local env_meta = { __index = env_meta_index, __newindex = refuse_write }
raw_setmetatable(env, env_meta)
backing[env] = G
proxy_of[G] = env
local env_meta_view = protect({ __index = env_meta_index })

local function wrapped_loadstring(s, chunkname)
    if raw_type(s) == "string" and string_byte(s, 1) == 27 then
        return nil
    end
    local f, err = raw_loadstring(s, chunkname)
    if f then
        raw_setfenv(f, env)
    end
    return f, err
end

local function wrapped_load(fn, chunkname)
    local f, err = raw_load(fn, chunkname)
    if f then
        raw_setfenv(f, env)
    end
    return f, err
end

local function wrapped_next(t, k)
    return raw_next(see_through(t), k)
end

local string_meta = raw_getmetatable("")

local overrides = {
    pcall = valkey_pcall,
    xpcall = function(f, handler)
        return raw_xpcall(f, function(e)
            return handler(unwrap_error(e))
        end)
    end,
    loadstring = wrapped_loadstring,
    load = wrapped_load,
    next = wrapped_next,
    pairs = function(t)
        return wrapped_next, t, nil
    end,
    rawget = function(t, k)
        return raw_rawget(see_through(t), k)
    end,
    rawset = function(t, k, v)
        if backing[t] or proxy_of[t] then
            raw_error(READONLY, 0)
        end
        return raw_rawset(t, k, v)
    end,
    getmetatable = function(obj)
        if obj == env then
            return env_meta_view
        end
        if backing[obj] then
            local mt = raw_getmetatable(backing[obj])
            return mt and protect(mt) or nil
        end
        local mt = raw_getmetatable(obj)
        if mt == string_meta then
            return protect(mt)
        end
        return mt
    end,
    setmetatable = function(t, mt)
        if backing[t] or proxy_of[t] then
            raw_error(READONLY, 0)
        end
        return raw_setmetatable(t, mt)
    end,
}
for name, fn in raw_next, overrides do
    raw_rawset(G, name, fn)
end

-- what Valkey 8.1.8 leaves out of the globals
for _, name in raw_next, {
    "print", "dofile", "loadfile", "debug", "getfenv", "setfenv", "newproxy", "module",
    "require", "package", "io", "python", "gcinfo_", "_LOADED",
} do
    raw_rawset(G, name, nil)
end
local os_clock = os.clock
raw_rawset(G, "os", { clock = os_clock })

-- the error handler of every script run (Valkey's __server__err__handler), hiding our frames
local function error_handler(err)
    local level, first, second = 2, nil, nil
    while true do
        local info = dbg.getinfo(level, "nSl")
        if not info then
            break
        end
        if info.source ~= "=valsync" then
            if first == nil then
                first = info
            else
                second = info
                break
            end
        end
        level = level + 1
    end
    local i = first
    if i and i.what == "C" then
        i = second
    end
    err = unwrap_error(err)
    if raw_type(err) ~= "table" then
        err = { err = "ERR " .. raw_tostring(err) }
    end
    if i then
        err.source = i.source
        err.line = i.currentline
    end
    return err
end
if not function_mode then
    G.__server__err__handler = error_handler
    G.__redis__err__handler = error_handler
end

-- protect every table reachable from the globals
G.server = server
G.redis = server
for name, value in raw_next, G do
    if raw_type(value) == "table" and value ~= G then
        raw_rawset(G, name, protect(value))
    end
end
raw_rawset(G, "_G", env)
string_meta.__index = proxy_of[string_lib]

local engine = {}

-- compile a script body; its globals are the protected environment
function engine.compile(body, chunkname)
    local f, err = load_untailed(body, chunkname)
    if not f then
        return nil, err
    end
    raw_setfenv(f, env)
    return f
end

-- the count hook (Valkey's luaMaskCountHook): the host says when the run was killed; from
-- then on every line raises the kill error again, so a pcall cannot swallow it
local host_hook, killed_error = host.hook, host.killed_error
local function count_hook()
    local message = host_hook()
    if message then
        -- every line from now on (the count alone could keep landing in our own frames)
        dbg.sethook(count_hook, "l")
        local info = dbg.getinfo(2, "S")
        if info and info.source == "=valsync" then
            return
        end
        raw_error(killed_error(message))
    end
end

local function start(hook_every)
    if hook_every > 0 then
        dbg.sethook(count_hook, "", hook_every)
    end
end

-- run an EVAL script: KEYS/ARGV are globals, the error handler shapes failures
function engine.run_eval(f, keys, argv, hook_every)
    raw_rawset(G, "KEYS", keys)
    raw_rawset(G, "ARGV", argv)
    start(hook_every)
    local result = pack(raw_xpcall(f, error_handler))
    dbg.sethook()
    return result[1], result[2]
end

-- the Lua debugger (SCRIPT DEBUG): a line hook hands each line of the script to the host,
-- which may stop there and serve debugger commands; the helpers below let it see the stack
-- of the stopped script, whose level 0 is the frame just below the hook's own
local ldb_line = host.ldb_line
local function ldb_hook(event, line)
    local info = dbg.getinfo(2, "Sl")
    local message = ldb_line(event == "count", info.currentline, info.short_src)
    if message then
        raw_error(killed_error(message))
    end
end

-- the level, seen from the caller of this function, of the script's frame at 'level'
local function script_level(level)
    local at = 3
    while true do
        local info = dbg.getinfo(at, "f")
        if not info then
            return nil
        end
        if info.func == ldb_hook then
            return at + level
        end
        at = at + 1
    end
end

-- 'at' as its caller counts levels
local function is_script_frame(at)
    local info = dbg.getinfo(at + 1, "S")
    return info ~= nil and info.source ~= "=valsync"
end

function engine.ldb_locals(level)
    local at = script_level(level)
    if not at or not is_script_frame(at) then
        return nil
    end
    local out, i = {}, 1
    while true do
        local name, value = dbg.getlocal(at, i)
        if name == nil then
            break
        end
        out[#out + 1] = { name, value }
        i = i + 1
    end
    return out
end

function engine.ldb_frames()
    local out, at = {}, script_level(0)
    while at and is_script_frame(at) do
        local info = dbg.getinfo(at, "Snl")
        out[#out + 1] = { info.short_src, info.name or false, info.currentline }
        at = at + 1
    end
    return out
end

function engine.ldb_eval(code)
    local f, err = raw_loadstring("return " .. code, "@ldb_eval")
    if not f then
        f, err = raw_loadstring(code, "@ldb_eval")
        if not f then
            return false, err
        end
    end
    raw_setfenv(f, env)
    local ok, value = raw_pcall(f)
    if not ok then
        return false, unwrap_error(value)
    end
    return true, value
end

function engine.ldb_server_call(args, n)
    raw_pcall(server.call, raw_unpack(args, 1, n))
end

function engine.ldb_global(name)
    return raw_rawget(G, name)
end

function engine.ldb_address(value)
    return raw_tostring(value)
end

function engine.run_eval_debug(f, keys, argv)
    raw_rawset(G, "KEYS", keys)
    raw_rawset(G, "ARGV", argv)
    dbg.sethook(ldb_hook, "l", 100000)
    local result = pack(raw_xpcall(f, error_handler))
    dbg.sethook()
    return result[1], result[2]
end

-- run a function of a library: called with its keys and args
function engine.run_function(f, keys, argv, hook_every)
    start(hook_every)
    local result = pack(raw_xpcall(function()
        return f(keys, argv)
    end, error_handler))
    dbg.sethook()
    return result[1], result[2]
end

-- FUNCTION LOAD: the library's code sees only server/redis with register_function and log
local library_api
if function_mode then
    local lib_server = {}
    for name, value in raw_next, host.api do
        lib_server[name] = value
    end
    lib_server.register_function = host.register_function
    lib_server.log = host.log
    local lib_raw = lib_server
    lib_server = protect(lib_raw, function(_, name)
        local value = raw_rawget(lib_raw, name)
        if value == nil then
            raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(name) .. "'", 2)
        end
        return value
    end)
    library_api = { server = lib_server, redis = lib_server }
end

local load_hook = host.load_hook
local function library_load_hook()
    local message = load_hook()
    if message then
        raw_error(killed_error(message))
    end
end

function engine.load_library(code, hook_every)
    local f, err = load_untailed(code, "@user_function")
    if not f then
        return false, err, true
    end
    raw_setfenv(f, env)
    lookup = library_api
    if hook_every > 0 then
        dbg.sethook(library_load_hook, "", hook_every)
    end
    local ok, e = raw_pcall(f)
    dbg.sethook()
    lookup = G
    if not ok then
        return false, unwrap_error(e), false
    end
    return true
end

engine.rawget = raw_rawget
engine.next = raw_next
engine.env = env
engine.protect = protect
engine.setfenv = raw_setfenv
engine.error = raw_error
engine.pack = pack
return engine
