"""ACL and the server's side of ACL users: the catalog of commands and categories built from
Valkey 8.1.8's command table, the key finder the permission checks use, the ACL log, ACL
files, and the ACL command itself (``aclCommand``)."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from valsync.acl import (
    CATEGORIES,
    DENIED_AUTH,
    DENIED_CHANNEL,
    DENIED_CMD,
    DENIED_KEY,
    READ,
    REASON_NAMES,
    WRITE,
    Acl,
    AclRuleError,
    CatalogCommand,
    CheckResult,
    CommandCatalog,
    User,
    error_message,
    lost_channels,
    merge_selector_args,
    new_user,
    violates,
)
from valsync.commands.command_table import (
    _keys_from_specs,
    _map_get,
    _spec_flags,
    _special_keys,
    info_node,
    iter_table,
    range_last,
)
from valsync.commands.context import ClientState, CommandContext
from valsync.commands.errors import CommandError, CommandRejected, parse_int, wrong_arity
from valsync.commands.registry import command
from valsync.resp.reply import OK, Double, MapReply, Reply, SetReply, SimpleString

if TYPE_CHECKING:
    from valsync.server import Server

ACL_HELP = [
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Print this help.",
]
NO_ACLFILE = (
    "ERR This instance is not configured to use an ACL file. You may want to specify users via "
    "the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "
    "configuration file set) in order to store users in the configuration."
)
LOG_GROUPING_MS = 60000
CONTEXT_TOPLEVEL, CONTEXT_MULTI, CONTEXT_LUA = "toplevel", "multi", "lua"


@cache
def catalog() -> CommandCatalog:
    """Every command of the table (Valkey's ``orig_commands``) with its ACL categories."""
    cat = CommandCatalog()
    for name, entry in iter_table():
        info = entry["info"]
        subs = info[9] if isinstance(info[9], list) else []
        cat.add(_catalog_entry(info, tuple(s[0] for s in subs), None))
        for sub in subs:
            cat.add(_catalog_entry(sub, (), name))
    return cat


def _catalog_entry(info: list[object], subs: tuple[str, ...], parent: str | None) -> CatalogCommand:
    flags = {f["s"] for f in info[2]["set"]}  # type: ignore[index]
    categories = frozenset(c["s"][1:] for c in info[6]["set"])  # type: ignore[index]
    return CatalogCommand(str(info[0]), categories, subs, parent, "no_auth" in flags, int(info[1]))  # type: ignore[call-overload]


def _perms(flags: list[str]) -> int:
    perms = READ if "access" in flags else 0
    if "insert" in flags or "delete" in flags or "update" in flags:
        perms |= WRITE
    return perms


RangeSpec = tuple[int, int, int, int, int]
"""(begin index, lastkey, keystep, limit, permissions) of an index + range key spec."""


@cache
def _range_specs(name: str) -> tuple[RangeSpec, ...] | None:
    """The key specs of a command when all are index + range (most commands), compiled once;
    None when the general walk is needed."""
    info = info_node(name)
    if info is None or info[0] in ("set", "bitfield", "sort", "sort_ro", "migrate"):
        return None
    specs: list[RangeSpec] = []
    for spec in info[8]["set"]:
        flags = _spec_flags(spec)
        if "not_key" in flags:
            continue
        bs, fk = _map_get(spec, "begin_search"), _map_get(spec, "find_keys")
        if "incomplete" in flags or _map_get(bs, "type") != "index":
            return None
        if _map_get(fk, "type") != "range":
            return None
        fk_spec = _map_get(fk, "spec")
        specs.append(
            (
                _map_get(_map_get(bs, "spec"), "index"),
                _map_get(fk_spec, "lastkey"),
                _map_get(fk_spec, "keystep"),
                _map_get(fk_spec, "limit"),
                _perms(flags),
            )
        )
    return tuple(specs)


def command_keys(argv: list[bytes]) -> list[tuple[int, int]]:
    """The keys of a command line with the access ACLs check (``getKeysFromCommandWithSpecs``)."""
    name = argv[0].decode("latin-1").lower()
    cmd = catalog().commands.get(name)
    if cmd is not None and cmd.subcommands and len(argv) > 1:
        sub = f"{name}|{argv[1].decode('latin-1').lower()}"
        if sub in catalog().commands:
            name = sub
    plan = _range_specs(name)
    if plan is None:
        return _walked_keys(name, argv)
    argc = len(argv)
    out: list[tuple[int, int]] = []
    for first, lastkey, step, limit, perms in plan:
        last = range_last(first, lastkey, limit, argc)
        if last >= argc or last < first or first >= argc:
            return []
        out.extend((i, perms) for i in range(first, last + 1, step))
    return out


def _walked_keys(name: str, argv: list[bytes]) -> list[tuple[int, int]]:
    info = info_node(name)
    if info is None:
        return []
    keys = _special_keys(info[0], argv)
    if keys is None:
        keys = _keys_from_specs(info, argv) or []
    return [(idx, _perms(flags)) for idx, flags in keys]


def acl_fullname(argv: list[bytes]) -> CatalogCommand | None:
    """The catalog entry a command line runs as (a container's subcommand), or None when the
    command or subcommand is unknown or has the wrong arity: its handler answers that."""
    cat = catalog()
    cmd = cat.commands.get(argv[0].decode("latin-1").lower())
    if cmd is None or cmd.parent is not None:
        return None
    if cmd.subcommands:
        if len(argv) < 2:
            return None
        sub = cat.commands.get(f"{cmd.fullname}|{argv[1].decode('latin-1').lower()}")
        if sub is None:
            return None
        cmd = sub
    argc = len(argv)
    if (cmd.arity > 0 and argc != cmd.arity) or argc < -cmd.arity:
        return None
    return cmd


# --- the ACL log --------------------------------------------------------------------------


@dataclass
class AclLogEntry:
    count: int
    reason: int
    context: str
    obj: bytes
    username: bytes
    ctime: int
    cinfo: str
    entry_id: int
    created: int


class AclLog:
    """Valkey's ACL log: recent denials, grouped when alike within a minute."""

    def __init__(self) -> None:
        self.entries: list[AclLogEntry] = []
        self.next_id = 0
        self.auth_failures = 0
        self.denied_cmd = 0
        self.denied_key = 0
        self.denied_channel = 0

    def add(
        self,
        reason: int,
        context: str,
        obj: bytes,
        username: bytes,
        cinfo: str,
        now_ms: int,
        max_len: int,
    ) -> None:
        if reason == DENIED_AUTH:
            self.auth_failures += 1
        elif reason == DENIED_CMD:
            self.denied_cmd += 1
        elif reason == DENIED_KEY:
            self.denied_key += 1
        else:
            self.denied_channel += 1
        if max_len == 0:
            self.entries.clear()
            return
        for i, entry in enumerate(self.entries[:10]):
            if (
                entry.reason == reason
                and entry.context == context
                and abs(entry.ctime - now_ms) <= LOG_GROUPING_MS
                and entry.obj == obj
                and entry.username == username
            ):
                del self.entries[i]
                entry.cinfo = cinfo
                entry.ctime = now_ms
                entry.count += 1
                self.entries.insert(0, entry)
                return
        self.entries.insert(
            0, AclLogEntry(1, reason, context, obj, username, now_ms, cinfo, self.next_id, now_ms)
        )
        self.next_id += 1
        del self.entries[max_len:]


# --- the server's ACL state ---------------------------------------------------------------


class ServerAcl(Acl):
    """The ACL state of a server, with its log."""

    def __init__(self, pubsub_default_all: bool = False) -> None:
        super().__init__(catalog(), pubsub_default_all)
        self.log = AclLog()


def user_of(server: Server, client: ClientState) -> User:
    user = client.user
    return user if user is not None else server.acl.default


def client_info(server: Server, client: ClientState) -> str:
    from valsync.commands.server_cmds import client_info_line

    return client_info_line(server, client, int(time.time() * 1000))


def log_denial(
    server: Server,
    client: ClientState,
    reason: int,
    context: str,
    obj: bytes,
    username: bytes | None = None,
) -> None:
    shown = server.current_client or client
    server.acl.log.add(
        reason,
        context,
        obj,
        username if username is not None else user_of(server, client).name,
        client_info(server, shown),
        int(time.time() * 1000),
        server.config.get_int("acllog-max-len"),
    )


def permission_denial(
    server: Server, client: ClientState, argv: list[bytes], context: str
) -> tuple[CheckResult, User, str] | None:
    """Why the client's user may not run ``argv`` (the check, the user, the command's full
    name), after logging it; None when allowed. Called only when some user is restricted."""
    if client.is_primary_link:
        return None  # our primary's stream runs with no user, as in Valkey
    user = user_of(server, client)
    if user.unrestricted:
        return None
    cmd = acl_fullname(argv)
    if cmd is None:
        return None
    result = server.acl.check(user, cmd.fullname, argv, command_keys, cmd.no_auth)
    if result is None:
        return None
    obj = cmd.fullname.encode() if result.reason == DENIED_CMD else argv[result.index]
    log_denial(server, client, result.reason, context, obj)
    return result, user, cmd.fullname


def permission_refusal(
    server: Server, client: ClientState, argv: list[bytes], context: str
) -> str | None:
    """The ``NOPERM`` text (without the code) for a command the client's user may not run."""
    denial = permission_denial(server, client, argv, context)
    if denial is None:
        return None
    result, user, fullname = denial
    return error_message(result, user, fullname, argv, verbose=False)


def unrestricted_key_read(server: Server, client: ClientState, argv: list[bytes]) -> bool:
    """Whether the client's user may read any key with this command (SORT BY/GET)."""
    if not server.acl.restricted or client.is_primary_link:
        return True
    user = user_of(server, client)
    cmd = acl_fullname(argv)
    if user.unrestricted or cmd is None:
        return True
    return server.acl.check_with_unrestricted_keys(user, cmd.fullname, argv, command_keys, READ)


EXEC_DENIAL_REASONS = {
    DENIED_CMD: "no permission to execute the command or subcommand",
    DENIED_KEY: "no permission to touch the specified keys",
    DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
}


def exec_refusal(server: Server, client: ClientState, argv: list[bytes]) -> str | None:
    """EXEC checks each queued command again: the rules may have changed since it was queued."""
    denial = permission_denial(server, client, argv, CONTEXT_MULTI)
    if denial is None:
        return None
    return (
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the "
        "EXEC call. This command is no longer allowed for the following reason: "
        + EXEC_DENIAL_REASONS[denial[0].reason]
    )


def authenticate(server: Server, client: ClientState, name: bytes, password: bytes) -> bool:
    """``checkPasswordBasedAuth``: on success the client runs as the user; a failure is logged."""
    user = server.acl.authenticate(name, password)
    if user is None:
        context = CONTEXT_MULTI if client.in_multi else CONTEXT_TOPLEVEL
        command_name = client.extra.get("auth_command", b"AUTH")
        log_denial(server, client, DENIED_AUTH, context, command_name, name)
        return False
    client.authenticated = True
    client.user = user if user is not server.acl.default else None
    return True


def kill_user_clients(server: Server, user: User) -> None:
    """``ACLFreeUserAndKillClients``: the user's connections end (the current one after its
    reply)."""
    from valsync.commands.server_cmds import kill_client

    for client in list(server.clients.values()):
        if client.user is user:
            client.user = None
            client.authenticated = False
            if client is server.current_client:
                client.kill_requested = True
            else:
                kill_client(client)


def kill_pubsub_clients_if_needed(server: Server, user: User, before: User) -> None:
    """``ACLKillPubsubClientsIfNeeded``: subscribers of channels the user may no longer use."""
    if not server.pubsub.clients:
        return
    upcoming = lost_channels(user, before)
    if upcoming is None:
        return
    from valsync.commands.server_cmds import kill_client

    for client in list(server.clients.values()):
        if client.user is not user and not (client.user is None and user is server.acl.default):
            continue
        if not client.pubsub:
            continue
        channels = [*client.channels, *client.shard_channels]
        if violates(upcoming, channels, client.patterns):
            kill_client(client)
            server.free_client(client)  # at once, as Valkey's freeClient


# --- ACL files and config lines ----------------------------------------------------------------


def load_acl_lines(acl: Acl, lines: list[str], filename: str) -> tuple[dict[bytes, User], str]:
    """``ACLLoadFromFile`` over the lines of a file: the new users, or the errors."""
    users: dict[bytes, User] = {}
    errors = ""
    for i, raw in enumerate(lines):
        line = raw.strip(" \t\r\n")
        if not line:
            continue
        argv = [w.encode("utf-8", "surrogateescape") for w in line.split(" ") if w != ""]
        if not argv:
            continue
        linenum = i + 1
        if argv[0] != b"user" or len(argv) < 2:
            errors += (
                f"{filename}:{linenum} should start with user keyword followed by the username. "
            )
            continue
        name = argv[1]
        if name in users:
            errors += f"WARNING: Duplicate user '{name.decode('utf-8', 'replace')}' found on line {linenum}. "
            continue
        user = new_user(name, acl.pubsub_default_all)
        users[name] = user
        merged = merge_selector_args(argv[2:])
        if isinstance(merged, int):
            errors += f"{filename}:{linenum}: Unmatched parenthesis in selector definition."
            continue
        syntax_error = False
        for op in merged:
            op = op.strip(b"\t\r\n")
            try:
                user.apply(op, acl.catalog, acl.pubsub_default_all)
            except AclRuleError as err:
                if err.message.startswith("Unknown command"):
                    errors += (
                        f"{filename}:{linenum}: Error in applying operation "
                        f"'{op.decode('utf-8', 'replace')}': {err.message}. "
                    )
                elif not syntax_error:
                    errors += f"{filename}:{linenum}: {err.message}. "
                    syntax_error = True
    if errors:
        errors += "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
    return users, errors


def load_acl_file(server: Server) -> str | None:
    """ACL LOAD: replace every user with the file's (the default user kept as an object);
    clients whose user vanished are closed. Returns the error text, or None."""
    name = server.config.get_str("aclfile")
    try:
        with open(server.config.aclfile_path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError as err:
        return f"Error loading ACLs, opening file '{name}': {os.strerror(err.errno or 0)}"
    acl = server.acl
    users, errors = load_acl_lines(acl, text.split("\n"), name)
    if errors:
        return errors
    new_default = users.pop(b"default", None) or acl.create_default_user()
    old_users = acl.users
    default = acl.default
    default.enabled = new_default.enabled
    default.nopass = new_default.nopass
    default.skip_sanitize = new_default.skip_sanitize
    default.passwords = new_default.passwords
    default.selectors = new_default.selectors
    acl.users = {b"default": default, **users}
    acl.refresh()
    from valsync.commands.server_cmds import kill_client

    upcoming_by_user: dict[bytes, list[bytes] | None] = {}
    for client in list(server.clients.values()):
        old = client.user
        if old is None:
            continue
        replacement = acl.users.get(old.name)
        if replacement is not None and client.pubsub:
            if old.name not in upcoming_by_user:
                upcoming_by_user[old.name] = lost_channels(replacement, old)
            upcoming = upcoming_by_user[old.name]
            channels = [*client.channels, *client.shard_channels]
            if upcoming is not None and violates(upcoming, channels, client.patterns):
                replacement = None
        if replacement is None:
            kill_client(client)
            server.free_client(client)
            continue
        client.user = replacement
    del old_users
    return None


def acl_file_text(acl: Acl) -> bytes:
    return b"".join(b"user " + u.name + b" " + u.describe() + b"\n" for u in acl.sorted_users())


def save_acl_file(acl: Acl, path: str) -> bool:
    tmp = f"{path}.tmp-{os.getpid()}-{int(time.time() * 1000)}"
    try:
        with open(tmp, "wb") as f:
            f.write(acl_file_text(acl))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True


def load_config_users(acl: Acl, user_lines: list[list[bytes]]) -> str | None:
    """``ACLLoadConfiguredUsers``: the ``user`` lines of the config file, in order."""
    for words in user_lines:
        name = words[0]
        user = acl.users.get(name)
        if user is None:
            user = new_user(name, acl.pubsub_default_all)
            acl.users[name] = user
        else:
            user.apply(b"reset", acl.catalog, acl.pubsub_default_all)
        merged = merge_selector_args(words[1:])
        if isinstance(merged, int):
            return f"Unmatched parenthesis in acl selector starting at '{words[1 + merged].decode('utf-8', 'replace')}'."
        for op in merged:
            try:
                user.apply(op, acl.catalog, acl.pubsub_default_all)
            except AclRuleError as err:
                return (
                    f"Error loading ACL rule '{op.decode('utf-8', 'replace')}' for the user "
                    f"named '{name.decode('utf-8', 'replace')}': {err.message}"
                )
    acl.refresh()
    return None


# --- the command ---------------------------------------------------------------------------


def _server(ctx: CommandContext) -> Server:
    from valsync.commands.server_cmds import server_of

    return server_of(ctx)


def _selector_pairs(selector: object) -> list[tuple[Reply, Reply]]:
    from valsync.acl import Selector

    assert isinstance(selector, Selector)
    return [
        (b"commands", selector.describe_commands().encode()),
        (b"keys", selector.keys_text()),
        (b"channels", selector.channels_text()),
    ]


def _getuser(user: User) -> Reply:
    pairs: list[tuple[Reply, Reply]] = [
        (b"flags", SetReply([f.encode() for f in user.flags()])),
        (b"passwords", [p.encode() for p in user.passwords]),
        *_selector_pairs(user.root),
        (b"selectors", [MapReply(_selector_pairs(s)) for s in user.selectors[1:]]),
    ]
    return MapReply(pairs)


def _has_spaces(name: bytes) -> bool:
    return any(c in b" \t\n\v\f\r\x00" for c in name)


def _log_reply(server: Server, argv: list[bytes]) -> Reply:
    log = server.acl.log
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            log.entries.clear()
            return OK
        count = max(parse_int(argv[2]), 0)
    now = int(time.time() * 1000)
    out: list[Reply] = []
    for entry in log.entries[:count]:
        out.append(
            MapReply(
                [
                    (b"count", entry.count),
                    (b"reason", REASON_NAMES[entry.reason].encode()),
                    (b"context", entry.context.encode()),
                    (b"object", entry.obj),
                    (b"username", entry.username),
                    (b"age-seconds", Double((now - entry.ctime) / 1000)),
                    (b"client-info", entry.cinfo.encode()),
                    (b"entry-id", entry.entry_id),
                    (b"timestamp-created", entry.created),
                    (b"timestamp-last-updated", entry.ctime),
                ]
            )
        )
    return out


ACL_SUBCOMMAND_ARITY = {
    b"cat": -2,
    b"deluser": -3,
    b"dryrun": -4,
    b"genpass": -2,
    b"getuser": 3,
    b"help": 2,
    b"list": 2,
    b"load": 2,
    b"log": -2,
    b"save": 2,
    b"setuser": -3,
    b"users": 2,
    b"whoami": 2,
}


@command("acl", -2, "noscript loading stale")
def acl_cmd(ctx: CommandContext, argv: list[bytes]) -> Reply:
    server = _server(ctx)
    sub = argv[1].lower()
    arity = ACL_SUBCOMMAND_ARITY.get(sub)
    if arity is None:
        raise CommandRejected(
            f"ERR unknown subcommand '{argv[1].decode('utf-8', 'replace')}'. Try ACL HELP.",
            counted=False,
        )
    if (arity > 0 and len(argv) != arity) or len(argv) < -arity:
        raise CommandRejected(wrong_arity(f"acl|{sub.decode()}"))
    acl = server.acl
    if sub == b"setuser":
        name = argv[2]
        if _has_spaces(name):
            raise CommandError("ERR Usernames can't contain spaces or null characters")
        try:
            user, before = acl.set_user(name, argv[3:])
        except AclRuleError as err:
            raise CommandError("ERR " + err.message.replace("\r", " ").replace("\n", " ")) from None
        if before is not None:
            kill_pubsub_clients_if_needed(server, user, before)
        return OK
    if sub == b"deluser":
        if any(name == b"default" for name in argv[2:]):
            raise CommandError("ERR The 'default' user cannot be removed")
        deleted = 0
        for name in argv[2:]:
            gone = acl.delete_user(name)
            if gone is not None:
                kill_user_clients(server, gone)
                deleted += 1
        return deleted
    if sub == b"getuser":
        found = acl.users.get(argv[2])
        return None if found is None else _getuser(found)
    if sub == b"list":
        return [b"user " + u.name + b" " + u.describe() for u in acl.sorted_users()]
    if sub == b"users":
        return [u.name for u in acl.sorted_users()]
    if sub == b"whoami":
        return user_of(server, ctx.client).name
    if sub in (b"load", b"save"):
        path = server.config.aclfile_path
        if not path:
            raise CommandError(NO_ACLFILE)
        if sub == b"load":
            error = load_acl_file(server)
            if error is not None:
                raise CommandError("ERR " + error)
            return OK
        if not save_acl_file(acl, path):
            raise CommandError(
                "ERR There was an error trying to save the ACLs. Please check the server logs "
                "for more information"
            )
        return OK
    if sub == b"cat":
        if len(argv) == 2:
            return [c.encode() for c in CATEGORIES]
        if len(argv) == 3:
            category = argv[2].decode("utf-8", "replace").lower()
            if category not in CATEGORIES:
                raise CommandError(
                    f"ERR Unknown category '{argv[2].decode('utf-8', 'replace')[:128]}'"
                )
            return [n.encode() for n in acl.catalog.in_category(category)]
    if sub == b"genpass" and len(argv) <= 3:
        bits = 256
        if len(argv) == 3:
            bits = parse_int(argv[2])
        if bits <= 0 or bits > 4096:
            raise CommandError(
                "ERR ACL GENPASS argument must be the number of bits for the output password, "
                "a positive number up to 4096"
            )
        chars = (bits + 3) // 4
        return secrets.token_hex((chars + 1) // 2)[:chars].encode()
    if sub == b"log" and len(argv) <= 3:
        return _log_reply(server, argv)
    if sub == b"dryrun":
        return _dryrun(acl, argv[2], argv[3:])
    if sub == b"help":
        return [SimpleString(line) for line in ACL_HELP]
    raise CommandError(
        f"ERR unknown subcommand or wrong number of arguments for "
        f"'{argv[1].decode('utf-8', 'replace')}'. Try ACL HELP."
    )


def _dryrun(acl: Acl, name: bytes, cmd_argv: list[bytes]) -> Reply:
    user = acl.users.get(name)
    if user is None:
        raise CommandError(f"ERR User '{name.decode('utf-8', 'replace')}' not found")
    cat = acl.catalog
    base = cat.commands.get(cmd_argv[0].decode("latin-1").lower())
    if base is None or base.parent is not None:
        raise CommandError(f"ERR Command '{cmd_argv[0].decode('utf-8', 'replace')}' not found")
    cmd = base
    if base.subcommands:
        sub = (
            cat.commands.get(f"{base.fullname}|{cmd_argv[1].decode('latin-1').lower()}")
            if len(cmd_argv) > 1
            else None
        )
        if sub is None:
            raise CommandError(f"ERR Command '{cmd_argv[0].decode('utf-8', 'replace')}' not found")
        cmd = sub
    argc = len(cmd_argv)
    if (cmd.arity > 0 and cmd.arity != argc) or argc < -cmd.arity:
        raise CommandError(f"ERR wrong number of arguments for '{cmd.fullname}' command")
    result: CheckResult | None = acl.check(user, cmd.fullname, cmd_argv, command_keys, cmd.no_auth)
    if result is not None:
        return error_message(result, user, cmd.fullname, cmd_argv, verbose=True).encode()
    return OK


__all__ = [
    "ServerAcl",
    "authenticate",
    "catalog",
    "command_keys",
    "load_acl_file",
    "load_config_users",
    "permission_refusal",
    "user_of",
]
