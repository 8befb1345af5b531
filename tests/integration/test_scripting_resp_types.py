"""server.call of DEBUG PROTOCOL replies (RESP3 booleans, big numbers, attributes, maps...)
converted to Lua and back as valkey 8.1.8 does, for each client and script protocol.
Maps and sets are compared by size only (Lua's table order differs)."""

from __future__ import annotations

from tests.differential import RawClient
from tests.realvalkey import start_valkey, start_valsync

KINDS = ["map", "set", "true", "false", "bignum", "attrib", "double", "null", "verbatim"]
KINDS += ["array", "integer", "string"]


def _replies(port: int) -> list[bytes]:
    out = []
    with RawClient(port) as client:
        client.call("DEBUG", "SET-DISABLE-DENY-SCRIPTS", "1")
        for client_resp in ("2", "3"):
            client.call("HELLO", client_resp)
            for script_resp in (2, 3):
                for kind in KINDS:
                    body = f"redis.setresp({script_resp});return redis.call('debug','protocol','{kind}')"
                    reply = client.call("EVAL", body, "0")
                    out.append(reply.split(b"\r\n", 1)[0] if kind in ("map", "set") else reply)
    return out


def test_script_conversions_like_valkey() -> None:
    results = []
    for start in (
        lambda: start_valsync("--enable-debug-command", "yes"),
        lambda: start_valkey("8.1.8"),
    ):
        with start() as server:
            results.append(_replies(server.port))
    assert results[0] == results[1]
