"""Streams in the RDB format (types 15, 19 and 21), both ways.

Layout, as Valkey writes it: the node count, then per node its 16-byte master ID and its
listpack; the length, the last ID; (types 19+) the first ID, the max deleted entry ID and the
entries-added counter; then the groups: name, last-delivered ID, (19+) entries-read, the group
PEL (16-byte ID, delivery time as 8-byte LE ms, delivery count), the consumers: name, seen time,
(21) active time, and their PEL as bare IDs pointing into the group's.

A node listpack holds, in order: live count, deleted count, master field count, the master
field names, a 0; then per entry: flags, ms delta, seq delta, [field count, fields and values
| values only with SAMEFIELDS], the entry's element count. valsync always writes type 21.

:func:`encode_stream_payload` / :func:`decode_stream_payload` are the value-level pair (what
follows the type byte), for DUMP/RESTORE as well as the dump writer and reader.
"""

from __future__ import annotations

from valsync.keyspace.stream import (
    ENTRIES_READ_INVALID,
    FLAG_DELETED,
    FLAG_SAMEFIELDS,
    U64_MAX,
    Consumer,
    ConsumerGroup,
    PendingEntry,
    StreamEntry,
    StreamID,
    StreamNode,
    StreamValue,
    id_from_key,
    id_key,
    signed_delta,
)
from valsync.rdb import format as F
from valsync.rdb import listpack
from valsync.rdb.format import EncodingError, RdbError


def _len(n: int) -> bytes:
    from valsync.rdb.writer import encode_len

    return encode_len(n)


def node_listpack(node: StreamNode) -> bytes:
    """The node's listpack exactly as Valkey holds it."""
    enc = listpack.encode_entry
    parts = [
        enc(b"%d" % node.live),
        enc(b"%d" % node.deleted),
        enc(b"%d" % len(node.master_fields)),
    ]
    parts.extend(enc(f) for f in node.master_fields)
    parts.append(enc(b"0"))
    mms, mseq = node.master
    for e in node.entries:
        parts.append(enc(b"%d" % e.flags))
        parts.append(enc(b"%d" % signed_delta(e.id[0], mms)))
        parts.append(enc(b"%d" % signed_delta(e.id[1], mseq)))
        n = len(e.values)
        if e.flags & FLAG_SAMEFIELDS:
            parts.extend(enc(v) for v in e.values)
            count = n + 3
        else:
            parts.append(enc(b"%d" % n))
            for f, v in zip(e.fields, e.values, strict=True):
                parts.append(enc(f))
                parts.append(enc(v))
            count = 2 * n + 4
        parts.append(enc(b"%d" % count))
    return listpack.build(parts)


def encode_stream_payload(stream: StreamValue, compression: bool = True) -> bytes:
    """A stream as RDB type 21 stores it, without the type byte."""
    from valsync.rdb.writer import encode_string

    out = [_len(len(stream.nodes))]
    for master, node in stream.nodes.items():
        out.append(encode_string(id_key(master), compression))
        out.append(encode_string(node_listpack(node), compression))
    out.append(_len(stream.length))
    out.append(_len(stream.last_id[0]) + _len(stream.last_id[1]))
    out.append(_len(stream.first_id[0]) + _len(stream.first_id[1]))
    out.append(_len(stream.max_deleted_id[0]) + _len(stream.max_deleted_id[1]))
    out.append(_len(stream.entries_added))
    out.append(_len(len(stream.groups)))
    for name, group in stream.groups.items():
        out.append(encode_string(name, compression))
        out.append(_len(group.last_id[0]) + _len(group.last_id[1]))
        out.append(_len(group.entries_read & U64_MAX))
        out.append(_len(len(group.pel)))
        for sid, nack in group.pel.items():
            out.append(id_key(sid))
            out.append(nack.delivery_time.to_bytes(8, "little", signed=True))
            out.append(_len(nack.delivery_count))
        out.append(_len(len(group.consumers)))
        for cname, consumer in group.consumers.items():
            out.append(encode_string(cname, compression))
            out.append(consumer.seen_time.to_bytes(8, "little", signed=True))
            out.append(consumer.active_time.to_bytes(8, "little", signed=True))
            out.append(_len(len(consumer.pel)))
            out.extend(id_key(sid) for sid in consumer.pel)
    return b"".join(out)


class StreamFormatError(ValueError):
    """The payload is not a valid stream (the reader turns it into a positioned error)."""


def _node_from_listpack(master: StreamID, blob: bytes) -> StreamNode:
    try:
        items = listpack.decode(blob)
    except EncodingError as err:
        raise StreamFormatError(f"Stream listpack integrity check failed: {err}") from None
    if not items:
        raise StreamFormatError("Empty listpack inside stream")
    try:
        live, deleted, nmaster = int(items[0]), int(items[1]), int(items[2])
        master_fields = tuple(items[3 : 3 + nmaster])
        i = 3 + nmaster
        if items[i] != b"0":
            raise StreamFormatError("Stream listpack integrity check failed")
        i += 1
        node = StreamNode(master, master_fields)
        mms, mseq = master
        while i < len(items):
            flags = int(items[i])
            sid = ((mms + int(items[i + 1])) & U64_MAX, (mseq + int(items[i + 2])) & U64_MAX)
            i += 3
            if flags & FLAG_SAMEFIELDS:
                fields = master_fields
                values = tuple(items[i : i + nmaster])
                i += nmaster
            else:
                n = int(items[i])
                flat = items[i + 1 : i + 1 + 2 * n]
                fields, values = tuple(flat[0::2]), tuple(flat[1::2])
                i += 1 + 2 * n
            if len(values) != len(fields):
                raise StreamFormatError("Stream listpack integrity check failed")
            i += 1  # the entry's element count
            node.add(StreamEntry(flags, sid, fields, values))
    except (ValueError, IndexError):
        raise StreamFormatError("Stream listpack integrity check failed") from None
    if node.live != live or node.deleted != deleted:
        raise StreamFormatError("Stream listpack integrity check failed")
    node.body_bytes += len(blob) - node.lp_bytes
    return node


class _Cursor:
    """Reads RDB lengths and strings from a payload; raises IndexError when cut short."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf = buf
        self.pos = pos

    def length(self) -> int:
        from valsync.rdb.reader import _read_len

        n, self.pos = _read_len(self.buf, self.pos)
        return n

    def string(self) -> bytes:
        from valsync.rdb.reader import _read_string

        s, self.pos = _read_string(self.buf, self.pos)
        return s

    def raw(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            raise IndexError
        out = self.buf[self.pos : end]
        self.pos = end
        return out

    def ms_time(self) -> int:
        return int.from_bytes(self.raw(8), "little", signed=True)


def read_stream(buf: bytes, pos: int, rdb_type: int) -> tuple[StreamValue, int]:
    """Decode a stream of ``rdb_type`` at ``pos``. IndexError (or the reader's short-read
    signal) when the buffer ends early; StreamFormatError when the data is invalid."""
    c = _Cursor(buf, pos)
    s = StreamValue()
    for _ in range(c.length()):
        key = c.string()
        if len(key) != 16:
            raise StreamFormatError("Stream node key entry is not the size of a stream ID")
        master = id_from_key(key)
        blob = c.string()
        if master in s.nodes:
            raise StreamFormatError("Listpack re-added with existing key")
        s.nodes[master] = _node_from_listpack(master, blob)
    s.length = c.length()
    s.last_id = (c.length(), c.length())
    if rdb_type >= F.TYPE_STREAM_LISTPACKS_2:
        s.first_id = (c.length(), c.length())
        s.max_deleted_id = (c.length(), c.length())
        s.entries_added = c.length()
    else:
        s.entries_added = s.length
        s.first_id = s.edge_id(True, True)
    if s.length and not s.nodes:
        raise StreamFormatError("Stream length inconsistent with rax entries")
    for _ in range(c.length()):
        name = c.string()
        last_id = (c.length(), c.length())
        if rdb_type >= F.TYPE_STREAM_LISTPACKS_2:
            raw_read = c.length()
            entries_read = raw_read - (1 << 64) if raw_read > (1 << 63) - 1 else raw_read
        else:
            entries_read = s.estimate_distance(last_id)
        if name in s.groups:
            raise StreamFormatError(f"Duplicated consumer group name {name!r}")
        group = ConsumerGroup(last_id, entries_read)
        s.groups[name] = group
        for _ in range(c.length()):
            sid = id_from_key(c.raw(16))
            nack = PendingEntry(c.ms_time(), None, c.length())
            if sid in group.pel:
                raise StreamFormatError("Duplicated global PEL entry loading stream consumer group")
            group.pel[sid] = nack
        for _ in range(c.length()):
            cname = c.string()
            if cname in group.consumers:
                raise StreamFormatError("Duplicate stream consumer detected.")
            seen = c.ms_time()
            active = c.ms_time() if rdb_type >= F.TYPE_STREAM_LISTPACKS_3 else seen
            consumer = Consumer(cname, seen, active)
            group.consumers[cname] = consumer
            for _ in range(c.length()):
                sid = id_from_key(c.raw(16))
                pending = group.pel.get(sid)
                if pending is None:
                    raise StreamFormatError("Consumer entry not found in group global PEL")
                if sid in consumer.pel:
                    raise StreamFormatError("Duplicated consumer PEL entry loading a stream group")
                pending.consumer = consumer
                consumer.pel[sid] = pending
    if c.pos > len(buf):
        raise IndexError
    return s, c.pos


def decode_stream_payload(payload: bytes, rdb_type: int = F.TYPE_STREAM_LISTPACKS_3) -> StreamValue:
    """A whole stream payload (what follows the type byte); RdbError when invalid or cut."""
    if rdb_type not in F.STREAM_TYPES:
        raise RdbError(f"not a stream type: {rdb_type}")
    from valsync.rdb.reader import _Corrupt, _Short

    try:
        value, end = read_stream(payload, 0, rdb_type)
    except (IndexError, _Short):
        raise RdbError("truncated stream payload") from None
    except _Corrupt as err:
        raise RdbError(err.reason, err.pos) from None
    except StreamFormatError as err:
        raise RdbError(str(err)) from None
    if end != len(payload):
        raise RdbError("trailing bytes after the stream payload", end)
    return value


__all__ = [
    "ENTRIES_READ_INVALID",
    "FLAG_DELETED",
    "StreamFormatError",
    "decode_stream_payload",
    "encode_stream_payload",
    "node_listpack",
    "read_stream",
]
