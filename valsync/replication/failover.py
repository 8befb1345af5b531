"""The coordinated switch of roles: FAILOVER on the primary (sans-IO).

Theory of operation, as Valkey's ``failoverCommand`` and ``updateFailoverStatus``:

1. ``FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]`` is parsed (:func:`parse_failover`)
   and checked against the server (:func:`refuse_failover`); when accepted, writes are paused
   (the FAILOVER purpose, write set, no end) and the state is ``waiting-for-sync``.
2. Every cron tick :func:`failover_step` looks at the replicas: the target (or, with no target,
   the first replica) whose acknowledged offset equals the primary's is chosen, the state
   becomes ``failover-in-progress`` and the primary turns into that replica's replica, sending
   ``PSYNC <replid> <offset+1> FAILOVER`` so that the target promotes itself first.
3. The timeout ends the wait: with FORCE the switch happens anyway, without it the failover is
   aborted. ``FAILOVER ABORT`` aborts too; an abort during ``failover-in-progress`` makes this
   server a primary again. Either way the pause is lifted when the failover ends.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class FailoverState(enum.Enum):
    NONE = "no-failover"
    WAITING_FOR_SYNC = "waiting-for-sync"
    IN_PROGRESS = "failover-in-progress"


class FailoverSyntaxError(Exception):
    """The command's words are off; ``str(err)`` is Valkey's error reply (without ``-``)."""


@dataclass(frozen=True, slots=True)
class FailoverRequest:
    abort: bool = False
    host: str | None = None
    port: int = 0
    force: bool = False
    timeout_ms: int = 0


@dataclass(frozen=True, slots=True)
class ReplicaView:
    """What the decision needs of one replica link."""

    host: str
    port: int
    ack_offset: int
    online: bool


@dataclass(frozen=True, slots=True)
class SwitchTo:
    """Become a replica of ``host:port`` with ``PSYNC ... FAILOVER``; ``log`` says why."""

    host: str
    port: int
    log: str


@dataclass(frozen=True, slots=True)
class Abort:
    reason: str


def _long(word: bytes) -> int:
    try:
        value = int(word)
    except ValueError:
        raise FailoverSyntaxError("ERR value is not an integer or out of range") from None
    if not -(2**63) <= value < 2**63 or word.strip() != word or word.startswith(b"+"):
        raise FailoverSyntaxError("ERR value is not an integer or out of range")
    return value


def parse_failover(argv: Sequence[bytes]) -> FailoverRequest:
    """The words after FAILOVER, as ``failoverCommand`` reads them."""
    if len(argv) == 2 and argv[1].lower() == b"abort":
        return FailoverRequest(abort=True)
    timeout = 0
    host: str | None = None
    port = 0
    force = False
    j = 1
    while j < len(argv):
        word = argv[j].lower()
        if word == b"timeout" and j + 1 < len(argv) and timeout == 0:
            timeout = _long(argv[j + 1])
            if timeout <= 0:
                raise FailoverSyntaxError("ERR FAILOVER timeout must be greater than 0")
            j += 2
        elif word == b"to" and j + 2 < len(argv) and host is None:
            port = _long(argv[j + 2])
            host = argv[j + 1].decode("utf-8", "replace")
            j += 3
        elif word == b"force" and not force:
            force = True
            j += 1
        else:
            raise FailoverSyntaxError("ERR syntax error")
    return FailoverRequest(False, host, port, force, timeout)


def find_replica(replicas: Sequence[ReplicaView], host: str, port: int) -> ReplicaView | None:
    for replica in replicas:
        if replica.host == host and replica.port == port:
            return replica
    return None


def refuse_failover(
    request: FailoverRequest,
    state: FailoverState,
    is_replica: bool,
    replicas: Sequence[ReplicaView],
) -> str | None:
    """Valkey's error for a FAILOVER (not ABORT) that cannot start, in its order; None: go."""
    if state is not FailoverState.NONE:
        return "ERR FAILOVER already in progress."
    if is_replica:
        return "ERR FAILOVER is not valid when server is a replica."
    if not replicas:
        return "ERR FAILOVER requires connected replicas."
    if request.force and (not request.timeout_ms or request.host is None):
        return "ERR FAILOVER with force option requires both a timeout and target HOST and IP."
    if request.host is not None:
        target = find_replica(replicas, request.host, request.port)
        if target is None:
            return "ERR FAILOVER target HOST and PORT is not a replica."
        if not target.online:
            return "ERR FAILOVER target replica is not online."
    return None


def failover_step(
    request: FailoverRequest,
    end_ms: int,
    now_ms: int,
    replicas: Sequence[ReplicaView],
    primary_offset: int,
) -> SwitchTo | Abort | None:
    """While waiting for sync: switch, abort, or keep waiting (None)."""
    if end_ms and end_ms <= now_ms:
        if request.force and request.host is not None:
            return SwitchTo(
                request.host,
                request.port,
                f"FAILOVER to {request.host}:{request.port} time out exceeded, failing over.",
            )
        return Abort("Replica never caught up before timeout")
    if request.host is not None:
        target = find_replica(replicas, request.host, request.port)
        candidates = [target] if target is not None else []
    else:
        candidates = [r for r in replicas if r.ack_offset == primary_offset]
    for replica in candidates:
        if replica.ack_offset == primary_offset:
            return SwitchTo(
                replica.host,
                replica.port,
                f"Failover target {replica.host}:{replica.port} is synced, failing over.",
            )
    return None


def abort_log(request: FailoverRequest, target: tuple[str, int] | None, reason: str) -> str:
    if target is not None:
        return f"FAILOVER to {target[0]}:{target[1]} aborted: {reason}"
    return f"FAILOVER to any replica aborted: {reason}"
