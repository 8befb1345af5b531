"""valsync.config against texts captured from a real valkey-server 8.1.8 (no server needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from valsync.config import Config, ConfigError, split_args, stringmatch


def fatal(linenum: int, line: str, reason: str) -> str:
    return (
        "*** FATAL CONFIG FILE ERROR (Version 8.1.8) ***\n"
        f"Reading the configuration file, at line {linenum}\n"
        f">>> '{line}'\n"
        f"{reason}"
    )


def start_error(*argv: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        Config.from_args(list(argv))
    return info.value


def set_error(cfg: Config, *pairs: tuple[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        cfg.config_set(list(pairs))
    return str(info.value)


# --- startup ------------------------------------------------------------------------------


def test_defaults_match_valkey() -> None:
    cfg = Config.from_args([])
    assert cfg.get("port") == "6379"
    assert cfg.get("bind") == "* -::*"
    assert cfg.get("save") == "3600 1 300 100 60 10000"
    assert cfg.get("client-output-buffer-limit") == (
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    )
    assert cfg.get("dir") == os.getcwd()
    assert cfg.get_int("repl-backlog-size") == 10485760
    assert cfg.get("repl-diskless-load") == "disabled"
    assert cfg.get_bool("repl-diskless-sync") is True
    assert cfg.replicaof is None
    assert cfg.client_output_buffer_limit("slave") == (268435456, 67108864, 60)
    assert cfg.config_file is None


def test_unknown_directive_on_command_line() -> None:
    err = start_error("--foo", "bar")
    assert str(err) == fatal(2, 'foo "bar"', "Bad directive or wrong number of arguments")
    assert err.stderr_text == "\n" + str(err) + "\n"
    assert err.reason == "Bad directive or wrong number of arguments"


def test_line_numbers_count_options_after_the_first() -> None:
    err = start_error("--port", "1", "--foo", "bar", "baz")
    assert str(err) == fatal(3, 'foo "bar" "baz"', "Bad directive or wrong number of arguments")


def test_error_in_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "t.conf"
    conf.write_text('port 7000\n# comment\n\nfoo "a b"\n')
    err = start_error(str(conf), "--port", "5")
    assert str(err) == fatal(4, 'foo "a b"', "Bad directive or wrong number of arguments")


def test_unbalanced_quotes(tmp_path: Path) -> None:
    conf = tmp_path / "u.conf"
    conf.write_text('port 16400\nfoo "unbalanced\n')
    err = start_error(str(conf))
    assert str(err) == fatal(2, 'foo "unbalanced', "Unbalanced quotes in configuration line")


def test_missing_config_file_is_a_log_line(tmp_path: Path) -> None:
    err = start_error(str(tmp_path / "nope.conf"))
    assert err.log_line
    assert str(err) == (
        f"Fatal error, can't open config file '{tmp_path / 'nope.conf'}': No such file or directory"
    )


@pytest.mark.parametrize(
    ("argv", "line", "reason"),
    [
        (["--port", "abc"], 'port "abc"', "argument couldn't be parsed into an integer"),
        (["--port", "70000"], 'port "70000"', "argument must be between 0 and 65535 inclusive"),
        (
            ["--loglevel", "foo"],
            'loglevel "foo"',
            "argument(s) must be one of the following: debug, verbose, notice, warning, nothing",
        ),
        (["--save", "1 2 3"], 'save "1 2 3"', "Invalid save parameters"),
        (["--daemonize", "maybe"], 'daemonize "maybe"', "argument must be 'yes' or 'no'"),
        (["--replicaof"], "replicaof", "wrong number of arguments"),
        (["--port"], "port", "wrong number of arguments"),
        (["--replicaof", "127.0.0.1", "x"], 'replicaof "127.0.0.1" "x"', "Invalid primary port"),
        (["--replicaof", "a", "b", "c"], 'replicaof "a" "b" "c"', "wrong number of arguments"),
        (["--dir", "/nonexistent"], 'dir "/nonexistent"', "No such file or directory"),
    ],
)
def test_startup_value_errors(argv: list[str], line: str, reason: str) -> None:
    assert str(start_error(*argv)) == fatal(2, line, reason)


def test_values_are_echoed_like_sdscatrepr() -> None:
    err = start_error("--foo", 'a"b\\c\n\x01é')
    assert str(err) == fatal(
        2, 'foo "a\\"b\\\\c\\n\\x01\\xc3\\xa9"', "Bad directive or wrong number of arguments"
    )


def test_replicaof_forms() -> None:
    assert Config.from_args(["--replicaof", "127.0.0.1", "6390"]).replicaof == ("127.0.0.1", 6390)
    assert Config.from_args(["--replicaof", "127.0.0.1 6391"]).replicaof == ("127.0.0.1", 6391)
    assert Config.from_args(["--slaveof", "h", "1"]).get("slaveof") == "h 1"
    assert Config.from_args(["--slaveof", "no", "one"]).replicaof is None
    assert Config.from_args(["--replicaof", "NO ONE"]).get("replicaof") == ""


def test_config_file_quotes_multi_value_and_units(tmp_path: Path) -> None:
    conf = tmp_path / "v.conf"
    conf.write_text(
        "# a comment\n"
        "  port 7001  \r\n"
        "requirepass 'it''s'\n"  # not a valid closing quote: rejected below
    )
    err = start_error(str(conf))
    assert str(err) == fatal(3, "requirepass 'it''s'", "Unbalanced quotes in configuration line")
    conf.write_text(
        "port 7001\n"
        'requirepass "p w\\x41\\n"\n'
        "masteruser 'o\\'k'\n"
        "replicaof 10.0.0.1 6380\n"
        "save 3600 1\n"
        'save "300 100"\n'
        "client-output-buffer-limit replica 1mb 512kb 10\n"
        "client-output-buffer-limit pubsub 1g 1k 0 normal 1 2 3\n"
        "maxmemory 2GB\n"
        "hash-max-ziplist-value 1kb\n"
        "list-max-ziplist-entries 5\n"
        "slave-read-only no\n"
    )
    cfg = Config.from_args([str(conf), "--port", "7002"])
    assert cfg.config_file == str(conf)
    assert cfg.get_int("port") == 7002  # options come after the file
    assert cfg.get_str("requirepass") == "p wA\n"
    assert cfg.get("primaryuser") == "o'k"
    assert cfg.replicaof == ("10.0.0.1", 6380)
    assert cfg.save_points == [(3600, 1), (300, 100)]
    assert cfg.client_output_buffer_limit("replica") == (1048576, 512 * 1024, 10)
    assert cfg.client_output_buffer_limit("pubsub") == (1000000000, 1000, 0)
    assert cfg.client_output_buffer_limit("normal") == (1, 2, 3)
    assert cfg.get_int("maxmemory") == 2 * 1024**3
    assert cfg.get_int("hash-max-listpack-value") == 1024
    assert cfg.get_bool("replica-read-only") is False


def test_save_lines_accumulate_and_empty_resets(tmp_path: Path) -> None:
    conf = tmp_path / "s.conf"
    conf.write_text("save 10 1\n")
    assert Config.from_args([str(conf), "--save", "20", "2"]).get("save") == "10 1 20 2"
    assert Config.from_args(["--save", "10", "1", "--save", "20", "2"]).get("save") == "10 1 20 2"
    assert Config.from_args(["--save", "10 1 20 2"]).get("save") == "10 1 20 2"
    assert Config.from_args(["--save", ""]).save_points == []
    assert Config.from_args(["--save", "--port", "7"]).save_points == []  # pre-7.0 form
    assert Config.from_args(["--port", "7", "--save"]).save_points == []


def test_memory_units() -> None:
    cfg = Config.from_args(["--maxmemory", "1k", "--repl-backlog-size", "64kb"])
    assert cfg.get_int("maxmemory") == 1000
    assert cfg.get_int("repl-backlog-size") == 65536
    for text, value in [("1m", 10**6), ("1MB", 2**20), ("3g", 3 * 10**9), ("1Gb", 2**30)]:
        cfg.config_set([("maxmemory", text)])
        assert cfg.get_int("maxmemory") == value
        assert cfg.get("maxmemory") == str(value)


def test_hz_is_clamped_at_startup() -> None:
    assert Config.from_args(["--hz", "100000"]).get("hz") == "500"
    assert Config.from_args(["--hz", "0"]).get("hz") == "1"


def test_startup_backlog_is_not_clamped_but_config_set_is() -> None:
    cfg = Config.from_args(["--repl-backlog-size", "1k"])
    assert cfg.get("repl-backlog-size") == "1000"  # 8.1.8 shows it so until resized
    cfg.config_set([("port", "7000")])
    assert cfg.get("repl-backlog-size") == "1000"
    cfg.config_set([("repl-backlog-size", "1k")])
    assert cfg.get("repl-backlog-size") == "16384"


def test_deprecated_lines_are_ignored_and_include_works(tmp_path: Path) -> None:
    (tmp_path / "extra.conf").write_text("port 7100\n")
    conf = tmp_path / "main.conf"
    conf.write_text("list-max-ziplist-value 64\ninclude extra.conf\n")
    assert Config.from_args([str(conf)]).get("port") == "7100"


def test_logfile_must_be_openable(tmp_path: Path) -> None:
    err = start_error("--dir", str(tmp_path), "--logfile", "missing/x.log")
    assert str(err) == (
        "*** FATAL CONFIG FILE ERROR (Version 8.1.8) ***\n"
        "Can't open the log file: No such file or directory"
    )
    cfg = Config.from_args(["--dir", str(tmp_path), "--logfile", "v.log"])
    assert cfg.logfile_path == str(tmp_path / "v.log")


def test_dir_is_absolute_and_relative_to_previous_dir(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    cfg = Config.from_args(["--dir", str(tmp_path), "--dir", "data", "--dbfilename", "x.rdb"])
    assert cfg.get("dir") == str(tmp_path.resolve() / "data")
    assert cfg.rdb_path == str(tmp_path.resolve() / "data" / "x.rdb")


def test_unsupported_features_are_refused_clearly() -> None:
    assert str(start_error("--appendonly", "yes")) == fatal(
        2, 'appendonly "yes"', "appendonly yes is not supported by valsync"
    )
    assert (
        start_error("--cluster-enabled", "yes").reason == "cluster mode is not supported by valsync"
    )
    assert Config.from_args(["--daemonize", "yes"]).get_bool("daemonize") is True


def test_embedded_default_conf_loads() -> None:
    path = Path(__file__).parents[2] / "valsync" / "default.conf"
    cwd = os.getcwd()
    os.chdir(path.parents[1])
    try:
        os.makedirs("data", exist_ok=True)
        cfg = Config.from_args([str(path)])
    finally:
        os.chdir(cwd)
    assert cfg.get("port") == "6379"
    assert cfg.get("bind") == "127.0.0.1"
    assert cfg.get("dir").endswith("/data")


# --- CONFIG GET -----------------------------------------------------------------------------


def test_config_get_exact_names_keep_the_asked_case() -> None:
    cfg = Config()
    assert cfg.config_get(["PORT"]) == [("PORT", "6379")]
    assert cfg.config_get(["port", "port"]) == [("port", "6379")]
    assert cfg.config_get(["nosuch"]) == []


def test_config_get_patterns_include_aliases_and_skip_hidden() -> None:
    cfg = Config()
    names = dict(cfg.config_get(["*"]))
    assert names["slaveof"] == names["replicaof"] == ""
    assert names["slave-read-only"] == "yes"
    assert names["min-slaves-max-lag"] == "10"
    assert names["masterauth"] == ""
    assert names["hash-max-ziplist-entries"] == "512"
    assert names["lua-time-limit"] == "5000"
    assert "rdb-key-save-delay" not in names
    assert cfg.config_get(["rdb-key-save-delay"]) == [("rdb-key-save-delay", "0")]
    assert cfg.config_get(["loading-process-events-interval-bytes"]) == [
        ("loading-process-events-interval-bytes", "2097152")
    ]
    got = {k for k, _ in cfg.config_get(["repl*", "port", "slave*", "PORT*"])}
    assert {"repl-backlog-size", "replicaof", "slaveof", "port", "slave-priority"} <= got
    assert len(got) == len(cfg.config_get(["repl*", "port", "slave*", "PORT*"]))


def test_stringmatch() -> None:
    assert stringmatch("repl-*-size", "repl-backlog-size")
    assert stringmatch("h?", "hz")
    assert stringmatch("[hp]z", "hz")
    assert stringmatch("[^p]z", "hz")
    assert not stringmatch("[^h]z", "hz")
    assert stringmatch("[a-i]z", "HZ")
    assert stringmatch("a\\*", "a*")
    assert not stringmatch("a\\*", "ab")


def test_split_args() -> None:
    assert split_args('a "b c" \'d e\' f"g"') == ["a", "b c", "d e", "fg"]
    assert split_args('"b"c') is None  # a closing quote must be followed by a space
    assert split_args("a \"b c\" 'd e'") == ["a", "b c", "d e"]
    assert split_args('"\\x41\\t\\q"') == ["A\tq"]
    assert split_args("   ") == []
    assert split_args('"open') is None


# --- CONFIG SET -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("foo", "bar")], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        ([("Foo", "bar")], "ERR Unknown option or number of arguments for CONFIG SET - 'Foo'"),
        (
            [("port", "abc")],
            "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed into an integer",
        ),
        (
            [("PORT", "abc")],
            "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed into an integer",
        ),
        (
            [("port", "99999")],
            "ERR CONFIG SET failed (possibly related to argument 'port') - argument must be between 0 and 65535 inclusive",
        ),
        (
            [("port", "05")],
            "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed into an integer",
        ),
        (
            [("daemonize", "yes")],
            "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config",
        ),
        (
            [("DAEMONIZE", "yes")],
            "ERR CONFIG SET failed (possibly related to argument 'DAEMONIZE') - can't set immutable config",
        ),
        (
            [("daemonize", "yes"), ("foo", "bar")],
            "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config",
        ),
        (
            [("foo", "bar"), ("daemonize", "yes")],
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'",
        ),
        (
            [("replicaof", "127.0.0.1 1")],
            "ERR CONFIG SET failed (possibly related to argument 'replicaof') - can't set immutable config",
        ),
        (
            [("slaveof", "x")],
            "ERR CONFIG SET failed (possibly related to argument 'slaveof') - can't set immutable config",
        ),
        (
            [("dir", "/tmp")],
            "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config",
        ),
        (
            [("dbfilename", "a/b")],
            "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config",
        ),
        (
            [("loglevel", "foo")],
            "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning, nothing",
        ),
        (
            [("repl-diskless-load", "bad")],
            "ERR CONFIG SET failed (possibly related to argument 'repl-diskless-load') - argument(s) must be one of the following: disabled, on-empty-db, swapdb, flush-before-load",
        ),
        (
            [("rdb-version-check", "foo")],
            "ERR CONFIG SET failed (possibly related to argument 'rdb-version-check') - argument(s) must be one of the following: strict, relaxed",
        ),
        (
            [("propagation-error-behavior", "x")],
            "ERR CONFIG SET failed (possibly related to argument 'propagation-error-behavior') - argument(s) must be one of the following: ignore, panic, panic-on-replicas",
        ),
        (
            [("maxmemory-policy", "foo")],
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
        ),
        (
            [("shutdown-on-sigterm", "foo")],
            "ERR CONFIG SET failed (possibly related to argument 'shutdown-on-sigterm') - argument(s) must be one of the following: default, save, nosave, now, force",
        ),
        (
            [("shutdown-on-sigterm", "save nosave")],
            "ERR CONFIG SET failed (possibly related to argument 'shutdown-on-sigterm') - shutdown options SAVE and NOSAVE can't be used simultaneously",
        ),
        (
            [("maxmemory", "1x")],
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
        ),
        (
            [("maxmemory", "1.5mb")],
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
        ),
        (
            [("maxmemory", "-1")],
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
        ),
        (
            [("repl-backlog-size", "-5")],
            "ERR CONFIG SET failed (possibly related to argument 'repl-backlog-size') - argument must be a memory value",
        ),
        (
            [("repl-backlog-size", "0")],
            "ERR CONFIG SET failed (possibly related to argument 'repl-backlog-size') - argument must be between 1 and 9223372036854775807 inclusive",
        ),
        (
            [("repl-timeout", "0")],
            "ERR CONFIG SET failed (possibly related to argument 'repl-timeout') - argument must be between 1 and 2147483647 inclusive",
        ),
        (
            [("timeout", "-1")],
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive",
        ),
        (
            [("maxclients", "0")],
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive",
        ),
        (
            [("proto-max-bulk-len", "1000")],
            "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive",
        ),
        (
            [("client-query-buffer-limit", "1kb")],
            "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be between 1048576 and 9223372036854775807 inclusive",
        ),
        (
            [("loading-process-events-interval-bytes", "10")],
            "ERR CONFIG SET failed (possibly related to argument 'loading-process-events-interval-bytes') - argument must be between 1024 and 2147483647 inclusive",
        ),
        (
            [("tcp-keepalive", "1.5")],
            "ERR CONFIG SET failed (possibly related to argument 'tcp-keepalive') - argument couldn't be parsed into an integer",
        ),
        (
            [("protected-mode", "maybe")],
            "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'",
        ),
        (
            [("slave-read-only", "maybe")],
            "ERR CONFIG SET failed (possibly related to argument 'slave-read-only') - argument must be 'yes' or 'no'",
        ),
        (
            [("SLAVE-read-only", "maybe")],
            "ERR CONFIG SET failed (possibly related to argument 'slave-read-only') - argument must be 'yes' or 'no'",
        ),
        (
            [("hz", "100"), ("hz", "20")],
            "ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter",
        ),
        (
            [("save", "3600 1 300")],
            "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters",
        ),
        (
            [("save", "0 1")],
            "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters",
        ),
        (
            [("save", "1 -1")],
            "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters",
        ),
        (
            [("client-output-buffer-limit", "foo 1 2 3")],
            "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration.",
        ),
        (
            [("client-output-buffer-limit", "master 1 1 1")],
            "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration.",
        ),
        (
            [("client-output-buffer-limit", "normal 1 2")],
            "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration.",
        ),
        (
            [("client-output-buffer-limit", "replica 256mb 64mb 60 pubsub 32mb 8mb x")],
            "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting in buffer limit configuration.",
        ),
        (
            [("enable-debug-command", "yes")],
            "ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable config",
        ),
        (
            [("cluster-enabled", "yes")],
            "ERR CONFIG SET failed (possibly related to argument 'cluster-enabled') - can't set immutable config",
        ),
        (
            [("appendonly", "maybe")],
            "ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'",
        ),
    ],
)
def test_config_set_errors_match_valkey(pairs: list[tuple[str, str]], expected: str) -> None:
    assert set_error(Config(), *pairs) == expected


def test_config_set_is_atomic() -> None:
    cfg = Config()
    before = cfg.config_get(["*"])
    err = set_error(cfg, ("maxmemory", "1mb"), ("timeout", "30"), ("hz", "abc"), ("port", "1"))
    assert err.endswith("'hz') - argument couldn't be parsed into an integer")
    assert cfg.config_get(["*"]) == before


def test_config_set_applies_and_formats() -> None:
    cfg = Config()
    cfg.config_set(
        [
            ("maxmemory", "1mb"),
            ("save", "3600 1 300 100"),
            ("client-output-buffer-limit", "slave 1mb 2mb 3"),
            ("shutdown-on-sigint", "now save"),
            ("latency-tracking", "YES"),
            ("repl-diskless-load", "SWAPDB"),
            ("bind", "127.0.0.1 ::1"),
        ]
    )
    assert cfg.get_int("maxmemory") == 1048576
    assert cfg.save_points == [(3600, 1), (300, 100)]
    assert cfg.get("client-output-buffer-limit") == (
        "normal 0 0 0 slave 1048576 2097152 3 pubsub 33554432 8388608 60"
    )
    assert cfg.get("shutdown-on-sigint") == "save now"
    assert cfg.get("latency-tracking") == "yes"
    assert cfg.get("repl-diskless-load") == "swapdb"
    assert cfg.get("bind") == "127.0.0.1 ::1"
    cfg.config_set([("save", ""), ("hz", "0"), ("shutdown-on-sigint", "default")])
    assert cfg.save_points == []
    assert cfg.get("hz") == "1"
    assert cfg.get("shutdown-on-sigint") == "default"
    cfg.config_set([("hz", "1000")])
    assert cfg.get("hz") == "500"


def test_alias_and_name_in_one_set_are_not_duplicates() -> None:
    cfg = Config()
    cfg.config_set([("slave-read-only", "no"), ("replica-read-only", "yes")])
    assert cfg.get_bool("replica-read-only") is True


def test_protected_configs_follow_enable_protected_configs(tmp_path: Path) -> None:
    cfg = Config.from_args(["--enable-protected-configs", "local"])
    assert "protected" in set_error(cfg, ("dir", str(tmp_path)))
    cfg.config_set([("dir", str(tmp_path))], client_is_local=True)
    assert cfg.get("dir") == str(tmp_path.resolve())
    cfg = Config.from_args(["--enable-protected-configs", "yes"])
    assert set_error(cfg, ("dir", "")) == (
        "ERR CONFIG SET failed (possibly related to argument 'dir') - dir can't be empty"
    )
    assert set_error(cfg, ("dbfilename", "a/b")) == (
        "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - "
        "dbfilename can't be a path, just a filename"
    )


def test_listeners_run_after_a_change_only() -> None:
    cfg = Config()
    seen: list[tuple[str, str]] = []
    cfg.on_change("slave-read-only", lambda v: seen.append(("ro", v)))
    cfg.on_change("maxmemory", lambda v: seen.append(("mm", cfg.get("maxmemory"))))
    cfg.config_set([("replica-read-only", "no"), ("maxmemory", "1kb")])
    assert seen == [("ro", "no"), ("mm", "1024")]
    cfg.config_set([("replica-read-only", "no")])  # unchanged: no call
    assert len(seen) == 2


def test_failing_listener_rolls_back() -> None:
    cfg = Config()
    calls: list[str] = []

    def bind_listener(value: str) -> None:
        calls.append(value)
        raise ConfigError("Failed to bind to specified addresses.")

    cfg.on_change("port", calls.append)
    cfg.on_change("bind", bind_listener)
    err = set_error(cfg, ("port", "7000"), ("bind", "1.2.3.4"))
    assert err == (
        "ERR CONFIG SET failed (possibly related to argument 'bind') - "
        "Failed to bind to specified addresses."
    )
    assert cfg.get("port") == "6379"
    assert cfg.get("bind") == "* -::*"
    assert calls == ["7000", "1.2.3.4", "6379"]  # the port listener saw the undo


def test_set_replicaof_and_protected_action() -> None:
    cfg = Config.from_args(["--enable-debug-command", "local"])
    cfg.set_replicaof(("h", 5))
    assert cfg.get("replicaof") == cfg.get("slaveof") == "h 5"
    cfg.set_replicaof(None)
    assert cfg.replicaof is None
    assert cfg.protected_action_allowed("enable-debug-command", client_is_local=True)
    assert not cfg.protected_action_allowed("enable-debug-command", client_is_local=False)


def test_typed_getters_refuse_wrong_types() -> None:
    cfg = Config()
    with pytest.raises(TypeError):
        cfg.get_int("daemonize")
    with pytest.raises(TypeError):
        cfg.get_bool("port")
    with pytest.raises(KeyError):
        cfg.get("nosuch")


def test_rewrite_text_round_trips(tmp_path: Path) -> None:
    cfg = Config.from_args(["--port", "7003", "--save", "", "--requirepass", "a b"])
    cfg.config_set([("client-output-buffer-limit", "replica 1mb 1mb 1")])
    conf = tmp_path / "r.conf"
    conf.write_text(cfg.rewrite_text("", None))
    again = Config.from_args([str(conf)])
    assert again.config_get(["*"]) == cfg.config_get(["*"])


# Valkey's own tests/assets/default.conf (its test suite starts every server with it).
VALKEY_TEST_SUITE_CONF = """# Server configuration for testing.

always-show-logo yes
notify-keyspace-events KEA
daemonize no
pidfile /var/run/valkey.pid
port 6379
timeout 0
bind 127.0.0.1
loglevel verbose
logfile ''
databases 16
latency-monitor-threshold 1
repl-diskless-sync-delay 0

# Turn off RDB by default (to speedup tests)
# Note the infrastructure in server.tcl uses a dict, we can't provide several save directives
save ''

rdbcompression yes
dbfilename dump.rdb
dir ./

slave-serve-stale-data yes
appendonly no
appendfsync everysec
no-appendfsync-on-rewrite no
activerehashing yes

enable-protected-configs yes
enable-debug-command yes
enable-module-command yes

propagation-error-behavior panic

# Make sure shutdown doesn't fail if there's an initial AOFRW
shutdown-on-sigterm force

enable-debug-assert yes

hide-user-data-from-log no
"""


def test_valkey_test_suite_default_conf_loads(tmp_path: Path) -> None:
    conf = tmp_path / "default.conf"
    conf.write_text(VALKEY_TEST_SUITE_CONF)
    cfg = Config.from_args([str(conf), "--port", "21111"])
    assert cfg.get("notify-keyspace-events") == "AKE"
    assert cfg.get("loglevel") == "verbose"
    assert cfg.save_points == []
    assert cfg.get("propagation-error-behavior") == "panic"
    assert cfg.get("shutdown-on-sigterm") == "force"
    assert cfg.protected_action_allowed("enable-protected-configs", client_is_local=False)
    assert cfg.config_get(["enable-debug-assert"]) == [("enable-debug-assert", "yes")]


@pytest.mark.parametrize(
    ("classes", "shown"),
    [("KEA", "AKE"), ("Kx", "xK"), ("xK$gAn", "AK"), ("Exn", "xnE"), ("", ""), ("A", "A")],
)
def test_notify_keyspace_events_canonical_text(classes: str, shown: str) -> None:
    cfg = Config()
    cfg.config_set([("notify-keyspace-events", classes)])
    assert cfg.get("notify-keyspace-events") == shown


def test_notify_keyspace_events_bad_class() -> None:
    assert set_error(Config(), ("notify-keyspace-events", "Q")) == (
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    )


def test_dash_reads_config_lines_from_stdin(tmp_path: Path) -> None:
    conf = tmp_path / "f.conf"
    conf.write_text("port 7200\n")
    # Like Valkey, "-" counts only as the first or the last argument; stdin comes after the file.
    cfg = Config.from_args([str(conf), "--hz", "20", "-"], stdin=["port 7201\n", "hz 5\n"])
    assert (cfg.get("port"), cfg.get("hz")) == ("7201", "20")
    cfg = Config.from_args(["-"], stdin=["timeout 9\n"])
    assert cfg.get_int("timeout") == 9


def test_no_directive_name_is_defined_twice() -> None:
    from valsync.config import _SPECS

    names = [name for directive in _SPECS for name in directive.names]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
