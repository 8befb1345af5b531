"""Sans-IO pieces of the introspection commands: HdrHistogram quantization, command log
trimming, MONITOR quoting and redaction, the latency monitor's series, sparkline and doctor.

Expected numbers are the ones real valkey 8.1.8 printed for the same durations (INFO
latencystats ``p50=1.003`` for 1 us, ``2.007`` for 2 us, ``21.119`` for 21 us; LATENCY
HISTOGRAM bucket ``135266`` for a 200 ms DEBUG SLEEP; LATENCY GRAPH for one 200 ms sample).
"""

from __future__ import annotations

import time

from valsync.cmdstats import (
    CommandStats,
    cumulative_distribution,
    error_code,
    highest_equivalent,
    value_at_percentile,
)
from valsync.commandlog import CommandLog, trim_argv
from valsync.latency import DoctorInputs, LatencyMonitor, doctor_report, render_sparkline
from valsync.monitor import monitor_line, quote, redact


def test_histogram_quantization_matches_valkey() -> None:
    assert highest_equivalent(1000) == 1003
    assert highest_equivalent(2000) == 2007
    assert highest_equivalent(21000) == 21119
    assert highest_equivalent(1) == 1
    for usec, shown in ((0, 0.001), (1, 1.003), (2, 2.007), (21, 21.119), (38, 38.143)):
        assert round(value_at_percentile({usec: 1}, 50.0) / 1000, 3) == shown


def test_percentiles_pick_the_rank() -> None:
    histogram = {1: 98, 8: 1, 50: 1}
    assert value_at_percentile(histogram, 50.0) == 1003
    assert value_at_percentile(histogram, 99.0) == highest_equivalent(8000)
    assert value_at_percentile(histogram, 99.9) == highest_equivalent(50000)
    assert value_at_percentile(histogram, 0.0) == 1000


def test_cumulative_distribution_buckets() -> None:
    assert cumulative_distribution({2: 1, 8: 1}) == [(2, 1), (8, 2)]
    assert cumulative_distribution({0: 3, 1: 1}) == [(1, 4)]
    assert cumulative_distribution({200_000: 1, 120_000: 1}) == [(135266, 1), (270532, 2)]


def test_error_codes_and_stats_lines() -> None:
    assert error_code("ERR syntax error") == "ERR"
    assert error_code("WRONGTYPE Operation against a key") == "WRONGTYPE"
    assert error_code("x" * 40 + " y") == "ERR"
    stats = CommandStats()
    stats.count_error("ERR x")
    stats.count_error("BUSYKEY y")
    stats.count_error("ERR z")
    assert stats.info_errorstats() == ["errorstat_BUSYKEY:count=1", "errorstat_ERR:count=2"]
    stat = stats.stat("client|list")
    stat.calls, stat.usec, stat.failed = 3, 11, 1
    stats.stat("get").rejected = 2
    assert stats.info_commandstats() == [
        "cmdstat_client|list:calls=3,usec=11,usec_per_call=3.67,rejected_calls=0,failed_calls=1",
        "cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=2,failed_calls=0",
    ]
    stat.histogram[1] = 3
    assert stats.info_latencystats([50.0, 99.9]) == [
        "latency_percentiles_usec_client|list:p50=1.003,p99.9=1.003"
    ]


def test_command_log_trims_like_valkey() -> None:
    argv = [b"rpush", b"l", *[b"%d" % i for i in range(40)]]
    kept = trim_argv(argv)
    assert len(kept) == 32 and kept[-1] == b"... (11 more arguments)" and kept[30] == b"28"
    assert trim_argv([b"set", b"x" * 200]) == (b"set", b"x" * 128 + b"... (72 more bytes)")
    log = CommandLog(max_len=2)
    for i in range(3):
        log.push([b"cmd%d" % i], i, "1.2.3.4:5", b"", 100)
    assert [e.id for e in log.latest(-1)] == [2, 1]
    assert [e.id for e in log.latest(1)] == [2]
    log.reset()
    log.push([b"x"], 0, "", b"", 100)
    assert log.latest(10)[0].id == 3


def test_monitor_line_quoting_and_redaction() -> None:
    assert quote(b"abc") == b'"abc"'
    assert quote(b'b\n"x\\\t\r\x07\x08') == b'"b\\n\\"x\\\\\\t\\r\\a\\b"'
    assert quote(b"\x01\xff ~") == b'"\\x01\\xff ~"'
    line = monitor_line(3, "127.0.0.1:5", [b"set", b"a"], now_us=1795993579062367)
    assert line == b'+1795993579.062367 [3 127.0.0.1:5] "set" "a"\r\n'
    assert redact("auth", [b"auth", b"u", b"p"]) == [b"auth", b"(redacted)", b"(redacted)"]
    assert redact("hello", [b"hello", b"3", b"setname", b"n", b"auth", b"u", b"p"]) == [
        b"hello",
        b"3",
        b"setname",
        b"n",
        b"auth",
        b"(redacted)",
        b"(redacted)",
    ]
    assert redact("config|set", [b"config", b"set", b"maxmemory", b"1", b"requirepass", b"x"])[
        2:
    ] == [b"maxmemory", b"1", b"requirepass", b"(redacted)"]


def test_latency_series_merges_one_second() -> None:
    monitor = LatencyMonitor()
    monitor.add("command", 200, 1000)
    monitor.add("command", 120, 1000)
    monitor.add("command", 150, 1001)
    series = monitor.events["command"]
    assert series.samples == [(1000, 200), (1001, 150)]
    assert (series.max, series.sum, series.count) == (200, 470, 3)
    for t in range(1002, 1200):
        monitor.add("command", 1, t)
    assert len(series.samples) == 160 and series.max == 200
    assert monitor.reset(["nosuch", "command"]) == 1 and monitor.reset() == 0


def test_graph_and_doctor_text() -> None:
    monitor = LatencyMonitor()
    monitor.add("command", 200, 1000)
    assert monitor.graph("command", 1000) == (
        "command - high 200 ms, low 200 ms (all time high 200 ms)\n"
        + "-" * 80
        + "\n \n \n \n_\n \n0\ns\n"
    )
    assert render_sparkline([1, 5, 9], ["1s", "2s", "3s"], 80, 4) == (
        "  #\n _|\n ||\n_||\n   \n123\nsss\n"
    )
    inputs = DoctorInputs(threshold_ms=100, slowlog_slower_than=10000, slowlog_max_len=128, hz=10)
    report = doctor_report(monitor, inputs, 1000)
    assert report.startswith(
        "Latency spikes are observed in this Valkey instance.\n\n1. command: 1 latency spikes "
        "(average 200ms, mean deviation 0ms, period 1.00 sec). Worst all time event 200ms.\n"
        "\nHere is some advice for you:\n\n- Check your Slow Log"
    )
    assert doctor_report(LatencyMonitor(), inputs, 1000).startswith("No latency spike")
    off = DoctorInputs(threshold_ms=0, slowlog_slower_than=10000, slowlog_max_len=128, hz=10)
    assert doctor_report(LatencyMonitor(), off, 1000).startswith("I'm sorry, Dave")


def test_server_latency_samples_follow_the_threshold() -> None:
    from valsync.config import Config
    from valsync.server import Server

    server = Server(Config())
    server.latency_sample("fork", 50_000)
    assert server.latency.events == {}  # latency-monitor-threshold 0: off
    server.config.config_set([("latency-monitor-threshold", "2")])
    server.latency_sample("fork", 1_999)
    server.latency_sample("expire-cycle", 2_500)
    assert list(server.latency.events) == ["expire-cycle"]
    assert server.latency.events["expire-cycle"].max == 2
    inputs = DoctorInputs(threshold_ms=2, slowlog_slower_than=10000, slowlog_max_len=128, hz=10)
    server.latency_sample("fork", 7_000)
    report = doctor_report(server.latency, inputs, int(time.time()))
    assert (
        "2. fork: 1 latency spikes" in report and "Fork rate is 0.00 GB/sec (terrible)." in report
    )
    assert "- If you are using a virtual machine" in report and "'hz' configuration" in report
