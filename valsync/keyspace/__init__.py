"""Databases, value types and expiry; knows nothing of the network or replication."""

from valsync.keyspace.database import Database, KeyListener, Keyspace
from valsync.keyspace.stream import StreamValue
from valsync.keyspace.values import HashValue, OpaqueValue, Value, ZSetValue, type_name

__all__ = [
    "Database",
    "HashValue",
    "KeyListener",
    "Keyspace",
    "OpaqueValue",
    "StreamValue",
    "Value",
    "ZSetValue",
    "type_name",
]
