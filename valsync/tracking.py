"""Client-side caching (CLIENT TRACKING): which client may cache which key, and invalidations.

Theory of operation, as Valkey's ``tracking.c``:

1. Default mode: after a read-only command of a tracking client, each key it read is
   remembered with the client's id (OPTIN: only when the command followed CLIENT CACHING YES;
   OPTOUT: unless it followed CLIENT CACHING NO). One table for all databases, keys by name.
2. When a key is modified, every client remembered for it gets one invalidation and the key
   is forgotten (it will be remembered again on the next read). NOLOOP clients are not told
   about their own writes; a client told about its own write gets the message after the
   command's reply.
3. BCAST mode: nothing is remembered; a client registers key prefixes ("" = every key) and
   gets, after each command, one message per prefix with the modified keys under it.
4. FLUSHDB/FLUSHALL: every tracking client gets an invalidation with a null key list, and
   the table is emptied.
5. Delivery: a RESP3 client gets a push ``>2 invalidate [keys]``. With REDIRECT the message
   goes to that client instead: a RESP3 client as a push; a RESP2 client only if it is
   subscribed (to ``__redis__:invalidate``), as a pub/sub message on that channel. When the
   redirect client is gone, a RESP3 tracking client is told ``tracking-redir-broken <id>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from valsync.commands.context import ClientState
from valsync.resp.reply import Push, Raw, Reply, encode

INVALIDATE_CHANNEL = b"__redis__:invalidate"


@dataclass
class ClientTracking:
    """One client's CLIENT TRACKING settings (``ClientState.tracking``; None = off)."""

    redirect: int = 0
    bcast: bool = False
    optin: bool = False
    optout: bool = False
    noloop: bool = False
    caching: bool = False
    """CLIENT CACHING YES (optin) / NO (optout) was given for the next command."""
    broken_redirect: bool = False
    prefixes: list[bytes] = field(default_factory=list)

    def flags(self) -> list[bytes]:
        """TRACKINGINFO's flags, in Valkey's order."""
        out = [b"on"]
        if self.bcast:
            out.append(b"bcast")
        if self.optin:
            out.append(b"optin")
            if self.caching:
                out.append(b"caching-yes")
        if self.optout:
            out.append(b"optout")
            if self.caching:
                out.append(b"caching-no")
        if self.noloop:
            out.append(b"noloop")
        if self.broken_redirect:
            out.append(b"broken_redirect")
        return out

    def remembers_reads(self) -> bool:
        if self.bcast:
            return False
        if self.optin:
            return self.caching
        if self.optout:
            return not self.caching
        return True


def prefixes_overlap(
    prefixes: list[bytes], existing: list[bytes]
) -> tuple[bytes, bytes, bool] | None:
    """The first new prefix that overlaps (one starts the other) a client's ``existing``
    prefix or a later new one, in Valkey's order: ``(new, other, other_is_existing)``."""
    for i, a in enumerate(prefixes):
        for b in existing:
            if a.startswith(b) or b.startswith(a):
                return a, b, True
        for b in prefixes[i + 1 :]:
            if a.startswith(b) or b.startswith(a):
                return a, b, False
    return None


class TrackingTable:
    """The server's tracking state: remembered keys, broadcast prefixes, pending messages.

    ``clients`` is the server's id → client map. A message for the client whose command is
    running is held by its connection until that command's reply is out.
    """

    def __init__(self, clients: dict[int, ClientState]) -> None:
        self.clients = clients
        self.keys: dict[bytes, set[int]] = {}
        self.prefixes: dict[bytes, set[int]] = {}
        self.pending_bcast: dict[bytes, dict[bytes, int]] = {}
        """prefix → {modified key: id of the client that modified it}."""
        self.tracking_clients = 0
        self.flushing = False
        self.max_keys = 1_000_000
        """``tracking-table-max-keys`` (0: no limit)."""

    @property
    def active(self) -> bool:
        return self.tracking_clients > 0 or bool(self.keys)

    @property
    def total_items(self) -> int:
        return sum(len(ids) for ids in self.keys.values())

    # --- settings --------------------------------------------------------------------------

    def enable(self, client: ClientState, settings: ClientTracking) -> None:
        if client.tracking is None:
            self.tracking_clients += 1
        else:
            self._drop_prefixes(client)
        client.tracking = settings
        if settings.bcast:
            if not settings.prefixes:
                settings.prefixes = [b""]
            for prefix in settings.prefixes:
                self.prefixes.setdefault(prefix, set()).add(client.id)

    def disable(self, client: ClientState) -> None:
        if client.tracking is None:
            return
        self._drop_prefixes(client)
        client.tracking = None
        self.tracking_clients -= 1

    def _drop_prefixes(self, client: ClientState) -> None:
        assert client.tracking is not None
        for prefix in client.tracking.prefixes:
            ids = self.prefixes.get(prefix)
            if ids is not None:
                ids.discard(client.id)
                if not ids:
                    del self.prefixes[prefix]
                    self.pending_bcast.pop(prefix, None)

    # --- reads and writes ------------------------------------------------------------------

    def remember(self, client: ClientState, keys: Iterable[bytes]) -> None:
        for key in keys:
            self.keys.setdefault(key, set()).add(client.id)
        if self.max_keys and len(self.keys) > self.max_keys:
            self._evict(client)

    def set_max_keys(self, max_keys: int) -> None:
        """CONFIG SET tracking-table-max-keys: a lower limit evicts at once (Valkey's cron
        trackingLimitUsedSlots), the invalidations going out as for a modified key."""
        self.max_keys = max_keys
        if max_keys and len(self.keys) > max_keys:
            self._evict(None)

    def _evict(self, current: ClientState | None) -> None:
        """Over ``tracking-table-max-keys``: forget the oldest keys, invalidating them for
        their clients as if they had been modified (Valkey's trackingLimitUsedSlots)."""
        while len(self.keys) > self.max_keys:
            key = next(iter(self.keys))
            self.invalidate(key, current, evicting=True)

    def invalidate(self, key: bytes, current: ClientState | None, evicting: bool = False) -> None:
        """``key`` was modified (by ``current``'s command, if any), or is evicted."""
        if self.flushing:
            return
        if self.prefixes and not evicting:
            for prefix in self.prefixes:
                if key.startswith(prefix):
                    self.pending_bcast.setdefault(prefix, {})[key] = (
                        current.id if current is not None else 0
                    )
        ids = self.keys.pop(key, None)
        if not ids:
            return
        for client_id in ids:
            target = self.clients.get(client_id)
            if target is None or target.tracking is None or target.tracking.bcast:
                continue
            if target is current and target.tracking.noloop and not evicting:
                continue
            self.send(target, [key], current)

    def flush(self, current: ClientState | None) -> None:
        """FLUSHDB/FLUSHALL: everyone tracking is told to drop everything."""
        for client in list(self.clients.values()):
            if client.tracking is not None:
                self.send(client, None, current)
        self.keys.clear()

    def broadcast(self, current: ClientState | None) -> None:
        """Send the BCAST messages collected during the command (Valkey: before sleeping)."""
        pending, self.pending_bcast = self.pending_bcast, {}
        # prefixes and keys in byte order, as Valkey's radix trees yield them
        for prefix in sorted(pending):
            modified = pending[prefix]
            for client_id in sorted(self.prefixes.get(prefix, ())):
                target = self.clients.get(client_id)
                if target is None or target.tracking is None:
                    continue
                if target.tracking.noloop:
                    keys = sorted(k for k, by in modified.items() if by != client_id)
                else:
                    keys = sorted(modified)
                if keys:
                    self.send(target, keys, current)

    # --- delivery --------------------------------------------------------------------------

    def send(
        self, client: ClientState, keys: list[bytes] | None, current: ClientState | None
    ) -> None:
        settings = client.tracking
        assert settings is not None
        receiver = client
        redirected = False
        if settings.redirect:
            target = self.clients.get(settings.redirect)
            if target is None:
                settings.broken_redirect = True
                if client.resp > 2:
                    self._deliver(
                        client, Push([b"tracking-redir-broken", settings.redirect]), current
                    )
                return
            receiver, redirected = target, True
        payload: Reply = None if keys is None else list(keys)  # null: flush everything
        if receiver.resp > 2:
            message: Reply = Push([b"invalidate", payload])
        elif redirected and receiver.pubsub:
            message = Push([b"message", INVALIDATE_CHANNEL, payload])
        else:
            return
        self._deliver(receiver, message, current)

    def _deliver(self, receiver: ClientState, message: Reply, current: ClientState | None) -> None:
        out = bytearray()
        encode(message, out, receiver.resp)
        if receiver.deliver is not None:
            receiver.deliver(Raw(bytes(out)))
