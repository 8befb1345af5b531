"""CONFIG SET fuzzed against a real valkey-server 8.1.8: every directive name with random
strings and numbers; the SET reply and the CONFIG GET that follows must match byte for byte.

The replies this caught (now fixed): C-string semantics (a NUL ends what Valkey's parsers
see, except in sds directives such as requirepass), percent values of maxmemory-clients,
the IP/hostname/human-nodename/locale/proc-title validators, rdma-port/rdma-bind being
settable in 8.1.8 (and refused: no RDMA support), active-defrag-cycle-us's range, negative
values of an unsigned long directive, client-output-buffer-limit seconds and save changes
kept in a C int, percentiles parsed by strtod (hex floats).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.differential import RawClient, example_settings
from tests.realvalkey import start_valkey, start_valsync
from tests.unit.fuzz.inputs import values
from valsync.config import _BY_NAME

# Directives a random value would turn against the test's own connection or environment.
UNSAFE = {
    "requirepass", "maxmemory", "maxmemory-clients", "client-output-buffer-limit", "timeout",
    "maxclients", "proto-max-bulk-len", "client-query-buffer-limit", "appendonly",
    "enable-protected-configs", "bind", "port",
    # differ by how the two servers were started (their own temp dirs, log files)
    "dir", "logfile", "pidfile", "unixsocket",
}  # fmt: skip
# The tls-* directives are left out too: a real 8.1.8 built without TLS crashes (segfault)
# on CONFIG SET tls-port 13106 or tls-replication yes.
NAMES = sorted(name for name in set(_BY_NAME) - UNSAFE if not name.startswith("tls-"))

FOUND = [
    ("active-defrag-cycle-us", b"1316046"),
    ("cluster-announce-client-ipv4", b"1.2.3"),
    ("cluster-announce-client-ipv4", b"1.2.3.4\x00zz"),
    ("cluster-announce-client-ipv6", b"29592"),
    ("cluster-announce-hostname", b"a_b"),
    ("cluster-announce-hostname", b"a" * 300),
    ("cluster-announce-human-nodename", b"a*b"),
    ("cluster-announce-human-nodename", b"\x00 1"),
    ("locale-collate", b"xx_YY"),
    ("locale-collate", b"C"),
    ("proc-title-template", b""),
    ("proc-title-template", b"{title} {nope}"),
    ("proc-title-template", b"{{x {port}"),
    ("rdma-port", b"6379"),
    ("rdma-port", b"0"),
    ("rdma-port", b"70000"),
    ("rdma-bind", b"127.0.0.1"),
    ("tls-ca-cert-dir", b".. \x00 -1"),
    ("appendfsync", b"always\x00q"),
    ("loglevel", b"warning\x00x"),
    ("notify-keyspace-events", b"K\x00E"),
    ("availability-zone", b"z\x00q"),
    ("cluster-blacklist-ttl", b"-42251"),
    ("maxmemory-clients", b"5%"),
    ("maxmemory-clients", b"200%"),
    ("maxmemory-clients", b"x%"),
    ("maxmemory-clients", b"0"),
    ("maxmemory", b"100\x00x"),
    ("maxmemory", b"9" * 128),
    ("maxmemory", b"0"),
    ("hz", b"9" * 5000),
    ("save", b"9" * 30 + b" 1"),
    ("save", b"\x00"),
    ("save", b"5 2147483648"),
    ("save", b"5\x00x 1"),
    ("save", b"3600 1"),
    ("latency-tracking-info-percentiles", b"0x10 1e-310 0x1p-1074"),
    ("latency-tracking-info-percentiles", b"inf"),
    ("latency-tracking-info-percentiles", b"0x1p2000"),
    ("latency-tracking-info-percentiles", b" 5"),
    ("latency-tracking-info-percentiles", b"50 99 99.9"),
    ("oom-score-adj-values", b" 5 +6 7"),
    ("oom-score-adj-values", b"1\x00x 2 3"),
    ("oom-score-adj-values", b"1_0 2 3"),
    ("oom-score-adj-values", b"0 200 800"),
    ("client-output-buffer-limit", b"normal 0 0 4294967297"),
    ("client-output-buffer-limit", b"normal 0 0 2147483648"),
    ("client-output-buffer-limit", b"normal 0 0 0"),
]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[RawClient, RawClient]]:
    with start_valkey("8.1.8") as real, start_valsync("--enable-debug-command", "yes") as ours:
        with RawClient(real.port) as a, RawClient(ours.port) as b:
            yield a, b


def compare(pair: tuple[RawClient, RawClient], name: str, value: bytes) -> None:
    real, ours = pair
    for argv in ((b"CONFIG", b"SET", name.encode(), value), (b"CONFIG", b"GET", name.encode())):
        try:
            reply = ours.call(*argv)
        except ConnectionError as err:
            raise AssertionError(f"valsync closed the connection on {argv!r}") from err
        try:
            expected = real.call(*argv)
        except ConnectionError as err:
            raise AssertionError(f"valkey closed the connection on {argv!r}") from err
        assert reply == expected, argv


def test_found_values_answer_as_valkey(pair: tuple[RawClient, RawClient]) -> None:
    for name, value in FOUND:
        compare(pair, name, value)


@example_settings("VALSYNC_CONFIG_FUZZ_EXAMPLES", 200)
@given(st.sampled_from(NAMES), values)
def test_random_values_answer_as_valkey(
    pair: tuple[RawClient, RawClient], name: str, value: str
) -> None:
    compare(pair, name, value.encode("utf-8", "surrogateescape"))


def test_servers_still_answer(pair: tuple[RawClient, RawClient]) -> None:
    for client in pair:
        assert client.call(b"PING") == b"+PONG\r\n"
