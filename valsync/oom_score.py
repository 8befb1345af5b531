"""``oom-score-adj``: the kernel's OOM-killer preference of this process, as Valkey sets it.

Three classes (primary, replica, background child) take the three ``oom-score-adj-values``;
``relative`` (or ``yes``) adds them to the score the process had before valsync first
changed it, ``absolute`` writes them as they are, and ``no`` restores that first score.
"""

from __future__ import annotations

from collections.abc import Callable

from valsync.config import Config, ConfigError

PRIMARY, REPLICA, BGCHILD = 0, 1, 2
PROC_FILE = "/proc/self/oom_score_adj"


class OomScoreAdj:
    """Writes ``/proc/self/oom_score_adj`` when the setting, the values or the role change."""

    def __init__(
        self, config: Config, is_replica: Callable[[], bool], proc_file: str = PROC_FILE
    ) -> None:
        self.config = config
        self.is_replica = is_replica
        self.proc_file = proc_file
        self.base: int | None = None
        """The score before valsync changed it (None while valsync has not)."""

    def target(self, process_class: int) -> int | None:
        """The score to write for ``process_class`` (None: leave the file alone)."""
        mode = self.config.get_str("oom-score-adj")
        if mode == "no":
            return self.base
        value = int(self.config.get_str("oom-score-adj-values").split()[process_class])
        if mode in ("yes", "relative"):
            value += self.base or 0
        return max(-1000, min(1000, value))

    def apply(self, process_class: int | None = None) -> None:
        """Raises OSError when the file can't be read or written (an unprivileged process
        can't lower its score)."""
        if process_class is None:
            process_class = REPLICA if self.is_replica() else PRIMARY
        enabled = self.config.get_str("oom-score-adj") != "no"
        if enabled and self.base is None:
            with open(self.proc_file) as f:
                self.base = int(f.read().strip() or 0)
        value = self.target(process_class)
        if value is None:
            return
        if not enabled:
            self.base = None
        with open(self.proc_file, "w") as f:
            f.write(f"{value}\n")

    def apply_for_config(self, _text: str) -> None:
        """A CONFIG SET listener: a failure rolls the change back with Valkey's reason."""
        try:
            self.apply()
        except OSError:
            raise ConfigError("Failed to set current oom_score_adj. Check server logs.") from None

    def apply_quietly(self, process_class: int | None = None) -> None:
        """Role changes and the forked child: Valkey ignores (only logs) a failure there."""
        try:
            self.apply(process_class)
        except OSError:
            pass
