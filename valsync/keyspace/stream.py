"""The stream value, laid out as Valkey lays it out.

Theory of operation. A Valkey stream is a radix tree of *nodes* keyed by a master ID; each
node is one listpack that starts with a *master entry* (live count, deleted count, the field
names of the node's first entry) followed by entries (flags, ms and seq deltas from the master
ID, then either all fields and values or, with the SAMEFIELDS flag, just the values). Deleting
an entry only flags it; a node goes away when its last live entry does. valsync keeps the same
nodes, because several observable things depend on them:

1. ``XADD`` starts a new node when the tail node holds ``stream-node-max-entries`` entries
   (live or flagged) or its listpack would reach ``stream-node-max-bytes``, so this module
   tracks each node's exact listpack size;
2. approximate trimming (``MAXLEN ~``, ``MINID ~``) removes whole nodes only;
3. ``XINFO STREAM`` reports the node count and the radix tree's node count;
4. the RDB (and DUMP) form is the list of node listpacks, byte for byte.

Consumer groups hold a pending entries list (PEL) of :class:`PendingEntry` shared with the
owning consumer's own PEL, as Valkey's NACKs are. IDs are ``(ms, seq)`` tuples of unsigned
64-bit integers; their big-endian 16-byte form orders like the tuples.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from sortedcontainers import SortedDict

from valsync.keyspace.canonical import is_canonical_int

StreamID = tuple[int, int]

U64_MAX: Final = (1 << 64) - 1
MIN_ID: Final[StreamID] = (0, 0)
MAX_ID: Final[StreamID] = (U64_MAX, U64_MAX)

FLAG_DELETED: Final = 1
FLAG_SAMEFIELDS: Final = 2

# Valkey's defaults for stream-node-max-bytes / stream-node-max-entries.
NODE_MAX_BYTES: Final = 4096
NODE_MAX_ENTRIES: Final = 100
LISTPACK_MAX_SIZE: Final = 1 << 30
ENTRIES_READ_INVALID: Final = -1

_LP_HEADER_AND_END: Final = 7
_I64_MIN: Final = -(1 << 63)
_I64_MAX: Final = (1 << 63) - 1


class StreamError(Exception):
    """An append that Valkey refuses: ``kind`` is ``"id"`` (not above the top item) or
    ``"size"`` (elements too large)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def format_id(sid: StreamID) -> bytes:
    return b"%d-%d" % sid


def incr_id(sid: StreamID) -> StreamID | None:
    """The next ID, or None past the last possible one (Valkey's ``streamIncrID`` failing)."""
    ms, seq = sid
    if seq < U64_MAX:
        return ms, seq + 1
    if ms < U64_MAX:
        return ms + 1, 0
    return None


def decr_id(sid: StreamID) -> StreamID | None:
    ms, seq = sid
    if seq > 0:
        return ms, seq - 1
    if ms > 0:
        return ms - 1, U64_MAX
    return None


def id_key(sid: StreamID) -> bytes:
    """The 16-byte big-endian form Valkey uses as radix tree key."""
    return sid[0].to_bytes(8, "big") + sid[1].to_bytes(8, "big")


def id_from_key(key: bytes) -> StreamID:
    return int.from_bytes(key[:8], "big"), int.from_bytes(key[8:16], "big")


def signed_delta(a: int, b: int) -> int:
    """``a - b`` as Valkey stores it in a listpack: unsigned wrap-around read as int64."""
    d = (a - b) & U64_MAX
    return d - (1 << 64) if d > _I64_MAX else d


# --- listpack sizes (the node split rule needs them exact) ------------------------------


def _backlen_size(n: int) -> int:
    return 1 if n <= 127 else 2 if n < 16383 else 3 if n < 2097151 else 4 if n < 268435455 else 5


def lp_int_size(v: int) -> int:
    """Bytes of one integer listpack element (encoding, data, back-length)."""
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -2147483648 <= v <= 2147483647:
        return 6
    return 10


def lp_str_size(s: bytes) -> int:
    """Bytes of one string element; integer-looking strings are stored as integers."""
    if is_canonical_int(s):
        return lp_int_size(int(s))
    n = len(s)
    head = 1 if n < 64 else 2 if n < 4096 else 5
    return head + n + _backlen_size(head + n)


# --- nodes ---------------------------------------------------------------------------------


class StreamEntry:
    """One entry of a node: flags, ID, field names and values (names shared with the master
    entry when SAMEFIELDS)."""

    __slots__ = ("flags", "id", "fields", "values")

    def __init__(
        self, flags: int, sid: StreamID, fields: tuple[bytes, ...], values: tuple[bytes, ...]
    ) -> None:
        self.flags = flags
        self.id = sid
        self.fields = fields
        self.values = values

    @property
    def deleted(self) -> bool:
        return bool(self.flags & FLAG_DELETED)

    def pairs(self) -> list[bytes]:
        out: list[bytes] = []
        for f, v in zip(self.fields, self.values, strict=True):
            out.append(f)
            out.append(v)
        return out


class StreamNode:
    """One listpack of the radix tree; ``body_bytes`` is its size without the two counters."""

    __slots__ = ("master", "master_fields", "entries", "live", "deleted", "body_bytes")

    def __init__(self, master: StreamID, master_fields: tuple[bytes, ...]) -> None:
        self.master = master
        self.master_fields = master_fields
        self.entries: list[StreamEntry] = []
        self.live = 0
        self.deleted = 0
        self.body_bytes = (
            _LP_HEADER_AND_END
            + lp_int_size(len(master_fields))
            + sum(lp_str_size(f) for f in master_fields)
            + 2  # the master entry's terminating 0
        )

    @property
    def lp_bytes(self) -> int:
        return self.body_bytes + lp_int_size(self.live) + lp_int_size(self.deleted)

    def entry_bytes(self, e: StreamEntry) -> int:
        size = 2 + lp_int_size(signed_delta(e.id[0], self.master[0]))
        size += lp_int_size(signed_delta(e.id[1], self.master[1]))
        n = len(e.values)
        if e.flags & FLAG_SAMEFIELDS:
            count = n + 3
        else:
            size += lp_int_size(n) + sum(lp_str_size(f) for f in e.fields)
            count = 2 * n + 4
        size += sum(lp_str_size(v) for v in e.values)
        return size + lp_int_size(count)

    def add(self, e: StreamEntry) -> None:
        """Append an entry as loaded or added (counters follow its flags)."""
        self.entries.append(e)
        self.body_bytes += self.entry_bytes(e)
        if e.flags & FLAG_DELETED:
            self.deleted += 1
        else:
            self.live += 1

    def index(self, sid: StreamID) -> int:
        """Position of the first entry with ID >= ``sid``."""
        entries = self.entries
        lo, hi = 0, len(entries)
        while lo < hi:
            mid = (lo + hi) // 2
            if entries[mid].id < sid:
                lo = mid + 1
            else:
                hi = mid
        return lo


# --- consumer groups -----------------------------------------------------------------------


class PendingEntry:
    """A NACK: delivered, not yet acknowledged; shared by the group and consumer PELs."""

    __slots__ = ("delivery_time", "delivery_count", "consumer")

    def __init__(self, delivery_time: int, consumer: Consumer | None, count: int = 1) -> None:
        self.delivery_time = delivery_time
        self.delivery_count = count
        self.consumer = consumer


class Consumer:
    __slots__ = ("name", "seen_time", "active_time", "pel")

    def __init__(self, name: bytes, seen_time: int, active_time: int = -1) -> None:
        self.name = name
        self.seen_time = seen_time
        self.active_time = active_time
        self.pel: SortedDict = SortedDict()  # StreamID -> PendingEntry


class ConsumerGroup:
    __slots__ = ("last_id", "entries_read", "pel", "consumers")

    def __init__(self, last_id: StreamID, entries_read: int) -> None:
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel: SortedDict = SortedDict()  # StreamID -> PendingEntry
        self.consumers: SortedDict = SortedDict()  # name -> Consumer

    def create_consumer(self, name: bytes, now_ms: int) -> Consumer:
        consumer = Consumer(name, now_ms)
        self.consumers[name] = consumer
        return consumer

    def delete_consumer(self, consumer: Consumer) -> int:
        """Drop a consumer and its pending entries; returns how many it had."""
        pending = len(consumer.pel)
        for sid in consumer.pel:
            self.pel.pop(sid, None)
        del self.consumers[consumer.name]
        return pending

    def ack(self, sid: StreamID) -> bool:
        nack: PendingEntry | None = self.pel.pop(sid, None)
        if nack is None:
            return False
        if nack.consumer is not None:
            nack.consumer.pel.pop(sid, None)
        return True


# --- the stream ----------------------------------------------------------------------------


class StreamValue:
    """A stream: nodes in master-ID order, the counters Valkey keeps, and consumer groups."""

    __slots__ = (
        "nodes",
        "length",
        "last_id",
        "first_id",
        "max_deleted_id",
        "entries_added",
        "groups",
    )

    node_max_bytes: int = NODE_MAX_BYTES
    node_max_entries: int = NODE_MAX_ENTRIES

    def __init__(self) -> None:
        self.nodes: SortedDict = SortedDict()  # master StreamID -> StreamNode
        self.length = 0
        self.last_id: StreamID = MIN_ID
        self.first_id: StreamID = MIN_ID
        self.max_deleted_id: StreamID = MIN_ID
        self.entries_added = 0
        self.groups: SortedDict = SortedDict()  # name -> ConsumerGroup

    def __len__(self) -> int:
        return self.length

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, StreamValue)
            and self.length == other.length
            and self.last_id == other.last_id
            and list(self.items()) == list(other.items())
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StreamValue(length={self.length}, last_id={self.last_id})"

    # --- adding --------------------------------------------------------------------------

    def next_id(self, use_id: StreamID | None, seq_given: bool, now_ms: int) -> StreamID:
        """The ID an XADD would get (``*``, ``ms-*`` or explicit); StreamError("id") if it is
        not above the top item."""
        last = self.last_id
        sid: StreamID
        if use_id is None:
            if now_ms > last[0]:
                sid = (now_ms, 0)
            else:
                nxt = incr_id(last)
                if nxt is None:
                    raise StreamError("id")
                sid = nxt
        elif seq_given:
            sid = use_id
        elif last[0] == use_id[0]:
            if last[1] == U64_MAX:
                raise StreamError("id")
            sid = (last[0], last[1] + 1)
        else:
            sid = use_id
        if sid <= last:
            raise StreamError("id")
        return sid

    def append(self, sid: StreamID, pairs: list[bytes]) -> None:
        """Add an entry with ID ``sid`` (already checked by :meth:`next_id`), as
        ``streamAppendItem`` places it: into the tail node, or a new node when full."""
        fields = tuple(pairs[0::2])
        values = tuple(pairs[1::2])
        total = sum(len(x) for x in pairs)
        if total > LISTPACK_MAX_SIZE:
            raise StreamError("size")
        node: StreamNode | None = None
        if self.nodes:
            node = self.nodes.peekitem(-1)[1]
            max_bytes = self.node_max_bytes
            if max_bytes == 0 or max_bytes > LISTPACK_MAX_SIZE:
                max_bytes = LISTPACK_MAX_SIZE
            if node.lp_bytes + total >= max_bytes or (
                self.node_max_entries and node.live + node.deleted >= self.node_max_entries
            ):
                node = None
        if node is None:
            node = StreamNode(sid, fields)
            self.nodes[sid] = node
            flags = FLAG_SAMEFIELDS
        else:
            flags = FLAG_SAMEFIELDS if fields == node.master_fields else 0
        node.add(StreamEntry(flags, sid, fields, values))
        self.length += 1
        self.entries_added += 1
        self.last_id = sid
        if self.length == 1:
            self.first_id = sid

    # --- reading -------------------------------------------------------------------------

    def _start_node(self, sid: StreamID) -> int:
        """Index of the node that may hold ``sid`` (the last with master <= sid), at least 0."""
        return max(int(self.nodes.bisect_right(sid)) - 1, 0)

    def entries(
        self,
        start: StreamID = MIN_ID,
        end: StreamID = MAX_ID,
        rev: bool = False,
        tombstones: bool = False,
    ) -> Iterator[StreamEntry]:
        """Entries with start <= ID <= end in ID order (reversed with ``rev``)."""
        if start > end or not self.nodes:
            return
        nodes = self.nodes.values()
        if not rev:
            for i in range(self._start_node(start), len(nodes)):
                node: StreamNode = nodes[i]
                if node.master > end:
                    return
                entries = node.entries
                for j in range(node.index(start), len(entries)):
                    e = entries[j]
                    if e.id > end:
                        return
                    if tombstones or not e.flags & FLAG_DELETED:
                        yield e
        else:
            for i in range(int(self.nodes.bisect_right(end)) - 1, -1, -1):
                node = nodes[i]
                entries = node.entries
                j = node.index(end)
                if j < len(entries) and entries[j].id == end:
                    j += 1
                for k in range(j - 1, -1, -1):
                    e = entries[k]
                    if e.id < start:
                        return
                    if tombstones or not e.flags & FLAG_DELETED:
                        yield e

    def items(self) -> Iterator[tuple[StreamID, list[bytes]]]:
        """(ID, [field, value, ...]) of every live entry, lowest ID first."""
        for e in self.entries():
            yield e.id, e.pairs()

    def get(self, sid: StreamID) -> StreamEntry | None:
        for e in self.entries(sid, sid):
            return e
        return None

    def edge_id(self, first: bool, skip_tombstones: bool) -> StreamID:
        """``streamGetEdgeID``: the first or last entry's ID; MAX/MIN when there is none."""
        for e in self.entries(rev=not first, tombstones=not skip_tombstones):
            return e.id
        return MAX_ID if first else MIN_ID

    def last_valid_id(self) -> StreamID:
        for e in self.entries(rev=True):
            return e.id
        return MIN_ID

    # --- removing ------------------------------------------------------------------------

    def delete(self, sid: StreamID) -> bool:
        """Flag one live entry as deleted (``streamDeleteItem``); the node goes with its last
        live entry. The caller updates first_id / max_deleted_id as XDEL does."""
        if not self.nodes:
            return False
        idx = self._start_node(sid)
        node: StreamNode = self.nodes.values()[idx]
        j = node.index(sid)
        if j >= len(node.entries):
            return False
        e = node.entries[j]
        if e.id != sid or e.flags & FLAG_DELETED:
            return False
        e.flags |= FLAG_DELETED
        if node.live == 1:
            del self.nodes[node.master]
        else:
            node.live -= 1
            node.deleted += 1
        self.length -= 1
        return True

    def trim(self, maxlen: int | None, minid: StreamID | None, approx: bool, limit: int) -> int:
        """``streamTrim``: MAXLEN (``maxlen``) or MINID (``minid``) from the head; with
        ``approx`` only whole nodes go. ``limit`` (0 = none) caps the entries removed."""
        deleted = 0
        while self.nodes:
            if maxlen is not None and self.length <= maxlen:
                break
            node: StreamNode = self.nodes.peekitem(0)[1]
            live = node.live
            if limit and deleted + live > limit:
                break
            if maxlen is not None:
                remove = self.length - live >= maxlen
            else:
                assert minid is not None
                last = node.entries[-1].id if node.entries else MIN_ID
                remove = last < minid
            if remove:
                del self.nodes[node.master]
                self.length -= live
                deleted += live
                continue
            if approx:
                break
            removed_here = 0
            for e in node.entries:
                if maxlen is not None:
                    if self.length <= maxlen:
                        break
                else:
                    assert minid is not None
                    if e.id >= minid:
                        break
                if not e.flags & FLAG_DELETED:
                    e.flags |= FLAG_DELETED
                    removed_here += 1
                    self.length -= 1
            node.live -= removed_here
            node.deleted += removed_here
            deleted += removed_here
            break
        if self.length == 0:
            self.first_id = MIN_ID
        elif deleted:
            self.first_id = self.edge_id(True, True)
        return deleted

    # --- consumer-group bookkeeping ------------------------------------------------------

    def range_has_tombstones(self, start: StreamID | None, end: StreamID | None) -> bool:
        """``streamRangeHasTombstones``."""
        if not self.length or self.max_deleted_id == MIN_ID:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        lo = start if start is not None else MIN_ID
        hi = end if end is not None else MAX_ID
        return lo <= self.max_deleted_id <= hi

    def estimate_distance(self, sid: StreamID) -> int:
        """``streamEstimateDistanceFromFirstEverEntry``: the logical read counter of ``sid``,
        or -1 when it cannot be known."""
        if not self.entries_added:
            return 0
        if not self.length and sid <= self.last_id:
            return self.entries_added
        if sid == self.last_id:
            return self.entries_added
        if sid > self.last_id:
            return ENTRIES_READ_INVALID
        if self.max_deleted_id == MIN_ID or self.max_deleted_id < self.first_id:
            if sid < self.first_id:
                return self.entries_added - self.length
            if sid == self.first_id:
                return self.entries_added - self.length + 1
        return ENTRIES_READ_INVALID

    def group_lag(self, group: ConsumerGroup) -> int | None:
        """``streamReplyWithCGLag``: entries not yet delivered to the group, or None."""
        if not self.entries_added:
            return 0
        if group.entries_read != ENTRIES_READ_INVALID and not self.range_has_tombstones(
            group.last_id, None
        ):
            return self.entries_added - group.entries_read
        read = self.estimate_distance(group.last_id)
        if read != ENTRIES_READ_INVALID:
            return self.entries_added - read
        return None

    # --- the radix tree, for XINFO -------------------------------------------------------

    def rax_nodes(self) -> int:
        """Node count of Valkey's radix tree over the node keys (``rax->numnodes``).

        A rax keeps one node per branching point, per key, per child of a branching point,
        and a compressed node for every chain in between; for a set of equal-length keys that
        count follows from the keys alone."""
        keys = [id_key(k) for k in self.nodes]
        return 1 + _rax_subtree(keys, 0) if keys else 1

    def copy(self) -> StreamValue:
        """A deep copy (COPY duplicates the stream with its groups)."""
        out = StreamValue()
        for master, node in self.nodes.items():
            twin = StreamNode(master, node.master_fields)
            twin.entries = [StreamEntry(e.flags, e.id, e.fields, e.values) for e in node.entries]
            twin.live, twin.deleted, twin.body_bytes = node.live, node.deleted, node.body_bytes
            out.nodes[master] = twin
        out.length, out.last_id, out.first_id = self.length, self.last_id, self.first_id
        out.max_deleted_id, out.entries_added = self.max_deleted_id, self.entries_added
        for name, group in self.groups.items():
            g = ConsumerGroup(group.last_id, group.entries_read)
            for cname, c in group.consumers.items():
                g.consumers[cname] = Consumer(cname, c.seen_time, c.active_time)
            for sid, nack in group.pel.items():
                owner = g.consumers[nack.consumer.name] if nack.consumer is not None else None
                twin_nack = PendingEntry(nack.delivery_time, owner, nack.delivery_count)
                g.pel[sid] = twin_nack
                if owner is not None:
                    owner.pel[sid] = twin_nack
            out.groups[name] = g
        return out


def _rax_subtree(keys: list[bytes], depth: int) -> int:
    """Nodes below a node at ``depth`` shared by ``keys`` (sorted, all 16 bytes long)."""
    if len(keys) == 1:
        return 0 if depth == len(keys[0]) else 1
    first, last = keys[0], keys[-1]
    m = depth
    while first[m] == last[m]:
        m += 1
    count = 1 if m > depth else 0
    i = 0
    while i < len(keys):
        byte = keys[i][m]
        j = i
        while j < len(keys) and keys[j][m] == byte:
            j += 1
        count += 1 + _rax_subtree(keys[i:j], m + 1)
        i = j
    return count
