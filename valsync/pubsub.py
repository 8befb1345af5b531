"""Pub/sub state: who listens to which channel, pattern or shard channel, and delivery.

Mirrors Valkey's ``pubsub.c``. Each table maps a channel (or glob pattern) to its subscribers
in subscription order; each client keeps the reverse view (``ClientState.channels``,
``.patterns``, ``.shard_channels``) so that UNSUBSCRIBE without arguments, RESET and a closed
connection can drop everything it holds. A client with at least one subscription carries
Valkey's ``pubsub`` flag (``ClientState.pubsub``): in RESP2 it may then only run the
subscription commands, PING, QUIT and RESET.

Delivery: a message becomes one push (``message``/``pmessage``/``smessage``), encoded once per
protocol and queued to each receiver with ``ClientState.deliver`` (whose connection holds a
push for its own running command back until that command's reply is out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from valsync.keyspace.glob import stringmatch
from valsync.resp.reply import Push, Raw, encode

if TYPE_CHECKING:
    from valsync.commands.context import ClientState

Subscribers = dict["ClientState", None]


class Kind:
    """One family of subscriptions: its table, the client's view and the words of its pushes."""

    __slots__ = ("attr", "message", "shard", "subscribe", "table", "unsubscribe")

    def __init__(self, attr: str, subscribe: bytes, unsubscribe: bytes, message: bytes) -> None:
        self.attr = attr
        self.subscribe = subscribe
        self.unsubscribe = unsubscribe
        self.message = message
        self.shard = attr == "shard_channels"
        self.table: dict[bytes, Subscribers] = {}


class PubSub:
    """The server-wide subscription tables (Valkey's ``server.pubsub_*``)."""

    def __init__(self) -> None:
        self.channels = Kind("channels", b"subscribe", b"unsubscribe", b"message")
        self.patterns = Kind("patterns", b"psubscribe", b"punsubscribe", b"pmessage")
        self.shard = Kind("shard_channels", b"ssubscribe", b"sunsubscribe", b"smessage")
        self.clients = 0
        """Clients carrying the pubsub flag (INFO ``pubsub_clients``)."""

    # --- subscriptions -------------------------------------------------------------------

    @staticmethod
    def count(client: ClientState, kind: Kind) -> int:
        """The count a (un)subscribe push reports: channels + patterns, or shard channels."""
        if kind.shard:
            return len(client.shard_channels)
        return len(client.channels) + len(client.patterns)

    def subscribe(self, client: ClientState, kind: Kind, name: bytes) -> Push:
        """Add one subscription (a repeat is a no-op) and return its confirmation push."""
        mine: dict[bytes, None] = getattr(client, kind.attr)
        if name not in mine:
            mine[name] = None
            kind.table.setdefault(name, {})[client] = None
        return Push([kind.subscribe, name, self.count(client, kind)])

    def unsubscribe(self, client: ClientState, kind: Kind, name: bytes | None) -> Push:
        """Drop one subscription (if held) and return the confirmation push."""
        mine: dict[bytes, None] = getattr(client, kind.attr)
        if name is not None and name in mine:
            del mine[name]
            subscribers = kind.table[name]
            del subscribers[client]
            if not subscribers:
                del kind.table[name]
        return Push([kind.unsubscribe, name, self.count(client, kind)])

    def unsubscribe_all(self, client: ClientState, kind: Kind) -> list[Push]:
        """Drop every subscription of ``kind``; a client with none still gets one push."""
        names = list(getattr(client, kind.attr))
        if not names:
            return [self.unsubscribe(client, kind, None)]
        return [self.unsubscribe(client, kind, name) for name in names]

    def mark(self, client: ClientState) -> None:
        """Set or clear the client's pubsub flag after its subscriptions changed."""
        subscribed = bool(client.channels or client.patterns or client.shard_channels)
        if subscribed != client.pubsub:
            client.pubsub = subscribed
            self.clients += 1 if subscribed else -1

    def forget(self, client: ClientState) -> None:
        """Drop everything a client holds, without pushes (RESET, a closed connection)."""
        if client.pubsub:
            for kind in (self.channels, self.patterns, self.shard):
                for name in list(getattr(client, kind.attr)):
                    self.unsubscribe(client, kind, name)
            self.mark(client)

    # --- publishing ----------------------------------------------------------------------

    def publish(self, channel: bytes, message: bytes, shard: bool = False) -> int:
        """Deliver to the channel's subscribers, then (not for shard channels) to every
        matching pattern's; returns the number of deliveries, as PUBLISH answers."""
        kind = self.shard if shard else self.channels
        receivers = 0
        subscribers = kind.table.get(channel)
        if subscribers:
            receivers += self._send(subscribers, Push([kind.message, channel, message]))
        if shard or not self.patterns.table:
            return receivers
        for pattern, subscribers in list(self.patterns.table.items()):
            if stringmatch(pattern, channel):
                receivers += self._send(subscribers, Push([b"pmessage", pattern, channel, message]))
        return receivers

    @staticmethod
    def _send(subscribers: Subscribers, push: Push) -> int:
        encoded: dict[int, Raw] = {}
        sent = 0
        for client in list(subscribers):
            sent += 1
            raw = encoded.get(client.resp)
            if raw is None:
                out = bytearray()
                encode(push, out, client.resp)
                raw = encoded[client.resp] = Raw(bytes(out))
            if client.deliver is not None:
                client.deliver(raw)
        return sent

    # --- introspection -------------------------------------------------------------------

    @staticmethod
    def names(kind: Kind, pattern: bytes | None) -> list[bytes]:
        """Active channels of ``kind``, optionally filtered by a glob (PUBSUB CHANNELS)."""
        if pattern is None:
            return list(kind.table)
        return [name for name in kind.table if stringmatch(pattern, name)]

    @staticmethod
    def numsub(kind: Kind, name: bytes) -> int:
        subscribers = kind.table.get(name)
        return len(subscribers) if subscribers else 0


__all__ = ["Kind", "PubSub"]
