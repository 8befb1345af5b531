"""ACL users, valsync process vs real valkey-server 8.1.8, byte for byte in RESP2 and RESP3.

The same ACL SETUSER rules (fixed lists and hypothesis-drawn sequences) must give the same
replies, ACL GETUSER maps and ACL LIST lines; the same users running the same commands must get
the same replies, NOPERM texts included (commands, keys with read/write patterns, channels,
selectors, MULTI, scripts); AUTH/HELLO/requirepass, ACL LOG, ACL CAT, DELUSER and channel
revocation killing connections, CLIENT KILL USER, ``user`` config lines and ACL files.
Only what cannot match is masked: client ids, and the ACL LOG's clocks and client-info.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import RawClient
from tests.realvalkey import ServerProcess, start_valkey, start_valsync
from valsync.commands.command_table import table

EXAMPLES = int(os.environ.get("ACL_EXAMPLES", "60"))
Pair = tuple[ServerProcess, ServerProcess]


@pytest.fixture(scope="module")
def servers() -> Iterator[Pair]:
    real = start_valkey("8.1.8")
    mine = start_valsync()
    try:
        yield real, mine
    finally:
        mine.stop()
        real.stop()


def _mask(reply: bytes) -> bytes:
    """Blank what differs by nature: client ids, ages, clocks and client-info of ACL LOG."""
    reply = re.sub(rb"(\$2\r\nid\r\n:)\d+", rb"\1N", reply)
    reply = re.sub(rb"(age-seconds\r\n)[$,][^\r]*\r\n(?:[^\r]*\r\n)?", rb"\1AGE\r\n", reply)
    reply = re.sub(rb"(client-info\r\n)\$\d+\r\n[^\r]*\r\n", rb"\1INFO\r\n", reply)
    return re.sub(rb"(timestamp-(?:created|last-updated)\r\n):\d+", rb"\1T", reply)


class Both:
    """One connection to each server, in the same protocol."""

    def __init__(self, pair: Pair, resp: int = 2) -> None:
        self.real = RawClient(pair[0].port)
        self.mine = RawClient(pair[1].port)
        if resp == 3:
            self.check("HELLO", "3")

    def check(self, *args: str | bytes) -> bytes:
        real, mine = self.real.call(*args), self.mine.call(*args)
        assert _mask(mine) == _mask(real), (args, real, mine)
        return real

    def close(self) -> None:
        self.real.close()
        self.mine.close()


def _cleanup(pair: Pair) -> None:
    for server in pair:
        with RawClient(server.port) as c:
            users = c.call("ACL", "USERS")
            for name in re.findall(rb"\$\d+\r\n([^\r]*)\r\n", users):
                if name != b"default":
                    c.call("ACL", "DELUSER", name)
            c.call("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
            c.call("CONFIG", "SET", "requirepass", "")
            c.call("ACL", "LOG", "RESET")
            c.call("FLUSHALL")


@pytest.fixture
def pair(servers: Pair) -> Iterator[Pair]:
    yield servers
    _cleanup(servers)


RULES: list[list[str]] = [
    ["on", ">pw", "~k*", "&ch*", "+get", "+set"],
    ["on", ">a", ">b", ">a", "<a", "#" + "0" * 64, "!" + "0" * 64],
    ["-@all", "+@read", "-get", "+client|list", "+select|0", "+select|1", "-select"],
    ["+@all", "-@dangerous", "-config", "+config|get", "-@write", "+set"],
    ["allcommands", "-client|kill", "+client", "-@ALL", "+@Hash", "+CLIENT|LIST"],
    ["nopass", "%R~r*", "%W~w*", "%RW~rw*", "~rw*", "%R~w*", "resetkeys", "%wr~x"],
    ["(~x* +get)", "( +set ~y* )", "clearselectors", "(%R~a &c* -@all +@string)"],
    ["(~x*", "+get", "&z*)", "allchannels", "resetchannels", "&a", "&b", "&a"],
    ["allkeys", "allchannels", "skip-sanitize-payload", "off", "sanitize-payload"],
    ["reset"],
    ["on", "nopass", ">p", "resetpass"],
    ["+@all", "-@all", "+acl", "-acl|setuser", "+debug|object"],
    ["nocommands", "+@pubsub", "+@scripting", "+@connection", "+@transaction"],
    ["+@keyspace", "+@bitmap", "+@hyperloglog", "+@geo", "+@stream", "+@list", "+@set"],
    ["+@sortedset", "+@admin", "+@fast", "-@slow", "+@blocking", "-@dangerous"],
    # refused rules: nothing changes
    ["+nosuchcommand"],
    ["~x", "allkeys", "~y"],
    ["&x", "allchannels", "&y"],
    ["(+get"],
    ["#abc"],
    ["#" + "A" * 64],
    ["<notapassword"],
    ["%X~a"],
    ["%~a"],
    ["+config|get|x"],
    ["+@nosuchcategory"],
    ["-@nosuchcategory"],
    ["foo"],
    ["+client|"],
    ["+client|nosuch"],
    ["-client|nosuch"],
    ["~a b"],
    ["(~x +nosuch)"],
    ["", "on"],
]


@pytest.mark.parametrize("resp", [2, 3])
def test_setuser_rules_and_descriptions(pair: Pair, resp: int) -> None:
    both = Both(pair, resp)
    try:
        for i, rules in enumerate(RULES):
            name = f"u{i}"
            both.check("ACL", "SETUSER", name, *rules)
            both.check("ACL", "GETUSER", name)
            both.check("ACL", "SETUSER", name, *rules)  # applied again on the existing user
            both.check("ACL", "GETUSER", name)
        both.check("ACL", "LIST")
        both.check("ACL", "USERS")
        both.check("ACL", "GETUSER", "nosuchuser")
        both.check("ACL", "GETUSER", "default")
        both.check("ACL", "SETUSER", "a b")
        both.check("ACL", "SETUSER", "a\x00b")
        both.check("ACL", "DELUSER", "default")
        both.check("ACL", "DELUSER", "u0", "u1", "nosuch")
        both.check("ACL", "USERS")
    finally:
        both.close()


OPS = st.sampled_from(
    [
        "on", "off", "nopass", "resetpass", ">a", ">b", "<a", "reset", "allkeys", "resetkeys",
        "~k*", "%R~r*", "%W~w*", "%RW~k*", "allchannels", "resetchannels", "&c*", "&d",
        "allcommands", "nocommands", "+@all", "-@all", "+@read", "-@read", "+@write", "-@write",
        "+@string", "-@hash", "+@admin", "-@dangerous", "+get", "-get", "+set", "-set",
        "+client", "-client", "+client|list", "-client|list", "+config|get", "-config",
        "+select|0", "+select|1", "-select", "+@pubsub", "-@slow", "+@fast", "clearselectors",
        "(~s* +get)", "(&x -@all +@list)", "skip-sanitize-payload", "sanitize-payload",
    ]
)  # fmt: skip


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.lists(OPS, min_size=1, max_size=6), min_size=1, max_size=4))
def test_setuser_sequences_fuzz(servers: Pair, batches: list[list[str]]) -> None:
    both = Both(servers)
    try:
        for ops in batches:
            both.check("ACL", "SETUSER", "fuzz", *ops)
            both.check("ACL", "LIST")
            both.check("ACL", "GETUSER", "fuzz")
    finally:
        both.check("ACL", "DELUSER", "fuzz")
        both.close()


SETUP = [
    "on", ">p", "~k*", "%R~r*", "%W~w*", "&ch*", "-@all", "+get", "+set", "+eval", "+subscribe",
    "+psubscribe", "+publish", "+spublish", "+ssubscribe", "+multi", "+exec", "+acl|whoami",
    "+mget", "+mset", "+lpush", "+rpoplpush", "+select|0", "+ping", "+fcall", "+incr",
    "+sort", "+set", "+copy", "+lmove", "+bitop", "+object|encoding", "(~s* +del +get)",
]  # fmt: skip
AS_USER = [
    ["GET", "k1"], ["GET", "r1"], ["SET", "r1", "v"], ["SET", "w1", "v"], ["GET", "w1"],
    ["GET", "x"], ["MGET", "k1", "x", "k2"], ["MSET", "k1", "v", "r2", "v"],
    ["RPOPLPUSH", "k1", "r1"], ["LMOVE", "r1", "w1", "LEFT", "RIGHT"], ["COPY", "r1", "w1"],
    ["SET", "w1", "v", "GET"], ["INCR", "w1"], ["SORT", "k1", "STORE", "w1"],
    ["BITOP", "AND", "w1", "r1", "k1"], ["OBJECT", "ENCODING", "r1"], ["OBJECT", "FREQ", "k1"],
    ["DEL", "k1"], ["DEL", "s1"], ["GET", "s1"], ["DEL", "s1", "k1"],
    ["SELECT", "0"], ["SELECT", "1"], ["PING"], ["ECHO", "x"], ["ACL", "WHOAMI"],
    ["ACL", "LIST"], ["CLIENT", "NOSUCH"], ["CONFIG", "GET"],
    ["EVAL", "return redis.call('get','x')", "0"],
    ["EVAL", "return redis.call('set','k1','x')", "0"],
    ["EVAL", "return redis.call('del','k1')", "0"],
    ["EVAL", "return redis.pcall('get','x')", "0"],
    ["EVAL", "return redis.acl_check_cmd('get','x')", "0"],
    ["EVAL", "return redis.acl_check_cmd('get','k1')", "0"],
    ["EVAL", "return redis.acl_check_cmd('nosuch')", "0"],
    ["EVAL", "return 1", "1", "x"],
    ["MULTI"], ["GET", "x"], ["DEL", "k"], ["SET", "k1", "1"], ["EXEC"],
    ["MULTI"], ["SET", "k1", "1"], ["GET", "k1"], ["EXEC"],
    ["PUBLISH", "ch1", "m"], ["PUBLISH", "other", "m"], ["SPUBLISH", "other", "m"],
    ["PSUBSCRIBE", "ch*", "c*"], ["SSUBSCRIBE", "other"],
    ["SUBSCRIBE", "ch1", "other"],
]  # fmt: skip


@pytest.mark.parametrize("resp", [2, 3])
def test_restricted_user_commands(pair: Pair, resp: int) -> None:
    admin = Both(pair)
    admin.check("ACL", "SETUSER", "u", *SETUP)
    admin.check("ACL", "SETUSER", "off", "off", ">p", "+@all", "~*")
    both = Both(pair, resp)
    try:
        both.check("AUTH", "u", "bad")
        both.check("AUTH", "off", "p")
        both.check("AUTH", "nosuch", "p")
        both.check("HELLO", str(resp), "AUTH", "u", "bad")
        both.check("HELLO", str(resp), "AUTH", "u", "p")
        for argv in AS_USER:
            both.check(*argv)
        admin.check("ACL", "LOG", "100")
        admin.check("ACL", "LOG", "2")
        admin.check("ACL", "LOG", "-1")
        admin.check("ACL", "LOG", "x")
        admin.check("ACL", "LOG", "RESET")
        admin.check("ACL", "LOG")
        # RESET drops back to the default user
        both.check("RESET")
        both.check("ACL", "WHOAMI")
    finally:
        both.close()
        admin.close()


def test_dryrun(pair: Pair) -> None:
    both = Both(pair)
    try:
        both.check("ACL", "SETUSER", "d", *SETUP)
        for argv in AS_USER[:22]:
            both.check("ACL", "DRYRUN", "d", *argv)
        for argv in (
            ["nosuchuser", "get", "x"],
            ["d", "nosuchcommand"],
            ["d", "get"],
            ["d", "client", "nosuch"],
            ["d", "client", "list"],
            ["d", "publish", "other", "x"],
            ["d", "subscribe", "ch1", "x"],
            ["d", "auth", "x"],
        ):
            both.check("ACL", "DRYRUN", *argv)
    finally:
        both.close()


def test_acl_cat(pair: Pair) -> None:
    both = Both(pair)
    try:
        both.check("ACL", "CAT")
        both.check("ACL", "CAT", "nosuch")
        both.check("ACL", "CAT", "read", "extra")
        newer = {name for name, entry in table().items() if "since_valkey" in entry}
        real_names = re.findall(rb"\$\d+\r\n([^\r]*)\r\n", both.real.call("ACL", "CAT"))
        for category in real_names:
            real = both.real.call("ACL", "CAT", category)
            mine = both.mine.call("ACL", "CAT", category)
            pick = re.compile(rb"\$\d+\r\n([^\r]*)\r\n")
            mine_names = {n for n in pick.findall(mine) if n.split(b"|")[0].decode() not in newer}
            assert mine_names == set(pick.findall(real)), category
        both.check("ACL", "HELP")
        both.check("ACL", "NOSUCH")
        both.check("ACL", "GENPASS", "0")
        both.check("ACL", "GENPASS", "4097")
        both.check("ACL", "GENPASS", "x")
        for bits in ("1", "5", "256", "4096"):
            real, mine = (
                both.real.call("ACL", "GENPASS", bits),
                both.mine.call("ACL", "GENPASS", bits),
            )
            assert real.split(b"\r\n")[0] == mine.split(b"\r\n")[0]
            assert re.fullmatch(rb"\$\d+\r\n[0-9a-f]+\r\n", mine)
        both.check("ACL", "SAVE")
        both.check("ACL", "LOAD")
    finally:
        both.close()


def test_requirepass_is_the_default_users_password(pair: Pair) -> None:
    admin = Both(pair)
    try:
        admin.check("AUTH", "x")
        admin.check("AUTH", "default", "anything")
        admin.check("CONFIG", "SET", "requirepass", "s3cret")
        admin.check("ACL", "GETUSER", "default")
        admin.check("ACL", "LIST")
        fresh = Both(pair)
        fresh.check("GET", "x")
        fresh.check("HELLO", "3")
        fresh.check("AUTH", "wrong")
        fresh.check("AUTH", "default", "wrong")
        fresh.check("AUTH", "s3cret")
        fresh.check("ACL", "WHOAMI")
        fresh.close()
        admin.check("ACL", "SETUSER", "default", ">other")
        admin.check("CONFIG", "GET", "requirepass")
        fresh = Both(pair)
        fresh.check("AUTH", "other")
        fresh.check("ACL", "SETUSER", "default", "off")
        fresh.close()
        fresh = Both(pair)
        fresh.check("AUTH", "other")
        fresh.check("PING")
        fresh.check("HELLO", "3", "AUTH", "default", "s3cret")
        fresh.close()
        admin.check("ACL", "SETUSER", "default", "on", "nopass")
        admin.check("ACL", "LOG", "10")
    finally:
        admin.close()


def _closed(client: RawClient) -> bool:
    try:
        client.call("PING")
    except (ConnectionError, OSError):
        return True
    return False


def test_deleted_or_changed_users_lose_connections(pair: Pair) -> None:
    admin = Both(pair)
    admin.check("ACL", "SETUSER", "gone", "on", ">p", "+@all", "~*", "&*")
    admin.check("ACL", "SETUSER", "sub", "on", ">p", "+@all", "~*", "&ch*")
    victim, subscriber, keeper = Both(pair), Both(pair), Both(pair)
    try:
        victim.check("AUTH", "gone", "p")
        subscriber.check("AUTH", "sub", "p")
        keeper.check("AUTH", "sub", "p")
        subscriber.check("SUBSCRIBE", "ch1")
        admin.check("ACL", "SETUSER", "sub", "&other")  # a superset: nobody is killed
        admin.check("CLIENT", "KILL", "USER", "nosuch")
        admin.check("ACL", "DELUSER", "gone")
        assert _closed(victim.real) and _closed(victim.mine)
        admin.check("ACL", "SETUSER", "sub", "resetchannels", "&other")
        assert _closed(subscriber.real) and _closed(subscriber.mine)
        keeper.check("PING")  # not subscribed: kept
        admin.check("CLIENT", "KILL", "USER", "sub")
        assert _closed(keeper.real) and _closed(keeper.mine)
        # a user deleting itself gets its reply, then the connection closes
        self_deleter = Both(pair)
        admin.check("ACL", "SETUSER", "me", "on", ">p", "+@all", "~*", "&*")
        self_deleter.check("AUTH", "me", "p")
        self_deleter.check("ACL", "DELUSER", "me")
        assert _closed(self_deleter.real) and _closed(self_deleter.mine)
    finally:
        for conn in (admin, victim, subscriber, keeper):
            conn.close()


def test_client_list_shows_the_user(pair: Pair) -> None:
    admin = Both(pair)
    admin.check("ACL", "SETUSER", "lister", "on", ">p", "+@all", "~*", "&*")
    try:
        admin.check("AUTH", "lister", "p")
        for client in (admin.real, admin.mine):
            info = client.call("CLIENT", "INFO")
            assert b" user=lister " in info
    finally:
        admin.close()


def _start_pair(tmp_path: Path, *args: str, acl_text: str | None = None) -> Pair:
    dirs = (tmp_path / "real", tmp_path / "mine")
    for d in dirs:
        d.mkdir()
        if acl_text is not None:
            (d / "users.acl").write_text(acl_text)
    real = start_valkey("8.1.8", *args, dir=dirs[0])
    try:
        mine = start_valsync(*args, dir=dirs[1])
    except BaseException:
        real.stop()
        raise
    return real, mine


ACL_FILE = (
    "user alice on #" + "1" * 64 + " ~a* &a* -@all +get +@hash\n"
    "\n"
    "user bob off nopass %R~b* resetchannels +@all -@dangerous (~x* +set)\n"
    "user default on nopass ~* &* +@all\n"
)


def test_aclfile_load_save(tmp_path: Path) -> None:
    pair = _start_pair(tmp_path, "--aclfile", "users.acl", acl_text=ACL_FILE)
    both = Both(pair)
    try:
        both.check("ACL", "LIST")
        both.check("ACL", "SETUSER", "carol", "on", ">c", "+ping")
        both.check("ACL", "SAVE")
        assert (tmp_path / "mine" / "users.acl").read_bytes() == (
            tmp_path / "real" / "users.acl"
        ).read_bytes()
        for d in ("real", "mine"):
            (tmp_path / d / "users.acl").write_text(
                "user dave on nopass +@all ~*\nuser alice on +nosuch\nnot a user line\n"
                "user dave on\nuser eve on #zz\n"
            )  # (an unclosed selector is left out: it crashes valkey-server 8.1.8)
        both.check("ACL", "LOAD")
        both.check("ACL", "LIST")
        for d in ("real", "mine"):
            (tmp_path / d / "users.acl").write_text("user dave on >d +@all ~*\n")
        carol = Both(pair)
        carol.check("AUTH", "carol", "c")
        both.check("ACL", "LOAD")
        both.check("ACL", "LIST")
        assert _closed(carol.real) and _closed(carol.mine)
        for d in ("real", "mine"):
            (tmp_path / d / "users.acl").unlink()
        both.check("ACL", "LOAD")
    finally:
        both.close()
        for server in pair:
            server.stop()


def test_user_lines_in_config(tmp_path: Path) -> None:
    args = (
        "--user", "alice", "on", ">pw", "~a*", "+get",
        "--user", "default", "on", ">d", "~*", "&*", "+@all",
        "--user", "bob", "(~x*", "+set)", "off",
    )  # fmt: skip
    pair = _start_pair(tmp_path, *args)
    both = Both(pair)
    try:
        both.check("PING")
        both.check("AUTH", "d")
        both.check("ACL", "LIST")
        both.check("AUTH", "alice", "pw")
        both.check("GET", "a1")
        both.check("GET", "b1")
    finally:
        both.close()
        for server in pair:
            server.stop()


CHECK_RULES = st.sampled_from(
    [
        "~k*", "%R~r*", "%W~w*", "%RW~k1", "allkeys", "resetkeys", "&ch*", "&x", "allchannels",
        "resetchannels", "+@all", "-@all", "+@read", "-@write", "+@string", "+@list", "-get",
        "+get", "+set", "+del", "+mget", "+lmove", "+publish", "+subscribe", "+psubscribe",
        "+select|1", "+client|getname", "(~w* +@write)", "(%R~k* +@read &z)",
    ]
)  # fmt: skip
CHECK_COMMANDS = st.sampled_from(
    [
        ("GET", "k1"), ("GET", "r1"), ("GET", "w1"), ("SET", "k1", "v"), ("SET", "w1", "v"),
        ("SET", "r1", "v", "GET"), ("DEL", "k1", "w1"), ("MGET", "k1", "r1", "w1"),
        ("LMOVE", "r1", "w1", "LEFT", "LEFT"), ("LPUSH", "k1", "a"), ("SELECT", "1"),
        ("CLIENT", "GETNAME"), ("PUBLISH", "ch1", "m"), ("PUBLISH", "x", "m"),
        ("PSUBSCRIBE", "ch*"), ("EXISTS", "w1", "r1"), ("INCR", "k1"),
        ("EVAL", "return redis.call('get', KEYS[1])", "1", "r1"),
    ]
)  # fmt: skip


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(CHECK_RULES, min_size=1, max_size=6),
    st.lists(CHECK_COMMANDS, min_size=1, max_size=6),
    st.sampled_from([2, 3]),
)
def test_permission_checks_fuzz(
    servers: Pair, ops: list[str], commands: list[tuple[str, ...]], resp: int
) -> None:
    admin = Both(servers)
    admin.check("ACL", "SETUSER", "checked", "reset", "on", "nopass", *ops)
    both = Both(servers, resp)
    try:
        both.check("AUTH", "checked", "x")
        for argv in commands:
            both.check(*argv)
            admin.check("ACL", "DRYRUN", "checked", *argv)
    finally:
        both.close()
        admin.check("ACL", "DELUSER", "checked")
        admin.check("ACL", "LOG", "RESET")
        admin.close()


SENSITIVE_CONFIGS = (
    "masteruser",
    "primaryuser",
    "masterauth",
    "primaryauth",
    "requirepass",
    "tls-key-file-pass",
    "tls-client-key-file-pass",
)


def test_slowlog_redacts_acl_arguments(pair: Pair) -> None:
    both = Both(pair)
    try:
        both.check("SLOWLOG", "RESET")
        both.check("CONFIG", "SET", "slowlog-log-slower-than", "0")
        both.check("ACL", "SETUSER", "hidden", "on", ">secret", "+get")
        both.check("ACL", "GETUSER", "hidden")
        both.check("ACL", "DELUSER", "hidden", "other")
        for name in SENSITIVE_CONFIGS:
            both.check("CONFIG", "SET", name, "")
        both.check("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        words = re.compile(rb"\$\d+\r\n([^\r]*)\r\n")
        shown = [
            [w for w in words.findall(c.call("SLOWLOG", "GET", "-1")) if b"127.0.0.1:" not in w]
            for c in (both.real, both.mine)
        ]
        assert shown[1] == shown[0]
        assert b"secret" not in b" ".join(shown[1])
    finally:
        both.close()
