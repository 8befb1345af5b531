"""Paused actions: CLIENT PAUSE, and the write pause FAILOVER and SHUTDOWN take (sans-IO).

As Valkey's ``pauseActions``: each purpose (a CLIENT PAUSE command, a failover, a shutdown)
holds a set of paused actions until an end time; what is paused now is the union over the
purposes whose end has not passed. A new pause of the same purpose replaces its actions and
keeps the later end; CLIENT PAUSE WRITE never weakens a CLIENT PAUSE ALL in force.

Actions: ``CLIENT_WRITE`` postpones write (and may-replicate) commands of normal clients,
``CLIENT_ALL`` every command of theirs; ``EXPIRE`` stops deleting expired keys (they read as
missing but stay, so nothing is propagated); ``EVICT`` stops eviction. Replicas are never
paused.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PauseAction(enum.IntFlag):
    CLIENT_WRITE = 1
    CLIENT_ALL = 2
    EXPIRE = 4
    EVICT = 8
    REPLICA = 16


WRITE_SET = PauseAction.CLIENT_WRITE | PauseAction.EXPIRE | PauseAction.EVICT | PauseAction.REPLICA
ALL_SET = PauseAction.CLIENT_ALL | PauseAction.EXPIRE | PauseAction.EVICT | PauseAction.REPLICA


class PausePurpose(enum.Enum):
    """Why, in INFO's ``paused_reason`` words."""

    CLIENT_PAUSE = "client_pause"
    SHUTDOWN = "shutdown_in_progress"
    FAILOVER = "failover_in_progress"


@dataclass
class _Pause:
    actions: PauseAction = PauseAction(0)
    end_ms: int = 0


class PauseState:
    """The pauses in force; every query takes the current time (no clock inside)."""

    def __init__(self) -> None:
        self._by_purpose = {purpose: _Pause() for purpose in PausePurpose}

    def pause(self, purpose: PausePurpose, end_ms: int, actions: PauseAction) -> None:
        entry = self._by_purpose[purpose]
        if purpose is PausePurpose.CLIENT_PAUSE and entry.actions & PauseAction.CLIENT_ALL:
            actions = ALL_SET
        entry.actions = actions
        entry.end_ms = max(entry.end_ms, end_ms)

    def unpause(self, purpose: PausePurpose) -> None:
        self._by_purpose[purpose] = _Pause()

    def actions(self, now_ms: int) -> PauseAction:
        """What is paused at ``now_ms``; pauses whose end passed are dropped."""
        paused = PauseAction(0)
        for purpose, entry in self._by_purpose.items():
            if entry.actions and entry.end_ms > now_ms:
                paused |= entry.actions
            elif entry.actions:
                self._by_purpose[purpose] = _Pause()
        return paused

    def end_ms(self, now_ms: int) -> int:
        """When the last pause in force ends (0: none)."""
        ends = [e.end_ms for e in self._by_purpose.values() if e.actions and e.end_ms > now_ms]
        return max(ends, default=0)

    def info_lines(self, now_ms: int) -> list[str]:
        """INFO clients' ``paused_reason``, ``paused_actions``, ``paused_timeout_milliseconds``."""
        paused = self.actions(now_ms)
        reason = "none"
        for purpose, entry in self._by_purpose.items():
            if entry.actions:
                reason = purpose.value
                break
        if paused & PauseAction.CLIENT_ALL:
            kind = "all"
        elif paused & PauseAction.CLIENT_WRITE:
            kind = "write"
        else:
            kind = "none"
        end = self.end_ms(now_ms)
        return [
            f"paused_reason:{reason}",
            f"paused_actions:{kind}",
            f"paused_timeout_milliseconds:{end - now_ms if end else 0}",
        ]
