"""Counters INFO stats reports, with Valkey's field names; CONFIG RESETSTAT zeroes them.

The ``instantaneous_*`` fields are Valkey's ``trackInstantaneousMetric``: every 100 ms the
server cron takes the rate of a counter since the previous sample (per second, integer
division as in C) into a ring of :data:`METRIC_SAMPLES`; INFO shows the mean of the ring.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

METRIC_SAMPLES = 16


class InstantaneousMetric:
    """One counter's recent rate, sampled by the cron (``server.inst_metric[i]``)."""

    __slots__ = ("samples", "idx", "last_base", "last_value")

    def __init__(self) -> None:
        self.samples = [0] * METRIC_SAMPLES
        self.idx = 0
        self.last_base = 0
        self.last_value = 0

    def track(self, value: int, now_us: int, factor: int = 1_000_000) -> None:
        """Record ``value`` (the counter now) at ``now_us`` (a monotonic clock, microseconds;
        or another growing base, such as a count of cycles with ``factor`` 1)."""
        if self.last_base > 0:
            elapsed = now_us - self.last_base
            self.samples[self.idx] = (
                (value - self.last_value) * factor // elapsed if elapsed > 0 else 0
            )
            self.idx = (self.idx + 1) % METRIC_SAMPLES
        self.last_base = now_us
        self.last_value = value

    def value(self) -> int:
        """The mean of the samples (``getInstantaneousMetric``)."""
        return sum(self.samples) // METRIC_SAMPLES


@dataclass
class InstantaneousMetrics:
    """The rates INFO stats shows: commands, network in/out, replication in/out."""

    ops: InstantaneousMetric = field(default_factory=InstantaneousMetric)
    net_input: InstantaneousMetric = field(default_factory=InstantaneousMetric)
    net_output: InstantaneousMetric = field(default_factory=InstantaneousMetric)
    net_repl_input: InstantaneousMetric = field(default_factory=InstantaneousMetric)
    net_repl_output: InstantaneousMetric = field(default_factory=InstantaneousMetric)
    el_cycles: InstantaneousMetric = field(default_factory=InstantaneousMetric)
    el_duration: InstantaneousMetric = field(default_factory=InstantaneousMetric)


@dataclass
class Stats:
    total_connections_received: int = 0
    total_commands_processed: int = 0
    total_net_input_bytes: int = 0
    total_net_output_bytes: int = 0
    total_net_repl_input_bytes: int = 0
    total_net_repl_output_bytes: int = 0
    rejected_connections: int = 0
    sync_full: int = 0
    sync_partial_ok: int = 0
    sync_partial_err: int = 0
    expired_keys: int = 0
    expired_stale_perc: float = 0.0
    evicted_keys: int = 0
    evicted_clients: int = 0
    lazyfreed_objects: int = 0
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    total_forks: int = 0
    client_output_buffer_limit_disconnections: int = 0
    client_query_buffer_limit_disconnections: int = 0
    total_error_replies: int = 0
    unexpected_error_replies: int = 0
    total_reads_processed: int = 0
    total_writes_processed: int = 0
    eventloop_cycles: int = 0
    eventloop_duration_sum: int = 0
    eventloop_duration_cmd_sum: int = 0
    eventloop_duration_cron_sum: int = 0
    eventloop_duration_max: int = 0
    eventloop_cmd_per_cycle_max: int = 0
    instantaneous: InstantaneousMetrics = field(default_factory=InstantaneousMetrics)

    def reset(self) -> None:
        for f in fields(self):
            if f.name == "instantaneous":
                self.instantaneous = InstantaneousMetrics()
            else:
                setattr(self, f.name, f.default)

    def record_cycle(self, usec: int, commands: int = 0, cron: bool = False) -> None:
        """One turn of the event loop (Valkey's ``duration_stats``): a client's batch of
        commands (its time counts as command time) or a cron tick."""
        self.eventloop_cycles += 1
        self.eventloop_duration_sum += usec
        if cron:
            self.eventloop_duration_cron_sum += usec
        else:
            self.eventloop_duration_cmd_sum += usec
        if usec > self.eventloop_duration_max:
            self.eventloop_duration_max = usec
        if commands > self.eventloop_cmd_per_cycle_max:
            self.eventloop_cmd_per_cycle_max = commands

    def sample_instantaneous(self, now_us: int) -> None:
        """The server cron's 100 ms sampling, with the counters Valkey adds together."""
        inst = self.instantaneous
        repl_in, repl_out = self.total_net_repl_input_bytes, self.total_net_repl_output_bytes
        inst.ops.track(self.total_commands_processed, now_us)
        inst.net_input.track(self.total_net_input_bytes + repl_in, now_us)
        inst.net_output.track(self.total_net_output_bytes + repl_out, now_us)
        inst.net_repl_input.track(repl_in, now_us)
        inst.net_repl_output.track(repl_out, now_us)
        inst.el_cycles.track(self.eventloop_cycles, now_us)
        inst.el_duration.track(self.eventloop_duration_sum, self.eventloop_cycles, factor=1)

    def instantaneous_fields(self) -> dict[str, str]:
        """INFO's ``instantaneous_*`` values, formatted as Valkey prints them."""
        inst = self.instantaneous
        return {
            "instantaneous_ops_per_sec": str(inst.ops.value()),
            "instantaneous_input_kbps": f"{inst.net_input.value() / 1024:.2f}",
            "instantaneous_output_kbps": f"{inst.net_output.value() / 1024:.2f}",
            "instantaneous_input_repl_kbps": f"{inst.net_repl_input.value() / 1024:.2f}",
            "instantaneous_output_repl_kbps": f"{inst.net_repl_output.value() / 1024:.2f}",
            "instantaneous_eventloop_cycles_per_sec": str(inst.el_cycles.value()),
            "instantaneous_eventloop_duration_usec": str(inst.el_duration.value()),
        }
