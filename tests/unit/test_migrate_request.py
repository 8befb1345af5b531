"""MIGRATE's two halves without a network: the request it builds, and what each kind of
answer from the target does to the keyspace, the reply and the propagation."""

from __future__ import annotations

import hiredis

from tests.unit.cmdutil import Harness
from valsync.commands import CommandContext, ExchangeRequest, ExchangeResult
from valsync.resp.reply import OK


def _request(h: Harness, *args: str | int) -> ExchangeRequest:
    reply = h.run("MIGRATE", "127.0.0.1", 7000, *args)
    assert isinstance(reply, ExchangeRequest)
    return reply


def _commands(payload: bytes) -> list[list[bytes]]:
    reader = hiredis.Reader()
    reader.feed(payload)
    out = []
    while (cmd := reader.gets()) is not False:
        out.append(cmd)
    return out


def _finish(h: Harness, request: ExchangeRequest, result: ExchangeResult) -> object:
    ctx = CommandContext(h.keyspace, h.client, h.now_ms)
    assert request.finish is not None
    reply = request.finish(ctx, result)
    h.propagated.extend((p.dbid, p.argv) for p in ctx.take_propagated())
    return reply


def test_request_holds_auth_select_and_restores() -> None:
    h = Harness()
    h.run("SET", "a", "1")
    h.run("SET", "b", "2", "PX", 5000)
    req = _request(h, "", 3, 100, "AUTH2", "u", "p", "REPLACE", "KEYS", "a", "nokey", "b")
    cmds = _commands(req.payload)
    assert cmds[0] == [b"AUTH", b"u", b"p"]
    assert cmds[1] == [b"SELECT", b"3"]
    assert [c[:3] for c in cmds[2:]] == [[b"RESTORE", b"a", b"0"], [b"RESTORE", b"b", b"5000"]]
    assert all(c[-1] == b"REPLACE" for c in cmds[2:])
    assert (req.replies, req.timeout_ms, req.port) == (4, 100, 7000)
    assert h.run("MIGRATE", "h", 1, "nokey", 0, 0) == h.run(
        "MIGRATE", "h", 1, "", 0, 0, "KEYS", "x"
    )


def test_acknowledged_keys_are_deleted_and_propagated_as_del() -> None:
    h = Harness()
    for k in ("a", "b", "c"):
        h.run("SET", k, "v")
    req = _request(h, "", 0, 1000, "KEYS", "a", "b", "c")
    h.propagated.clear()
    reply = _finish(h, req, ExchangeResult([b"+OK", b"+OK", b"-BUSYKEY x", b"+OK"]))
    assert reply.text == "ERR Target instance replied with error: BUSYKEY x"  # type: ignore[attr-defined]
    assert h.run("EXISTS", "a", "b", "c") == 1
    assert h.propagated == [(0, [b"DEL", b"a", b"c"])]


def test_copy_keeps_keys_and_a_changed_key_is_left_alone() -> None:
    h = Harness()
    h.run("SET", "a", "v")
    req = _request(h, "a", 0, 1000, "COPY")
    h.propagated.clear()
    assert _finish(h, req, ExchangeResult([b"+OK", b"+OK"])) == OK
    assert h.run("EXISTS", "a") == 1 and not h.propagated
    req = _request(h, "a", 0, 1000)
    h.run("SET", "a", "changed meanwhile")
    h.propagated.clear()
    _finish(h, req, ExchangeResult([b"+OK", b"+OK"]))
    assert h.run("GET", "a") == b"changed meanwhile" and not h.propagated


def test_failures() -> None:
    h = Harness()
    h.run("SET", "a", "v")
    h.run("SET", "b", "v")
    req = _request(h, "", 0, 1000, "AUTH", "pw", "KEYS", "a", "b")
    h.propagated.clear()
    texts = {
        "connecting": "IOERR error or timeout connecting to the client",
        "writing": "IOERR error or timeout writing to target instance",
    }
    for where, text in texts.items():
        assert _finish(h, req, ExchangeResult([], where)).text == text  # type: ignore[attr-defined]
    wrongpass = ExchangeResult([b"-WRONGPASS bad", b"+OK", b"+OK", b"+OK"])
    assert "WRONGPASS bad" in _finish(h, req, wrongpass).text  # type: ignore[attr-defined]
    assert h.run("EXISTS", "a", "b") == 2
    partial = ExchangeResult([b"+OK", b"+OK", b"+OK"], "reading")
    assert _finish(h, req, partial).text.startswith("IOERR error or timeout reading")  # type: ignore[attr-defined]
    assert h.run("EXISTS", "a", "b") == 1 and h.propagated == [(0, [b"DEL", b"a"])]


class _Conn:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_migrate_socket_cache_reuses_then_closes_idle_connections() -> None:
    from valsync.migrate_cache import CACHE_MAX_ITEMS, CACHE_TTL_SECONDS, MigrateSocketCache

    cache: MigrateSocketCache[_Conn] = MigrateSocketCache()
    first = _Conn()
    cache.put("h", 1, first, now=0.0)
    assert len(cache) == 1
    assert cache.take("h", 1) is first and len(cache) == 0
    cache.put("h", 1, first, now=0.0)
    assert cache.close_idle(now=CACHE_TTL_SECONDS) == 0
    assert cache.close_idle(now=CACHE_TTL_SECONDS + 0.5) == 1
    assert first.closed and len(cache) == 0
    conns = [_Conn() for _ in range(CACHE_MAX_ITEMS + 1)]
    for port, conn in enumerate(conns):
        cache.put("h", port, conn, now=1.0)
    assert len(cache) == CACHE_MAX_ITEMS
    assert sum(c.closed for c in conns) == 1
