"""CLIENT UNBLOCK as valkey 8.1.8: a blocked BLPOP / XREAD / WAIT ends as on a timeout, or
with -UNBLOCKED; an unknown or idle client gives 0; errorstats count the error."""

from __future__ import annotations

from tests.differential import RawClient, encode_argv
from tests.integration.support import wait_until
from tests.realvalkey import start_valkey, start_valsync


def _scenario(port: int) -> list[object]:
    out: list[object] = []
    with RawClient(port) as admin, RawClient(port) as blocked:
        admin.call("CONFIG", "RESETSTAT")
        blocked_id = int(blocked.call("CLIENT", "ID")[1:].strip())
        out.append(admin.call("CLIENT", "UNBLOCK", str(blocked_id)))
        out.append(admin.call("CLIENT", "UNBLOCK", "999999"))
        out.append(admin.call("CLIENT", "UNBLOCK", str(blocked_id), "FOO"))
        out.append(admin.call("CLIENT", "UNBLOCK", "x"))
        for argv, how in [
            (("BLPOP", "list", "0"), "TIMEOUT"),
            (("BLPOP", "list", "0"), "ERROR"),
            (("XREAD", "BLOCK", "0", "STREAMS", "s", "$"), "TIMEOUT"),
            (("BZPOPMIN", "z", "0"), "ERROR"),
            (("WAIT", "1", "0"), "TIMEOUT"),
        ]:
            blocked.send(*argv)
            wait_until(lambda: b"blocked_clients:1" in admin.call("INFO", "clients"))
            out.append(admin.call("CLIENT", "UNBLOCK", str(blocked_id), how))
            out.append(blocked.read_reply())
        stats = admin.call("INFO", "errorstats")
        out.append(sorted(line for line in stats.splitlines() if line.startswith(b"errorstat")))
    return out


def test_client_unblock_like_valkey() -> None:
    results = []
    for start in (start_valsync, lambda: start_valkey("8.1.8")):
        with start() as server:
            results.append(_scenario(server.port))
    assert results[0] == results[1]
    assert results[0][0] == b":0\r\n"


def _served_count(port: int) -> list[object]:
    """A served client stops counting as blocked in the same step: a command pipelined right
    behind the write that served it already sees ``blocked_clients:0`` (Valkey's harness
    relies on it in ``wait_for_blocked_client``)."""
    out: list[object] = []
    with RawClient(port) as writer, RawClient(port) as blocked:
        for argv, push in [
            (("BLPOP", "l", "0"), ("LPUSH", "l", "a")),
            (("BLMPOP", "0", "2", "l", "l2", "LEFT", "COUNT", "5"), ("RPUSH", "l2", "x", "y")),
            (("XREAD", "BLOCK", "0", "STREAMS", "s", "$"), ("XADD", "s", "1-1", "f", "v")),
        ]:
            blocked.send(*argv)
            wait_until(lambda: b"blocked_clients:1" in writer.call("INFO", "clients"))
            writer.sock.sendall(encode_argv(push) + encode_argv(("INFO", "clients")))
            writer.read_reply()
            info = writer.read_reply()
            out.append([line for line in info.splitlines() if line.startswith(b"blocked_clients")])
            out.append(blocked.read_reply())
    return out


def test_a_served_client_is_unblocked_at_once() -> None:
    results = []
    for start in (start_valsync, lambda: start_valkey("8.1.8")):
        with start() as server:
            results.append(_served_count(server.port))
    assert results[0] == results[1]
    assert results[1][0] == [b"blocked_clients:0"]
