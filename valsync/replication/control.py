"""What the state layer calls on the replication service.

The service itself (``valsync.net.replication.ReplicationService``) runs on trio; the Server,
persistence and the commands see it only through :class:`ReplicationControl`, so they never
import the trio shell (the assembler in ``valsync.app`` plugs the service in).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from valsync.replication.backlog import ReplicationBacklog
from valsync.replication.ids import ReplicationIds
from valsync.replication.propagation import Propagated

if TYPE_CHECKING:
    import trio

    from valsync.resp.request import RequestParser


class PrimaryLinkControl(Protocol):
    """The replica side's link to its primary, as the Server drives it."""

    def flush_applied(self) -> None:
        """Pass the primary's stream bytes applied so far on to our own stream."""


class ReplicationControl(Protocol):
    """The replication service, both roles (primary to our replicas, replica of a primary)."""

    ids: ReplicationIds
    backlog: ReplicationBacklog | None

    @property
    def links(self) -> Mapping[int, object]:
        """The attached replicas by client id."""

    @property
    def primary(self) -> PrimaryLinkControl: ...

    @property
    def is_replica(self) -> bool: ...

    @property
    def link_up(self) -> bool: ...

    @property
    def master_repl_offset(self) -> int: ...

    @property
    def failover_state(self) -> str:
        """INFO's ``master_failover_state``."""

    def primary_address(self) -> tuple[str, int] | None: ...

    def enough_good_replicas(self) -> bool: ...

    def feed(self, unit: list[Propagated]) -> None: ...

    def feed_request(self, dbid: int, source: RequestParser) -> int:
        """A client's write streamed as its own request bytes (the multibulk ``source`` framed
        last); the new offset, or 0 when it must take :meth:`feed` (an inline request, or the
        stream has another DB selected). The bytes may wait for :meth:`flush_stream`."""

    def streams_db(self, dbid: int) -> bool:
        """The stream has ``dbid`` selected (:meth:`feed_request` streams writes there)."""

    def flush_stream(self) -> None: ...

    @property
    def streaming(self) -> bool: ...

    def replication_buffer_bytes(self) -> int: ...

    def rdb_repl_info(self) -> tuple[str, int, int] | None: ...

    def info_lines(self) -> list[str]: ...

    def resume_from_dump(self) -> None: ...

    async def start(self, nursery: trio.Nursery) -> None: ...

    def fast_cron(self) -> None: ...

    def cron(self) -> None: ...

    def shutdown(self) -> None: ...
