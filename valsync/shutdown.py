"""What a shutdown was asked for, and whether its final save decides it can go on.

A SHUTDOWN command or a signal becomes a :class:`ShutdownRequest`; the final RDB save runs
synchronously (nothing else may change the dataset meanwhile, as in Valkey) and a failed save
cancels the shutdown unless FORCE was given: the command then answers an error, a signal's
shutdown is forgotten and the server goes on serving.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

SHUTDOWN_FAILED = "ERR Errors trying to SHUTDOWN. Check logs."
_FLAG_WORDS = ("save", "nosave", "now", "force")


@dataclass(frozen=True)
class ShutdownRequest:
    save: bool | None = None
    """True for SAVE, False for NOSAVE, None: save when save points are configured."""
    force: bool = False
    signal: int | None = None
    prepared: bool = False
    """The final save already ran (SHUTDOWN does it before it lets its asker go)."""

    @classmethod
    def from_words(cls, words: set[str], sig: int | None = None) -> ShutdownRequest:
        save = True if "save" in words else False if "nosave" in words else None
        return cls(save=save, force="force" in words, signal=sig)

    @classmethod
    def from_config(cls, flags: str, sig: int) -> ShutdownRequest:
        """``shutdown-on-sigterm``/``-sigint``: ``default`` or flag words."""
        return cls.from_words({w for w in flags.lower().split() if w in _FLAG_WORDS}, sig)

    def wants_save(self, has_save_points: bool) -> bool:
        return self.save is True or (self.save is None and has_save_points)


@contextmanager
def second_sigint_exits(on_insist: Callable[[], None]) -> Iterator[None]:
    """While a signal's final save runs, a second SIGINT means "quit now, without saving"
    (Valkey's sigShutdownHandler): ``on_insist`` logs and removes the temp file, then the
    process exits with status 1."""

    def insist(signum: int, frame: FrameType | None) -> None:
        on_insist()
        os._exit(1)

    previous = signal.signal(signal.SIGINT, insist)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
