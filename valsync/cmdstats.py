"""Per-command and per-error counters: INFO commandstats, errorstats and latencystats.

Valkey counts, for every command (subcommands separately, as ``client|list``):

* ``calls`` and ``usec``: each execution and its duration, counted when the command completes
  (a blocked command counts once, when it is served or times out);
* ``rejected_calls``: the command was refused before it ran (arity, NOAUTH, READONLY, a
  ``no_multi`` command inside MULTI...): no call is counted;
* ``failed_calls``: it ran and replied an error (an error nested in EXEC's reply fails the
  queued command, not EXEC).

Every error reply also counts in ``errorstat_<CODE>``, the code being the error's first word.
Durations go into a latency histogram per command with the same quantization as Valkey's
HdrHistogram (values in nanoseconds, 2 significant digits, 1 ns .. 1 s), so percentiles and
LATENCY HISTOGRAM buckets print the same numbers Valkey would for the same durations.
"""

from __future__ import annotations

from collections.abc import Iterable

from valsync.config import format_percentile

# HdrHistogram with 2 significant figures: 256 sub-buckets, the lower half shared between
# buckets; the recorded value is ``usec * 1000`` clamped to [1, 1e9] ns, as Valkey records.
_SUB_BUCKET_MASK = 255
_SUB_BUCKET_HALF_MAGNITUDE = 7
HISTOGRAM_MIN_NS = 1
HISTOGRAM_MAX_NS = 1_000_000_000


def _bucket_shift(value: int) -> int:
    return (value | _SUB_BUCKET_MASK).bit_length() - (_SUB_BUCKET_HALF_MAGNITUDE + 1)


def lowest_equivalent(value: int) -> int:
    shift = _bucket_shift(value)
    return (value >> shift) << shift


def highest_equivalent(value: int) -> int:
    """The largest value HdrHistogram would report for a recorded ``value``."""
    shift = _bucket_shift(value)
    return ((value >> shift) << shift) + (1 << shift) - 1


def usec_to_ns(usec: int) -> int:
    ns = usec * 1000
    if ns < HISTOGRAM_MIN_NS:
        return HISTOGRAM_MIN_NS
    return min(ns, HISTOGRAM_MAX_NS)


def value_at_percentile(histogram: dict[int, int], percentile: float) -> int:
    """``hdr_value_at_percentile`` over ``{usec: count}`` (the result in nanoseconds)."""
    total = sum(histogram.values())
    wanted = max(int((min(percentile, 100.0) / 100) * total + 0.5), 1)
    seen = 0
    value = 0
    for usec in sorted(histogram):
        value = usec_to_ns(usec)
        seen += histogram[usec]
        if seen >= wanted:
            break
    if percentile == 0.0:
        return lowest_equivalent(value)
    return highest_equivalent(value)


def cumulative_distribution(histogram: dict[int, int]) -> list[tuple[int, int]]:
    """LATENCY HISTOGRAM's ``histogram_usec``: (bucket upper bound in usec, cumulative count)
    on power-of-two levels from 1024 ns, only where the count grew (Valkey's log iterator)."""
    values = sorted((usec_to_ns(u), n) for u, n in histogram.items())
    out: list[tuple[int, int]] = []
    level = 1024
    cumulative = 0
    i = 0
    while i < len(values):
        bound = highest_equivalent(level)
        before = cumulative
        while i < len(values) and values[i][0] <= bound:
            cumulative += values[i][1]
            i += 1
        if cumulative > before:
            out.append((bound // 1000, cumulative))
        level *= 2
    return out


ERRORSTATS_LIMIT = 128


def error_code(text: str) -> str:
    """The errorstats key of an error reply: its first word (searched in the first 31
    characters, as Valkey limits it), ``ERR`` when there is none."""
    space = text.find(" ", 0, 31)
    return text[:space] if space > 0 else "ERR"


class CommandStat:
    """Counters of one command (or subcommand)."""

    __slots__ = ("calls", "failed", "histogram", "rejected", "usec")

    def __init__(self) -> None:
        self.calls = 0
        self.usec = 0
        self.rejected = 0
        self.failed = 0
        self.histogram: dict[int, int] = {}


class CommandStats:
    """The server's commandstats and errorstats tables; CONFIG RESETSTAT empties both."""

    def __init__(self) -> None:
        self.commands: dict[str, CommandStat] = {}
        self.errors: dict[str, int] = {}

    def stat(self, name: str) -> CommandStat:
        stat = self.commands.get(name)
        if stat is None:
            stat = self.commands[name] = CommandStat()
        return stat

    def count_error(self, text: str, custom: bool = False) -> None:
        """``custom``: a script's own error; a new code past :data:`ERRORSTATS_LIMIT` codes
        counts as ``ERRORSTATS_OVERFLOW`` (the table can't grow without bound)."""
        code = error_code(text)
        errors = self.errors
        if custom and code not in errors and len(errors) >= ERRORSTATS_LIMIT:
            code = "ERRORSTATS_OVERFLOW"
        errors[code] = errors.get(code, 0) + 1

    def reset(self) -> None:
        self.commands.clear()
        self.errors.clear()

    def info_commandstats(self) -> list[str]:
        return [
            f"cmdstat_{name}:calls={s.calls},usec={s.usec},"
            f"usec_per_call={s.usec / s.calls if s.calls else 0:.2f},"
            f"rejected_calls={s.rejected},failed_calls={s.failed}"
            for name, s in self.commands.items()
            if s.calls or s.rejected or s.failed
        ]

    def info_errorstats(self) -> list[str]:
        return [f"errorstat_{code}:count={n}" for code, n in sorted(self.errors.items())]

    def info_latencystats(self, percentiles: Iterable[float]) -> list[str]:
        wanted = list(percentiles)
        out = []
        for name, s in self.commands.items():
            if not s.histogram:
                continue
            fields = ",".join(
                f"p{format_percentile(p)}={value_at_percentile(s.histogram, p) / 1000:.3f}"
                for p in wanted
            )
            out.append(f"latency_percentiles_usec_{name}:{fields}")
        return out
