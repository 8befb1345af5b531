"""The sans-IO ACL core: rules, descriptions, checks and protected mode.

Expected descriptions and texts are those valkey-server 8.1.8 gives for the same rules (the
integration test ``test_acl_vs_valkey.py`` compares the two servers directly).
"""

from __future__ import annotations

import hashlib

import pytest

from valsync.acl import (
    DENIED_CHANNEL,
    DENIED_CMD,
    DENIED_KEY,
    PROTECTED_MODE_DENIED,
    READ,
    WRITE,
    Acl,
    AclRuleError,
    error_message,
    is_loopback,
    lost_channels,
    merge_selector_args,
    new_user,
    protected_mode_refusal,
    split_args,
    violates,
)
from valsync.commands.acl_cmds import (
    catalog,
    command_keys,
    load_acl_lines,
    load_config_users,
)


def make_acl() -> Acl:
    return Acl(catalog())


def rules(*ops: str) -> list[bytes]:
    return [op.encode() for op in ops]


def described(acl: Acl, name: str, *ops: str) -> bytes:
    user, _ = acl.set_user(name.encode(), rules(*ops))
    return user.describe()


def test_default_user() -> None:
    acl = make_acl()
    assert acl.default.describe() == b"on nopass sanitize-payload ~* &* +@all"
    assert not acl.restricted and not acl.auth_required


def test_new_user_is_off_and_allows_nothing() -> None:
    acl = make_acl()
    assert described(acl, "u") == b"off sanitize-payload resetchannels -@all"
    assert acl.restricted


def test_command_rules_keep_order_and_drop_overridden_rules() -> None:
    acl = make_acl()
    desc = described(
        acl, "a", "on", ">pw", "~k*", "&ch*", "+get", "+set", "-@all", "+@read", "-get",
        "+client|list", "+select|0",
    )  # fmt: skip
    pw = hashlib.sha256(b"pw").hexdigest().encode()
    assert desc == (
        b"on sanitize-payload #" + pw + b" ~k* resetchannels &ch* "
        b"-@all +@read -get +client|list +select|0"
    )
    # allowing or denying a whole container drops the rules of its subcommands
    assert described(acl, "a", "-client").endswith(b"-@all +@read -get +select|0 -client")
    assert described(acl, "a", "-select").endswith(b"-@all +@read -get -client -select")


def test_key_patterns_and_selectors() -> None:
    acl = make_acl()
    desc = described(
        acl, "b", "on", "nopass", "%R~r*", "%W~w*", "%RW~rw*", "+@all", "-@dangerous",
        "(~x* +get)", "( +set ~y*)",
    )  # fmt: skip
    assert desc == (
        b"on nopass sanitize-payload %R~r* %W~w* ~rw* resetchannels +@all -@dangerous "
        b"(~x* resetchannels -@all +get) (~y* resetchannels -@all +set)"
    )
    # a pattern given again gains the permissions
    assert b"~r*" in described(acl, "b", "%W~r*").split()


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (["+nosuch"], "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"),
        (["~x", "allkeys", "~y"], "Error in ACL SETUSER modifier '~y': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"),
        (["#abc"], "Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
        (["<nopw"], "Error in ACL SETUSER modifier '<nopw': The password you are trying to remove from the user does not exist"),
        (["%X~a"], "Error in ACL SETUSER modifier '%X~a': Syntax error"),
        (["+config|get|x"], "Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported"),
        (["(+get"], "Unmatched parenthesis in acl selector starting at '(+get'."),
        (["foo"], "Error in ACL SETUSER modifier 'foo': Syntax error"),
    ],
)  # fmt: skip
def test_refused_rules_change_nothing(ops: list[str], message: str) -> None:
    acl = make_acl()
    before = described(acl, "c", "on", "+get", "~k")
    with pytest.raises(AclRuleError) as err:
        acl.set_user(b"c", rules("+set", *ops))
    assert err.value.message == message
    assert acl.users[b"c"].describe() == before


def test_reset_and_passwords() -> None:
    acl = make_acl()
    described(acl, "d", "on", ">a", ">b", ">a", "allkeys", "allchannels", "+@all", "(~x +get)")
    user = acl.users[b"d"]
    assert len(user.passwords) == 2
    assert user.check_password(b"a") and not user.check_password(b"c")
    assert described(acl, "d", "reset") == b"off sanitize-payload resetchannels -@all"
    assert not user.check_password(b"a")


def test_requirepass_sets_the_default_password() -> None:
    acl = make_acl()
    acl.set_default_password(b"s3cret")
    assert acl.auth_required
    assert acl.authenticate(b"default", b"s3cret") is acl.default
    assert acl.authenticate(b"default", b"nope") is None
    acl.set_default_password(None)
    assert not acl.auth_required and acl.default.nopass


def check(acl: Acl, name: str, *argv: str) -> tuple[int, int] | None:
    args = [a.encode() for a in argv]
    user = acl.users[name.encode()]
    base = argv[0].lower()
    full = f"{base}|{argv[1].lower()}" if catalog().commands[base].subcommands else base
    result = acl.check(user, full, args, command_keys)
    return None if result is None else (result.reason, result.index)


def test_command_key_and_channel_checks() -> None:
    acl = make_acl()
    described(
        acl, "u", "on", "~k*", "%R~r*", "%W~w*", "&ch*", "-@all", "+get", "+set", "+mget",
        "+lmove", "+publish", "+psubscribe", "+client|list", "+select|0", "(~s* +del)",
    )  # fmt: skip
    assert check(acl, "u", "GET", "k1") is None
    assert check(acl, "u", "GET", "r1") is None
    assert check(acl, "u", "GET", "w1") == (DENIED_KEY, 1)
    assert check(acl, "u", "SET", "r1", "v") == (DENIED_KEY, 1)
    assert check(acl, "u", "SET", "w1", "v") is None
    assert check(acl, "u", "MGET", "k1", "x", "y") == (DENIED_KEY, 2)
    assert check(acl, "u", "LMOVE", "r1", "w1", "LEFT", "RIGHT") == (DENIED_KEY, 1)
    assert check(acl, "u", "DEL", "s1") is None
    assert check(acl, "u", "DEL", "k1") == (DENIED_KEY, 1)
    assert check(acl, "u", "INCR", "k1") == (DENIED_CMD, 0)
    assert check(acl, "u", "CLIENT", "LIST") is None
    assert check(acl, "u", "CLIENT", "ID") == (DENIED_CMD, 0)
    assert check(acl, "u", "SELECT", "0") is None
    assert check(acl, "u", "SELECT", "1") == (DENIED_CMD, 0)
    assert check(acl, "u", "PUBLISH", "ch1", "m") is None
    assert check(acl, "u", "PUBLISH", "x", "m") == (DENIED_CHANNEL, 1)
    # a pattern subscription matches a channel rule literally, not as a glob
    assert check(acl, "u", "PSUBSCRIBE", "ch*") is None
    assert check(acl, "u", "PSUBSCRIBE", "ch1") == (DENIED_CHANNEL, 1)
    user = acl.users[b"u"]
    result = acl.check(user, "get", [b"get", b"w1"], command_keys)
    assert result is not None
    assert error_message(result, user, "get", [b"get", b"w1"], verbose=False) == (
        "No permissions to access a key"
    )
    assert error_message(result, user, "get", [b"get", b"w1"], verbose=True) == (
        "User u has no permissions to access the 'w1' key"
    )


def test_command_keys_carry_the_access_asked() -> None:
    assert command_keys([b"GET", b"k"]) == [(1, READ)]
    assert command_keys([b"SET", b"k", b"v"]) == [(1, WRITE)]
    assert command_keys([b"SET", b"k", b"v", b"GET"]) == [(1, READ | WRITE)]
    assert command_keys([b"EXISTS", b"a", b"b"]) == [(1, 0), (2, 0)]
    assert command_keys([b"PING"]) == []


def test_channel_revocation() -> None:
    acl = make_acl()
    before = acl.set_user(b"s", rules("on", "&a*", "&b"))[0]
    import copy

    old = copy.deepcopy(before)
    assert lost_channels(acl.set_user(b"s", rules("&c"))[0], old) is None
    upcoming = lost_channels(acl.set_user(b"s", rules("resetchannels", "&a*"))[0], old)
    assert upcoming == [b"a*"]
    assert violates(upcoming, [b"b"], [])
    assert not violates(upcoming, [b"a1"], [b"a*"])
    assert violates(upcoming, [], [b"a1*"])


def test_argument_merging_and_splitting() -> None:
    assert merge_selector_args(rules("on", "(~x", "+get)", "off")) == rules(
        "on", "(~x +get)", "off"
    )
    assert merge_selector_args(rules("on", "(~x", "+get")) == 1
    assert split_args(b" ~x  \"+g et\" 'a' ") == [b"~x", b"+g et", b"a"]


def test_acl_file_lines() -> None:
    acl = make_acl()
    users, errors = load_acl_lines(acl, ["user a on nopass +@all ~*", "", "user b +nosuch"], "f")
    assert errors == (
        "f:3: Error in applying operation '+nosuch': Unknown command or category name in ACL. "
        "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
    )
    users, errors = load_acl_lines(acl, ["user a on nopass +@all ~*", "user a", "x"], "f")
    assert errors.startswith("WARNING: Duplicate user 'a' found on line 2. f:3 should start")
    users, errors = load_acl_lines(acl, ["user a on >p ~* +@all (~x +get)"], "f")
    assert not errors and users[b"a"].describe().endswith(b"+@all (~x resetchannels -@all +get)")


def test_config_user_lines() -> None:
    acl = make_acl()
    assert load_config_users(acl, [rules("alice", "on", ">p", "~*", "+get")]) is None
    assert acl.users[b"alice"].check_password(b"p")
    error = load_config_users(acl, [rules("bob", "+nosuch")])
    assert error == (
        "Error loading ACL rule '+nosuch' for the user named 'bob': "
        "Unknown command or category name in ACL"
    )


def test_protected_mode_decision() -> None:
    acl = make_acl()
    assert protected_mode_refusal(True, acl.default, "10.0.0.5:4444") == PROTECTED_MODE_DENIED
    assert protected_mode_refusal(True, acl.default, "[2001:db8::1]:4444") is not None
    assert protected_mode_refusal(True, acl.default, "127.0.0.1:4444") is None
    assert protected_mode_refusal(True, acl.default, "[::1]:4444") is None
    assert protected_mode_refusal(True, acl.default, "[::ffff:127.0.0.1]:1") is None
    assert protected_mode_refusal(False, acl.default, "10.0.0.5:4444") is None
    acl.set_default_password(b"pw")
    assert protected_mode_refusal(True, acl.default, "10.0.0.5:4444") is None
    assert is_loopback("/tmp/valsync.sock")
    assert PROTECTED_MODE_DENIED.startswith(b"-DENIED Running in protected mode")
    assert new_user(b"x", True).describe() == b"off sanitize-payload &* -@all"
