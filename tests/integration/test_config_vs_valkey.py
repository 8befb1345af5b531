"""valsync.config compared live with a real valkey-server 8.1.8: defaults, CONFIG SET errors,
startup errors. One server for the module; startup cases exit before listening (fast)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.realvalkey import ServerProcess, start_valkey, valkey_server_bin
from valsync.config import Config, ConfigError

# start_valkey passes these itself, so their values are not defaults.
SET_BY_HARNESS = {"port", "bind", "save", "dir", "enable-debug-command"}
HIDDEN = ["rdb-key-save-delay", "key-load-delay", "loading-process-events-interval-bytes"]


@pytest.fixture(scope="module")
def valkey() -> Iterator[ServerProcess]:
    with start_valkey("8.1.8") as server:
        yield server


def _client(server: ServerProcess) -> Any:
    return server.client(decode_responses=True)


def test_every_directive_default_matches(valkey: ServerProcess) -> None:
    ours = dict(Config().config_get(["*"]))
    theirs: dict[str, str] = _client(valkey).config_get("*")
    for name, value in ours.items():
        if name in SET_BY_HARNESS:
            continue
        assert name in theirs, f"{name} is not a valkey 8.1.8 directive"
        assert value == theirs[name], name


# Directives whose features are being built in other changes; each lands with its directive.
PENDING_DIRECTIVES = {
    "hll-sparse-max-bytes",
    "stream-node-max-bytes",
    "stream-node-max-entries",
}


def test_every_valkey_directive_exists(valkey: ServerProcess) -> None:
    ours = {name for name, _ in Config().config_get(["*"])}
    theirs = set(_client(valkey).config_get("*"))
    assert theirs - ours <= PENDING_DIRECTIVES, sorted(theirs - ours - PENDING_DIRECTIVES)


def test_hidden_directives_match(valkey: ServerProcess) -> None:
    client = _client(valkey)
    for name in HIDDEN:
        assert Config().config_get([name]) == list(client.config_get(name).items())


def test_patterns_select_the_same_names(valkey: ServerProcess) -> None:
    known = {name for name, _ in Config().config_get(["*"])}
    client = _client(valkey)
    for pattern in ["repl*", "*slave*", "?z", "[lm]a*", "replica-[^r]*"]:
        theirs = set(client.config_get(pattern)) & known
        assert {n for n, _ in Config().config_get([pattern])} == theirs, pattern


BAD_SETS = [
    ["foo", "bar"],
    ["port", "abc"],
    ["port", "99999"],
    ["PORT", "+5"],
    ["daemonize", "yes"],
    ["DAEMONIZE", "yes", "foo", "bar"],
    ["foo", "bar", "daemonize", "yes"],
    ["replicaof", "127.0.0.1 1"],
    ["dir", "/tmp"],
    ["dbfilename", "x.rdb"],
    ["loglevel", "foo"],
    ["repl-diskless-load", "bad"],
    ["rdb-version-check", "x"],
    ["maxmemory", "1.5mb"],
    ["maxmemory", "-1"],
    ["repl-backlog-size", "0"],
    ["repl-timeout", "0"],
    ["maxclients", "0"],
    ["proto-max-bulk-len", "1000"],
    ["slave-read-only", "maybe"],
    ["hz", "100", "hz", "20"],
    ["maxmemory", "1mb", "hz", "abc"],
    ["save", "3600 1 300"],
    ["save", "0 1"],
    ["client-output-buffer-limit", "foo 1 2 3"],
    ["client-output-buffer-limit", "normal 1 2"],
    ["client-output-buffer-limit", "slave 1 2 x"],
    ["shutdown-on-sigterm", "save nosave"],
    ["enable-debug-command", "yes"],
    ["propagation-error-behavior", "x"],
    ["notify-keyspace-events", "Q"],
]


@pytest.mark.parametrize("args", BAD_SETS, ids=lambda a: " ".join(a))
def test_config_set_errors_match(valkey: ServerProcess, args: list[str]) -> None:
    import valkey as valkey_py

    with pytest.raises(valkey_py.ResponseError) as theirs:
        _client(valkey).execute_command("CONFIG", "SET", *args)
    with pytest.raises(ConfigError) as ours:
        Config().config_set(list(zip(args[::2], args[1::2], strict=True)))
    # valkey-py drops the "ERR " prefix of the reply
    assert str(ours.value) == "ERR " + str(theirs.value)


GOOD_SETS = [
    ["maxmemory", "1k"],
    ["maxmemory", "3GB"],
    ["repl-backlog-size", "1k"],
    ["hz", "0"],
    ["hz", "1000"],
    ["save", "3600 1 300 100"],
    ["client-output-buffer-limit", "replica 1mb 2mb 3 normal 1 2 3"],
    ["shutdown-on-sigint", "now save"],
    ["repl-diskless-load", "SWAPDB"],
    ["hash-max-listpack-value", "1kb"],
    ["slave-read-only", "no", "replica-read-only", "yes"],
    ["notify-keyspace-events", "xK$gEn"],
]


@pytest.mark.parametrize("args", GOOD_SETS, ids=lambda a: " ".join(a))
def test_config_set_results_match(valkey: ServerProcess, args: list[str]) -> None:
    client = _client(valkey)
    names = args[::2]
    saved = {n: client.config_get(n)[n] for n in names}
    try:
        client.execute_command("CONFIG", "SET", *args)
        cfg = Config()
        cfg.config_set(list(zip(names, args[1::2], strict=True)))
        for name in names:
            assert cfg.get(name) == client.config_get(name)[name], name
    finally:
        for name, value in saved.items():
            client.config_set(name, value)


BAD_STARTS = [
    ["--foo", "bar"],
    ["--port", "1", "--foo", "bar", "baz"],
    ["--port", "abc"],
    ["--loglevel", "foo"],
    ["--save", "1 2 3"],
    ["--replicaof"],
    ["--replicaof", "127.0.0.1", "x"],
    ["--replicaof", "a", "b", "c"],
    ["--dir", "/nonexistent"],
    ["--foo", 'a"b\\c\x01'],
    ["--port", "--foo"],
]


@pytest.mark.parametrize("argv", BAD_STARTS, ids=lambda a: " ".join(a))
def test_startup_errors_match(argv: list[str]) -> None:
    proc = subprocess.run(
        [valkey_server_bin("8.1.8"), *argv], capture_output=True, timeout=10, check=False
    )
    assert proc.returncode == 1
    with pytest.raises(ConfigError) as ours:
        Config.from_args(argv)
    assert ours.value.stderr_text == proc.stderr.decode()
