"""Valkey's latency monitor: per-event time series of latency spikes (LATENCY LATEST/HISTORY/
RESET/GRAPH/DOCTOR).

With ``latency-monitor-threshold`` N > 0 ms, an operation that took at least N ms is recorded
under its event name (valsync records ``command``, ``fast-command``, ``expire-cycle`` and
``fork`` as Valkey names them). Each event keeps the last 160 one-second samples: a second
spike in the same second only raises that second's sample. The all-time maximum, and the sum
and count of every spike, survive the ring's wrap-around. The clock is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAMPLES_PER_EVENT = 160
GRAPH_COLUMNS = 80
GRAPH_ROWS = 4


@dataclass
class EventSeries:
    samples: list[tuple[int, int]] = field(default_factory=list)
    """(unix seconds, latency ms), oldest first, at most :data:`SAMPLES_PER_EVENT`."""
    max: int = 0
    sum: int = 0
    count: int = 0

    def add(self, now_s: int, latency_ms: int) -> None:
        self.max = max(self.max, latency_ms)
        self.sum += latency_ms
        self.count += 1
        if self.samples and self.samples[-1][0] == now_s:
            if latency_ms > self.samples[-1][1]:
                self.samples[-1] = (now_s, latency_ms)
            return
        self.samples.append((now_s, latency_ms))
        if len(self.samples) > SAMPLES_PER_EVENT:
            del self.samples[0]


@dataclass(frozen=True)
class EventAnalysis:
    samples: int
    avg: int
    mad: int
    period: int
    all_time_high: int


class LatencyMonitor:
    def __init__(self) -> None:
        self.events: dict[str, EventSeries] = {}

    def add(self, event: str, latency_ms: int, now_s: int) -> None:
        series = self.events.get(event)
        if series is None:
            series = self.events[event] = EventSeries()
        series.add(now_s, latency_ms)

    def reset(self, events: list[str] | None = None) -> int:
        """Forget ``events`` (all when None); returns how many existed."""
        if events is None:
            count = len(self.events)
            self.events.clear()
            return count
        count = 0
        for name in events:
            if self.events.pop(name, None) is not None:
                count += 1
        return count

    def analyze(self, event: str, now_s: int) -> EventAnalysis:
        series = self.events[event]
        values = [lat for _, lat in series.samples]
        if not values:
            return EventAnalysis(0, 0, 0, 0, series.max)
        avg = sum(values) // len(values)
        mad = sum(abs(avg - v) for v in values) // len(values)
        period = now_s - min(t for t, _ in series.samples) or 1
        return EventAnalysis(len(values), avg, mad, period, series.max)

    def graph(self, event: str, now_s: int) -> str:
        series = self.events[event]
        values = [lat for _, lat in series.samples]
        labels = [_age_label(now_s - t) for t, _ in series.samples]
        head = (
            f"{event} - high {max(values, default=0)} ms, low {min(values, default=0)} ms "
            f"(all time high {series.max} ms)\n" + "-" * GRAPH_COLUMNS + "\n"
        )
        return head + render_sparkline(values, labels, GRAPH_COLUMNS, GRAPH_ROWS)


def _age_label(elapsed: int) -> str:
    if elapsed < 60:
        return f"{elapsed}s"
    if elapsed < 3600:
        return f"{elapsed // 60}m"
    if elapsed < 86400:
        return f"{elapsed // 3600}h"
    return f"{elapsed // 86400}d"


_FILL = "_o#"
_LABEL_MARGIN_TOP = 1


def render_sparkline(values: list[int], labels: list[str], columns: int, rows: int) -> str:
    """Valkey's filled ASCII sparkline: ``rows`` rows of ``_o#|`` above vertical labels,
    wrapped every ``columns`` samples."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1
    steps = len(_FILL) * rows
    out: list[str] = []
    for start in range(0, len(values), columns):
        if start:
            out.append("\n")
        chunk = range(start, min(start + columns, len(values)))
        row = 0
        while True:
            more = False
            chars = [" "] * len(chunk)
            for col, i in enumerate(chunk):
                if row < rows:
                    step = min(max(int((values[i] - low) * steps) // span, 0), steps - 1)
                    index = step - (rows - row - 1) * len(_FILL)
                    more = True
                    if 0 <= index < len(_FILL):
                        chars[col] = _FILL[index]
                    elif index >= len(_FILL):
                        chars[col] = "|"
                else:
                    if row - rows < _LABEL_MARGIN_TOP:
                        more = True
                        break
                    at = row - rows - _LABEL_MARGIN_TOP
                    if len(labels[i]) > at:
                        more = True
                        chars[col] = labels[i][at]
            if not more:
                break
            row += 1
            out.append("".join(chars) + "\n")
    return "".join(out)


ADVICE_SLOWLOG_ENABLE = (
    "- There are latency issues with potentially slow commands you are using. Try to enable the "
    "Slow Log Valkey feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the "
    "Slow log is disabled Valkey is not able to log slow commands execution for you.\n"
)
ADVICE_SLOWLOG_TUNING = (
    "- Your current Slow Log configuration only logs events that are slower than your "
    "configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.\n"
)
ADVICE_SLOWLOG_INSPECT = (
    "- Check your Slow Log to understand what are the commands you are running which are too "
    "slow to execute. Please check https://valkey.io/commands/slowlog for more information.\n"
)
ADVICE_SCHEDULER = (
    "- The system is slow to execute Valkey code paths not containing system calls. This "
    "usually means the system does not provide Valkey CPU time to run for long periods. You "
    "should try to:\n"
    "  1) Lower the system load.\n"
    "  2) Use a computer / VM just for Valkey if you are running other software in the same "
    "system.\n"
    '  3) Check if you have a "noisy neighbour" problem.\n'
    "  4) Check with 'valkey-cli --intrinsic-latency 100' what is the intrinsic latency in your "
    "system.\n"
    "  5) Check if the problem is allocator-related by recompiling Valkey with MALLOC=libc, if "
    "you are using Jemalloc. However this may create fragmentation problems.\n"
)
ADVICE_HZ = (
    "- In order to make the Valkey keys expiring process more incremental, try to set the 'hz' "
    "configuration parameter to 100 using 'CONFIG SET hz 100'.\n"
)
ADVICE_LARGE_OBJECTS = (
    "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking "
    "operation. If you have very large objects that are often deleted, expired, or evicted, try "
    "to fragment those objects into multiple smaller objects.\n"
)
ADVICE_BETTER_VM = (
    "- If you are using a virtual machine, consider upgrading it with a faster one using a "
    "hypervisior that provides less latency during fork() calls. Xen is known to have poor "
    "fork() performance. Even in the context of the same VM provider, certain kinds of "
    "instances can execute fork faster than others.\n"
)
ADVICE_THP = (
    "- I detected a non zero amount of anonymous huge pages used by your process. This creates "
    "very serious latency events in different conditions, especially when Valkey is persisting "
    "on disk. To disable THP support use the command 'echo never > "
    "/sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local "
    "so that the command will be executed again after a reboot. Note that even if you have "
    "already disabled THP, you still need to restart the Valkey process to get rid of the huge "
    "pages already created.\n"
)


@dataclass(frozen=True)
class DoctorInputs:
    """The configuration the report's advice depends on."""

    threshold_ms: int
    slowlog_slower_than: int
    slowlog_max_len: int
    hz: int
    fork_rate_gb_s: float = 0.0
    anon_huge_pages: int = 0


def doctor_report(monitor: LatencyMonitor, inputs: DoctorInputs, now_s: int) -> str:
    """LATENCY DOCTOR's text, in Valkey's words, for the events valsync records."""
    if not monitor.events and inputs.threshold_ms == 0:
        return (
            "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Valkey "
            'instance. You may use "CONFIG SET latency-monitor-threshold <milliseconds>." in '
            "order to enable it.\n"
        )
    report = ""
    advice: set[str] = set()
    advices = 0
    for number, event in enumerate(monitor.events, 1):
        if number == 1:
            report += "Latency spikes are observed in this Valkey instance.\n\n"
        a = monitor.analyze(event, now_s)
        period = a.period / a.samples if a.samples else float("nan")
        report += (
            f"{number}. {event}: {a.samples} latency spikes (average {a.avg}ms, mean deviation "
            f"{a.mad}ms, period {period:.2f} sec). Worst all time event {a.all_time_high}ms."
        )
        lowered = event.lower()
        if lowered == "fork":
            rate = inputs.fork_rate_gb_s
            quality = (
                "terrible"
                if rate < 10
                else "poor"
                if rate < 25
                else "good"
                if rate < 100
                else "excellent"
            )
            if rate < 25:
                advice.add("better_vm")
                advices += 1
            report += f" Fork rate is {rate:.2f} GB/sec ({quality})."
        if lowered == "command":
            if inputs.slowlog_slower_than < 0 or inputs.slowlog_max_len == 0:
                advice.add("slowlog_enable")
                advices += 1
            elif inputs.slowlog_slower_than // 1000 > inputs.threshold_ms:
                advice.add("slowlog_tuning")
                advices += 1
            advice.update(("slowlog_inspect", "large_objects"))
            advices += 2
        if lowered == "fast-command":
            advice.add("scheduler")
            advices += 1
        if lowered == "expire-cycle":
            advice.update(("hz", "large_objects"))
            advices += 2
        report += "\n"
    if inputs.anon_huge_pages > 0:
        advice.add("thp")
        advices += 1
    if not monitor.events and advices == 0:
        return report + (
            "No latency spike was observed during the lifetime of this Valkey instance, not in "
            "the slightest bit.\n"
        )
    if monitor.events and advices == 0:
        return report + (
            "\nThere are latency events logged that are not easy to fix. Please get some help "
            "from Valkey community, providing this report in your help request.\n"
        )
    report += "\nHere is some advice for you:\n\n"
    usec = inputs.threshold_ms * 1000
    if "better_vm" in advice:
        report += ADVICE_BETTER_VM
    if "slowlog_enable" in advice:
        report += ADVICE_SLOWLOG_ENABLE.format(usec)
    if "slowlog_tuning" in advice:
        report += ADVICE_SLOWLOG_TUNING.format(usec)
    if "slowlog_inspect" in advice:
        report += ADVICE_SLOWLOG_INSPECT
    if "scheduler" in advice:
        report += ADVICE_SCHEDULER
    if "hz" in advice and inputs.hz < 100:
        report += ADVICE_HZ
    if "large_objects" in advice:
        report += ADVICE_LARGE_OBJECTS
    if "thp" in advice:
        report += ADVICE_THP
    return report


def anon_huge_pages_kb() -> int:
    """AnonHugePages of this process (Valkey advises disabling THP when it is non-zero)."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return 0
