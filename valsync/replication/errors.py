"""Errors raised by the sans-IO replication cores.

As in h11, a :class:`RemoteProtocolError` means the peer misbehaved (close the link and log);
any other exception escaping a core is a bug in valsync.
"""

from __future__ import annotations


class RemoteProtocolError(Exception):
    """The other side of a replication link sent bytes Valkey would reject."""
