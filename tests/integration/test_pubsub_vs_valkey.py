"""Pub/sub byte for byte against a real valkey-server 8.1.8, in RESP2 and RESP3.

Each side gets the same three connections. Hypothesis draws steps (a client and a command:
(P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, (S)PUBLISH, PUBSUB introspection, PING, a data command that
a RESP2 subscriber may not run, HELLO 2/3, RESET, a MULTI/EXEC block); after each step every
connection's frames (its replies and the pushes it received) are read up to a PING marker and
compared with the real server's.

Valkey keeps subscriptions in hash tables with a random seed, so three things come in an order
that is chance, not behaviour, and are compared as sorted: the names in the pushes of an
UNSUBSCRIBE without arguments (the counts still have to come in the same sequence), the
``pmessage`` pushes one PUBLISH sends to a client with several matching patterns, and the
channel list of PUBSUB CHANNELS.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Arg, RawClient
from tests.pubsub_wire import decode, drain, exchange, transaction
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

CHANNELS = ["news", "news.eu", "sport", "a", "ab", "h*llo"]
PATTERNS = ["news*", "*", "a?", "[ab]*", "h\\*llo", "news.[e]u", "[^n]*"]
SHARDS = ["s1", "s2", "news"]
MESSAGES = ["hi", "", "x" * 40]
CLIENTS = 3
UNSUBSCRIBES = {b"unsubscribe", b"punsubscribe", b"sunsubscribe"}
MESSAGE_KINDS = {b"message", b"pmessage", b"smessage"}


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[ServerProcess, ServerProcess]]:
    real = start_valkey("8.1.8")
    ours = start_valsync()
    yield real, ours
    ours.stop()
    real.stop()


def _names(n: int, pool: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(pool), min_size=n, max_size=n + 2)


STEP = st.tuples(
    st.integers(0, CLIENTS - 1),
    st.one_of(
        _names(1, CHANNELS).map(lambda c: ["SUBSCRIBE", *c]),
        _names(0, CHANNELS).map(lambda c: ["UNSUBSCRIBE", *c]),
        _names(1, PATTERNS).map(lambda c: ["PSUBSCRIBE", *c]),
        _names(0, PATTERNS).map(lambda c: ["PUNSUBSCRIBE", *c]),
        _names(1, SHARDS).map(lambda c: ["SSUBSCRIBE", *c]),
        _names(0, SHARDS).map(lambda c: ["SUNSUBSCRIBE", *c]),
        st.tuples(st.sampled_from(CHANNELS), st.sampled_from(MESSAGES)).map(
            lambda t: ["PUBLISH", *t]
        ),
        st.tuples(st.sampled_from(SHARDS), st.sampled_from(MESSAGES)).map(
            lambda t: ["SPUBLISH", *t]
        ),
        st.sampled_from(
            [
                ["PING"],
                ["PING", "hello"],
                ["GET", "k"],
                ["SET", "k", "v"],
                ["PUBSUB", "NUMPAT"],
                ["PUBSUB", "NUMSUB", "news", "sport", "zzz"],
                ["PUBSUB", "SHARDNUMSUB", "s1", "s2"],
                ["PUBSUB", "CHANNELS"],
                ["PUBSUB", "CHANNELS", "news*"],
                ["PUBSUB", "SHARDCHANNELS"],
                ["PUBSUB", "SHARDCHANNELS", "s?"],
                ["PUBSUB", "NOPE"],
                ["PUBSUB", "NUMPAT", "x"],
                ["CLIENT", "NOPE"],
                ["HELLO", "3"],
                ["HELLO", "2"],
                ["RESET"],
                ["EXEC"],
                ["DISCARD"],
            ]
        ),
        st.lists(
            st.sampled_from(
                [
                    ["PUBLISH", "news", "in-multi"],
                    ["SUBSCRIBE", "sport"],
                    ["PSUBSCRIBE", "a*"],
                    ["SSUBSCRIBE", "s1"],
                    ["UNSUBSCRIBE"],
                    ["SPUBLISH", "s1", "in-multi"],
                    ["GET", "k"],
                ]
            ),
            min_size=1,
            max_size=3,
        ).map(lambda cmds: ["MULTI", *cmds]),
    ),
)


def _normalise(command: list[str], frames: list[bytes]) -> object:
    """The frames with chance order (see the module docstring) taken out."""
    if command[:2] in (["PUBSUB", "CHANNELS"], ["PUBSUB", "SHARDCHANNELS"]):
        return [f[:1] for f in frames], sorted(repr(decode(f)) for f in frames)
    if command[0] == "HELLO":
        return [re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"ID", f) for f in frames]
    in_order: list[object] = []
    unsubscribed: list[bytes] = []
    messages: list[bytes] = []
    for frame in frames:
        value = decode(frame)
        kind = (
            value[0] if isinstance(value, list) and value and isinstance(value[0], bytes) else None
        )
        if kind in MESSAGE_KINDS:
            in_order.append(b"<message>")
            messages.append(frame)
        elif kind in UNSUBSCRIBES and len(command) == 1:
            assert isinstance(value, list)
            in_order.append((frame[:1], kind, value[2]))
            unsubscribed.append(value[1])
        else:
            in_order.append(frame)
    return in_order, sorted(messages), sorted(unsubscribed, key=repr)


class Side:
    def __init__(self, server: ServerProcess) -> None:
        self.clients = [RawClient(server.port) for _ in range(CLIENTS)]
        self.clients[0].call("FLUSHALL")

    def step(self, actor: int, command: list[str] | list[object]) -> list[object]:
        out: list[object] = []
        for i, client in enumerate(self.clients):
            if i != actor:
                out.append(_normalise(["PING"], drain(client)))
            elif command[0] == "MULTI":
                queued = [c for c in command[1:] if isinstance(c, list)]
                out.append(_normalise(["MULTI"], transaction(client, *queued)))
            else:
                args: list[Arg] = [str(a) for a in command]
                out.append(_normalise([str(a) for a in command], exchange(client, *args)))
        return out

    def close(self) -> None:
        for client in self.clients:
            client.call("RESET")
            client.close()


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=1, max_size=40))
def test_pubsub_sequences_match_valkey(
    pair: tuple[ServerProcess, ServerProcess], steps: list[tuple[int, list[str]]]
) -> None:
    real, ours = (Side(s) for s in pair)
    try:
        for actor, command in steps:
            theirs = real.step(actor, command)
            mine = ours.step(actor, command)
            assert mine == theirs, (
                f"client {actor} {command}: valsync {mine!r} != valkey {theirs!r}"
            )
    finally:
        real.close()
        ours.close()


def _both(pair: tuple[ServerProcess, ServerProcess]) -> list[RawClient]:
    return [RawClient(server.port) for server in pair]


def test_subscribed_resp2_context_errors(pair: tuple[ServerProcess, ServerProcess]) -> None:
    """What a RESP2 subscriber may not run, with Valkey's words; what it may."""
    replies = []
    for client in _both(pair):
        with client:
            seen = [exchange(client, "SUBSCRIBE", "c")]
            for command in (
                ["GET", "k"],
                ["CLIENT", "LIST"],
                ["CLIENT", "NOPE"],
                ["CLIENT", "ID", "extra"],
                ["PUBSUB", "NUMSUB", "c"],
                ["CONFIG", "GET", "port"],
                ["OBJECT", "ENCODING", "k"],
                ["HELLO", "3"],
                ["NOSUCHCOMMAND"],
                ["GET"],
                ["MULTI"],
                ["PING"],
                ["PING", "x"],
                ["PSUBSCRIBE", "p*"],
                ["UNSUBSCRIBE", "c"],
                ["PING"],
                ["GET", "k"],
                ["PUNSUBSCRIBE"],
                ["PING"],
                ["GET", "k"],
            ):
                seen.append(exchange(client, *command))
            replies.append(seen)
    assert replies[1] == replies[0]


def test_resp3_pushes_follow_the_reply(pair: tuple[ServerProcess, ServerProcess]) -> None:
    """A RESP3 client publishing to itself gets the reply first, then the push; inside
    MULTI/EXEC the pushes follow the whole EXEC array; SSUBSCRIBE is refused in EXEC."""
    replies = []
    for client in _both(pair):
        with client:
            seen = [exchange(client, "HELLO", "3")[0][:1]]
            for command in (
                ["SUBSCRIBE", "c", "d"],
                ["PSUBSCRIBE", "c*"],
                ["PUBLISH", "c", "one"],
                ["GET", "k"],
                ["PUBSUB", "NUMSUB", "c", "e"],
                ["HELLO", "2"],
                ["GET", "k"],
                ["PING"],
                ["RESET"],
                ["GET", "k"],
            ):
                frames = exchange(client, *command)
                if command[0] == "HELLO":
                    frames = [f[:1] for f in frames]
                seen.append(frames)
                if command[0] == "GET":
                    seen.append(
                        transaction(
                            client,
                            ["PUBLISH", "c", "two"],
                            ["PUBLISH", "d", "three"],
                            ["SUBSCRIBE", "e"],
                            ["SSUBSCRIBE", "s"],
                        )
                    )
            replies.append(seen)
    assert replies[1] == replies[0]


def _fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split())


def _info_fields(client: RawClient, section: str, names: tuple[str, ...]) -> dict[str, str]:
    text = decode(client.call("INFO", section))
    assert isinstance(text, bytes)
    fields = dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line)
    return {name: fields[name] for name in names}


def test_client_list_info_and_kill_type_pubsub(pair: tuple[ServerProcess, ServerProcess]) -> None:
    """CLIENT LIST's sub/psub/ssub and flags=P, INFO's pubsub counters, CLIENT KILL TYPE pubsub
    (only subscribers go; the others keep working), on both servers alike."""
    outcomes = []
    for server in pair:
        admin, sub, plain = (RawClient(server.port) for _ in range(3))
        admin.call("CLIENT", "SETNAME", "admin")
        plain.call("CLIENT", "SETNAME", "plain")
        sub.call("CLIENT", "SETNAME", "sub")
        exchange(sub, "SUBSCRIBE", "a", "b")
        exchange(sub, "PSUBSCRIBE", "p*")
        exchange(sub, "SSUBSCRIBE", "s")
        listing = decode(admin.call("CLIENT", "LIST"))
        assert isinstance(listing, bytes)
        rows = {
            f["name"]: (f["flags"], f["sub"], f["psub"], f["ssub"])
            for f in map(_fields, listing.decode().splitlines())
        }
        typed = decode(admin.call("CLIENT", "LIST", "TYPE", "pubsub"))
        assert isinstance(typed, bytes)
        typed_names = [_fields(line)["name"] for line in typed.decode().splitlines()]
        counters = _info_fields(
            admin, "stats", ("pubsub_channels", "pubsub_patterns", "pubsubshard_channels")
        ) | _info_fields(admin, "clients", ("pubsub_clients",))
        killed = admin.call("CLIENT", "KILL", "TYPE", "pubsub")
        try:
            sub.call("PING")
            sub_alive = True
        except (ConnectionError, OSError):
            sub_alive = False
        after = _info_fields(admin, "stats", ("pubsub_channels", "pubsub_patterns"))
        outcomes.append((rows, typed_names, counters, killed, sub_alive, plain.call("PING"), after))
        for client in (admin, sub, plain):
            client.close()
    assert outcomes[1] == outcomes[0]
    assert outcomes[0][0]["sub"] == ("P", "2", "1", "1")
    assert outcomes[0][4] is False


def test_served_blocked_client_gets_its_own_pushes_after_its_reply(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    """A RESP3 client blocked in BLPOP, subscribed to keyspace events: the pusher's events
    reach it at once, its own (from being served) only after its BLPOP reply."""
    seen = []
    for server in pair:
        admin, waiter, pusher = (RawClient(server.port) for _ in range(3))
        admin.call("CONFIG", "SET", "notify-keyspace-events", "KEl")
        exchange(waiter, "HELLO", "3")
        exchange(waiter, "SUBSCRIBE", "__keyspace@0__:blocked")
        waiter.send("BLPOP", "blocked", "5")
        for _ in range(100):
            if b"cmd=blpop" in admin.call("CLIENT", "LIST"):
                break
            time.sleep(0.02)
        pusher.call("LPUSH", "blocked", "x")
        seen.append(drain(waiter))
        admin.call("CONFIG", "SET", "notify-keyspace-events", "")
        for client in (admin, waiter, pusher):
            client.close()
    assert seen[1] == seen[0]
    assert [f.split(b"\r\n")[-2] for f in seen[0]] == [b"lpush", b"x", b"lpop"]
