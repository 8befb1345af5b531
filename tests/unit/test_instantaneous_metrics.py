"""INFO's ``instantaneous_*`` rates, computed like Valkey's trackInstantaneousMetric."""

from __future__ import annotations

from valsync.stats import METRIC_SAMPLES, InstantaneousMetric, Stats


def test_first_sample_only_sets_the_base() -> None:
    metric = InstantaneousMetric()
    metric.track(5000, 1_000_000)
    assert metric.value() == 0


def test_rate_is_the_mean_of_sixteen_samples_with_integer_division() -> None:
    metric = InstantaneousMetric()
    metric.track(0, 100_000)
    metric.track(1000, 200_000)  # 1000 in 0.1 s: 10000/s in one sample of sixteen
    assert metric.value() == 10000 // METRIC_SAMPLES
    for i in range(2, 2 + METRIC_SAMPLES):
        metric.track(1000 * i, 100_000 * (i + 1))
    assert metric.value() == 10000


def test_ring_forgets_old_samples() -> None:
    metric = InstantaneousMetric()
    metric.track(0, 1)
    for i in range(1, 1 + METRIC_SAMPLES):
        metric.track(333 * i, 1 + 100_000 * i)
    assert metric.value() == 3330
    for i in range(1 + METRIC_SAMPLES, 1 + 2 * METRIC_SAMPLES):
        metric.track(333 * METRIC_SAMPLES, 1 + 100_000 * i)
    assert metric.value() == 0


def test_stats_fields_and_reset() -> None:
    stats = Stats()
    stats.sample_instantaneous(1_000_000)
    stats.total_commands_processed = 160
    stats.total_net_input_bytes = 1024 * 16
    stats.total_net_repl_input_bytes = 1024 * 16
    stats.total_net_repl_output_bytes = 2048 * 16
    stats.sample_instantaneous(2_000_000)
    assert stats.instantaneous_fields() == {
        "instantaneous_ops_per_sec": "10",
        "instantaneous_input_kbps": "2.00",  # client and replication input together
        "instantaneous_output_kbps": "2.00",
        "instantaneous_input_repl_kbps": "1.00",
        "instantaneous_output_repl_kbps": "2.00",
        "instantaneous_eventloop_cycles_per_sec": "0",
        "instantaneous_eventloop_duration_usec": "0",
    }
    stats.reset()
    assert stats.instantaneous_fields()["instantaneous_ops_per_sec"] == "0"
    assert stats.total_commands_processed == 0
