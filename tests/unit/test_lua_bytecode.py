"""valsync.scripting.bytecode: tail calls become plain calls, everything else is kept."""

from __future__ import annotations

import lupa.lua51 as lua51
import pytest

from valsync.scripting.bytecode import OP_CALL, OP_TAILCALL, BytecodeError, untail

SOURCE = b"""
local function depth(n) if n == 0 then return 0 end return depth(n - 1) end
local t = {1.5, "two", true, nil, function() return tostring(3) end}
return depth(50), t[1], t[2], t[3], t[5]()
"""


def _runtime() -> lua51.LuaRuntime:
    return lua51.LuaRuntime(encoding=None)


def _dump(runtime: lua51.LuaRuntime, source: bytes) -> bytes:
    dump = runtime.eval("function(s) return string.dump(assert(loadstring(s, '@t'))) end")
    result = dump(source)
    assert isinstance(result, bytes)
    return result


def test_untail_keeps_results_and_removes_every_tail_call() -> None:
    runtime = _runtime()
    original = _dump(runtime, SOURCE)
    plain = untail(original)
    assert len(plain) == len(original) and plain != original
    changed = [i for i in range(len(original)) if original[i] != plain[i]]
    assert all(original[i] & 0x3F == OP_TAILCALL and plain[i] & 0x3F == OP_CALL for i in changed)
    run = runtime.eval("function(c) return assert(loadstring(c, '@t'))() end")
    assert run(original) == run(plain) == (0, 1.5, b"two", True, b"3")
    assert untail(plain) == plain


def test_untail_refuses_what_is_not_a_lua51_chunk() -> None:
    with pytest.raises(BytecodeError):
        untail(b"return 1")
