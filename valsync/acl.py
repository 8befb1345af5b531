"""ACL users as Valkey 8.1.8 keeps them (``acl.c``): sans-IO rules, descriptions and checks.

Theory of operation:

1. A :class:`User` has flags (``on``/``off``, ``nopass``, payload sanitising), SHA-256 password
   hashes and a list of :class:`Selector` s; the first is the *root* selector, the rules given
   outside parentheses. A command is allowed when any selector allows it.
2. A selector holds the set of allowed command names (Valkey's bitmap, by full name such as
   ``client|list``), allowed first arguments (``+select|0``), key patterns with read/write
   permissions, channel patterns, and the ordered *command rules* string from which Valkey
   rebuilds the ``+@all -get ...`` description that ACL LIST and GETUSER show.
3. Categories come from the command table Valkey 8.1.8 reports (:class:`CommandCatalog`): a
   ``+@cat`` walks every command and subcommand in the category, and allowing a container
   (``+client``) allows all its subcommands, exactly as ``ACLChangeSelectorPerm`` does.
4. :meth:`Acl.check` is ``ACLCheckAllUserCommandPerm``: per selector, the command (skipped for
   ``no_auth`` commands), then its keys (with the access each key spec asks for), then its
   channels; the most relevant failure is reported when no selector allows the command.
5. :meth:`Acl.set_user` is ``ACLStringSetUser``: the rules are applied to a copy, so a bad rule
   changes nothing, and the caller learns which clients lost channels (they are killed).

Nothing here touches a socket, a file or the clock; callers pass what they need.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from valsync.keyspace.glob import stringmatch

READ = 1
WRITE = 2
ALL_PERMS = READ | WRITE

# Valkey's categories, in the order ACL CAT lists them.
CATEGORIES = (
    "keyspace read write set sortedset list hash string bitmap hyperloglog geo stream pubsub "
    "admin fast slow blocking dangerous connection transaction scripting"
).split()

WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
DENIED_CMD, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 1, 2, 3, 4
REASON_NAMES = {
    DENIED_CMD: "command",
    DENIED_KEY: "key",
    DENIED_CHANNEL: "channel",
    DENIED_AUTH: "auth",
}
# Valkey's relevance order when every selector fails (ACL_DENIED_* values: cmd < key < channel).
_RELEVANCE = {DENIED_CMD: 0, DENIED_KEY: 1, DENIED_CHANNEL: 3}

ERR_UNKNOWN = "Unknown command or category name in ACL"
ERR_SYNTAX = "Syntax error"
ERR_KEYS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not "
    "have any effect. Try 'resetkeys' to start with an empty list of patterns"
)
ERR_CHANNELS_AFTER_ALL = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does "
    "not have any effect. Try 'resetchannels' to start with an empty list of channels"
)
ERR_NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"
ERR_BAD_HASH = (
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
    "characters"
)
ERR_CHILD = "Allowing first-arg of a subcommand is not supported"
ERR_DUPLICATE = "Duplicate user found. A user can only be defined once in config files"


class AclRuleError(Exception):
    """A rule ``ACLSetUser`` refuses; ``message`` is ``ACLSetUserStringError``'s text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- the command catalog ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogCommand:
    fullname: str
    categories: frozenset[str]
    subcommands: tuple[str, ...] = ()
    parent: str | None = None
    no_auth: bool = False
    arity: int = 0


@dataclass
class CommandCatalog:
    """The commands ACL rules can name (Valkey's ``server.orig_commands``), with categories."""

    commands: dict[str, CatalogCommand] = field(default_factory=dict)
    toplevel: list[str] = field(default_factory=list)

    def add(self, command: CatalogCommand) -> None:
        self.commands[command.fullname] = command
        if command.parent is None:
            self.toplevel.append(command.fullname)

    def lookup(self, name: str) -> CatalogCommand | None:
        """``lookupCommandBySdsLogic``: ``cmd`` or ``container|sub`` (case-insensitive)."""
        parts = name.lower().split("|")
        if len(parts) > 2:
            return None
        base = self.commands.get(parts[0])
        if base is None or base.parent is not None:
            return None
        if len(parts) == 1:
            return base
        if not base.subcommands:
            return None
        return self.commands.get(name.lower())

    def walk(self) -> Iterable[CatalogCommand]:
        """Every command then its subcommands, in table order."""
        for name in self.toplevel:
            cmd = self.commands[name]
            yield cmd
            for sub in cmd.subcommands:
                yield self.commands[sub]

    def in_category(self, category: str) -> list[str]:
        return [c.fullname for c in self.walk() if category in c.categories]


# --- selectors -----------------------------------------------------------------------------


@dataclass
class KeyPattern:
    perms: int
    pattern: bytes

    def describe(self) -> bytes:
        prefix = {ALL_PERMS: b"~", READ: b"%R~", WRITE: b"%W~"}[self.perms]
        return prefix + self.pattern


@dataclass
class Selector:
    root: bool = False
    allkeys: bool = False
    allchannels: bool = False
    allcommands: bool = False
    future: bool = False
    """Valkey's reserved bit: set by ``+@all`` only, so the description starts ``+@all``."""
    allowed: set[str] = field(default_factory=set)
    firstargs: dict[str, list[bytes]] = field(default_factory=dict)
    patterns: list[KeyPattern] = field(default_factory=list)
    channels: list[bytes] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    """The ordered command rules (``+get``, ``-@write``), as ``command_rules``."""

    @property
    def unrestricted(self) -> bool:
        return self.allcommands and self.allkeys and self.allchannels

    # -- ACLSetSelector --

    def apply(self, op: bytes, catalog: CommandCatalog) -> None:
        low = op.lower()
        if low in (b"allkeys", b"~*"):
            self.allkeys = True
            self.patterns.clear()
        elif low == b"resetkeys":
            self.allkeys = False
            self.patterns.clear()
        elif low in (b"allchannels", b"&*"):
            self.allchannels = True
            self.channels.clear()
        elif low == b"resetchannels":
            self.allchannels = False
            self.channels.clear()
        elif low in (b"allcommands", b"+@all"):
            self.allowed = set(catalog.commands)
            self.allcommands = self.future = True
            self.rules.clear()
            self.firstargs.clear()
        elif low in (b"nocommands", b"-@all"):
            self.allowed = set()
            self.allcommands = self.future = False
            self.rules.clear()
            self.firstargs.clear()
        elif op[:1] in (b"~", b"%"):
            self._add_key_pattern(op)
        elif op[:1] == b"&":
            if self.allchannels:
                raise AclRuleError(ERR_CHANNELS_AFTER_ALL)
            pattern = op[1:]
            if _has_spaces(pattern):
                raise AclRuleError(ERR_SYNTAX)
            if pattern not in self.channels:
                self.channels.append(pattern)
            self.allchannels = False
        elif op[:1] == b"+" and op[1:2] != b"@":
            self._allow_command(op[1:].decode("latin-1"), catalog)
        elif op[:1] == b"-" and op[1:2] != b"@":
            cmd = catalog.lookup(op[1:].decode("latin-1"))
            if cmd is None:
                raise AclRuleError(ERR_UNKNOWN)
            self._change_perm(cmd, False, catalog)
            self._update_rules(cmd.fullname, False)
        elif op[:1] in (b"+", b"-") and op[1:2] == b"@":
            category = op[2:].decode("latin-1").lower()
            if category not in CATEGORIES:
                raise AclRuleError(ERR_UNKNOWN)
            allow = op[:1] == b"+"
            self._update_rules(op[1:].decode("latin-1"), allow)
            for cmd in catalog.walk():
                if category in cmd.categories:
                    self._change_perm(cmd, allow, catalog)
        else:
            raise AclRuleError(ERR_SYNTAX)

    def _add_key_pattern(self, op: bytes) -> None:
        if self.allkeys:
            raise AclRuleError(ERR_KEYS_AFTER_ALL)
        perms = 0
        offset = 1
        if op[:1] == b"%":
            while offset < len(op):
                c = op[offset : offset + 1]
                if c.upper() == b"R" and not perms & READ:
                    perms |= READ
                elif c.upper() == b"W" and not perms & WRITE:
                    perms |= WRITE
                elif c == b"~" and perms:
                    offset += 1
                    break
                else:
                    raise AclRuleError(ERR_SYNTAX)
                offset += 1
        else:
            perms = ALL_PERMS
        pattern = op[offset:]
        if _has_spaces(pattern):
            raise AclRuleError(ERR_SYNTAX)
        for existing in self.patterns:
            if existing.pattern == pattern:
                existing.perms |= perms
                break
        else:
            self.patterns.append(KeyPattern(perms, pattern))
        self.allkeys = False

    def _allow_command(self, name: str, catalog: CommandCatalog) -> None:
        if "|" not in name:
            cmd = catalog.lookup(name)
            if cmd is None:
                raise AclRuleError(ERR_UNKNOWN)
            self._change_perm(cmd, True, catalog)
            self._update_rules(cmd.fullname, True)
            return
        base_name, _, sub = name.rpartition("|")
        base = catalog.lookup(base_name)
        if base is None:
            raise AclRuleError(ERR_UNKNOWN)
        if base.parent is not None:
            raise AclRuleError(ERR_CHILD)
        if not sub:
            raise AclRuleError(ERR_SYNTAX)
        if base.subcommands:
            subcmd = catalog.lookup(name)
            if subcmd is None:
                raise AclRuleError(ERR_UNKNOWN)
            self._change_perm(subcmd, True, catalog)
        else:
            allowed = self.firstargs.setdefault(base.fullname, [])
            if not any(a.lower() == sub.lower().encode("latin-1") for a in allowed):
                allowed.append(sub.encode("latin-1"))
        self._update_rules(name, True)

    def _change_perm(self, cmd: CatalogCommand, allow: bool, catalog: CommandCatalog) -> None:
        """``ACLChangeSelectorPerm``: the command and, for a container, all its subcommands."""
        names = (cmd.fullname, *cmd.subcommands)
        if allow:
            self.allowed.update(names)
        else:
            self.allowed.difference_update(names)
            self.allcommands = False
        self.firstargs.pop(cmd.fullname, None)

    def _update_rules(self, rule: str, allow: bool) -> None:
        """``ACLUpdateCommandRules``: drop the rules this one overrides, then append it."""
        new = rule.lower()
        self.rules = [r for r in self.rules if not (r[1:] == new or r[1:].startswith(new + "|"))]
        self.rules.append(("+" if allow else "-") + new)

    # -- descriptions --

    def describe_commands(self) -> str:
        head = "+@all" if self.future else "-@all"
        return " ".join([head, *self.rules])

    def describe(self) -> bytes:
        parts: list[bytes] = []
        if self.allkeys:
            parts.append(b"~*")
        else:
            parts.extend(p.describe() for p in self.patterns)
        if self.allchannels:
            parts.append(b"&*")
        else:
            parts.append(b"resetchannels")
            parts.extend(b"&" + c for c in self.channels)
        parts.append(self.describe_commands().encode("latin-1"))
        return b" ".join(parts)

    def keys_text(self) -> bytes:
        if self.allkeys:
            return b"~*"
        return b" ".join(p.describe() for p in self.patterns)

    def channels_text(self) -> bytes:
        if self.allchannels:
            return b"&*"
        return b" ".join(b"&" + c for c in self.channels)

    # -- checks --

    def check_key(self, key: bytes, perms: int) -> bool:
        if self.allkeys:
            return True
        for pattern in self.patterns:
            if pattern.perms & perms == perms and stringmatch(pattern.pattern, key):
                return True
        return False

    def check_channel(self, channel: bytes, is_pattern: bool) -> bool:
        if self.allchannels:
            return True
        for pattern in self.channels:
            if (is_pattern and pattern == channel) or (
                not is_pattern and stringmatch(pattern, channel)
            ):
                return True
        return False

    def has_unrestricted_key_access(self, perms: int) -> bool:
        if self.allkeys:
            return True
        return any(p.perms & perms == perms and p.pattern == b"*" for p in self.patterns)


def _has_spaces(text: bytes) -> bool:
    return any(c in b" \t\n\v\f\r\x00" for c in text)


def hash_password(password: bytes) -> str:
    return hashlib.sha256(password).hexdigest()


def _valid_hash(text: bytes) -> bool:
    return len(text) == 64 and all(c in b"0123456789abcdef" for c in text)


def _password_digest(op: bytes) -> str:
    """The SHA-256 hex a password rule names: hashed (``>``/``<``) or given (``#``/``!``)."""
    if op[:1] in (b">", b"<"):
        return hash_password(op[1:])
    if not _valid_hash(op[1:]):
        raise AclRuleError(ERR_BAD_HASH)
    return op[1:].decode()


# --- users ---------------------------------------------------------------------------------


@dataclass
class User:
    name: bytes
    enabled: bool = False
    nopass: bool = False
    skip_sanitize: bool = False
    passwords: list[str] = field(default_factory=list)
    selectors: list[Selector] = field(default_factory=lambda: [Selector(root=True)])
    allows_all: bool = False
    """:attr:`unrestricted` as of the last :meth:`Acl.refresh` (read once per command)."""

    @property
    def root(self) -> Selector:
        return self.selectors[0]

    @property
    def unrestricted(self) -> bool:
        return any(s.unrestricted for s in self.selectors)

    def flags(self) -> list[str]:
        out = ["on" if self.enabled else "off"]
        if self.nopass:
            out.append("nopass")
        out.append("skip-sanitize-payload" if self.skip_sanitize else "sanitize-payload")
        return out

    def describe(self) -> bytes:
        """``ACLDescribeUser``: the rules that recreate this user (ACL LIST, the ACL file)."""
        out = b"".join(f.encode() + b" " for f in self.flags())
        out += b"".join(b"#" + p.encode() + b" " for p in self.passwords)
        for selector in self.selectors:
            text = selector.describe()
            out += text if selector.root else b" (" + text + b")"
        return out

    def apply(self, op: bytes, catalog: CommandCatalog, pubsub_default_all: bool) -> None:
        """``ACLSetUser``: one rule (raises :class:`AclRuleError`)."""
        if not op:
            return
        low = op.lower()
        if low == b"on":
            self.enabled = True
        elif low == b"off":
            self.enabled = False
        elif low == b"skip-sanitize-payload":
            self.skip_sanitize = True
        elif low == b"sanitize-payload":
            self.skip_sanitize = False
        elif low == b"nopass":
            self.nopass = True
            self.passwords.clear()
        elif low == b"resetpass":
            self.nopass = False
            self.passwords.clear()
        elif op[:1] in (b">", b"#"):
            digest = _password_digest(op)
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.nopass = False
        elif op[:1] in (b"<", b"!"):
            digest = _password_digest(op)
            if digest not in self.passwords:
                raise AclRuleError(ERR_NO_SUCH_PASSWORD)
            self.passwords.remove(digest)
        elif op[:1] == b"(" and op[-1:] == b")":
            selector = Selector(allchannels=pubsub_default_all)
            for inner in split_args(op[1:-1]):
                selector.apply(inner, catalog)
            self.selectors.append(selector)
        elif low == b"clearselectors":
            del self.selectors[1:]
        elif low == b"reset":
            self.nopass = False
            self.passwords.clear()
            root = self.root
            root.allkeys = False
            root.patterns.clear()
            root.allchannels = pubsub_default_all
            root.channels.clear()
            self.enabled = False
            self.skip_sanitize = False
            del self.selectors[1:]
            root.apply(b"-@all", catalog)
        else:
            self.root.apply(op, catalog)

    def check_password(self, password: bytes) -> bool:
        if not self.enabled:
            return False
        if self.nopass:
            return True
        return hash_password(password) in self.passwords


def new_user(name: bytes, pubsub_default_all: bool) -> User:
    """``ACLCreateUser``: off, no password, no commands, no keys, channels per the default."""
    return User(name, selectors=[Selector(root=True, allchannels=pubsub_default_all)])


def split_args(text: bytes) -> list[bytes]:
    """``sdssplitargs`` for a selector's inside: words, with "..." and '...' quoting."""
    out: list[bytes] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i : i + 1].isspace():
            i += 1
        if i >= n:
            return out
        word = bytearray()
        quote = text[i : i + 1] if text[i : i + 1] in (b'"', b"'") else b""
        if quote:
            i += 1
            while i < n and text[i : i + 1] != quote:
                if quote == b'"' and text[i : i + 1] == b"\\" and i + 1 < n:
                    i += 1
                word += text[i : i + 1]
                i += 1
            i += 1
        else:
            while i < n and not text[i : i + 1].isspace():
                word += text[i : i + 1]
                i += 1
        out.append(bytes(word))


def merge_selector_args(args: list[bytes]) -> list[bytes] | int:
    """``ACLMergeSelectorArguments``: a selector spread over several words becomes one; an
    unclosed one gives the index of its opening word."""
    merged: list[bytes] = []
    start = -1
    current = b""
    for j, op in enumerate(args):
        if start == -1 and op[:1] == b"(" and op[-1:] != b")":
            current = op
            start = j
            continue
        if start != -1:
            current += b" " + op
            if op[-1:] == b")":
                start = -1
                merged.append(current)
            continue
        merged.append(op)
    return start if start != -1 else merged


# --- the ACL state ---------------------------------------------------------------------------


@dataclass
class CheckResult:
    reason: int
    index: int
    """The argv index of the denied key or channel (0 for the command itself)."""


KeyFinder = Callable[[list[bytes]], list[tuple[int, int]]]
"""(argv index, READ/WRITE permissions needed) for each key of a command line."""
ChannelFinder = Callable[[str, list[bytes]], list[tuple[int, bool]]]
"""(argv index, is a pattern) for each channel a command subscribes or publishes to."""


def channels_of(name: str, argv: list[bytes]) -> list[tuple[int, bool]]:
    """``getChannelsFromCommand`` for what ACLs check (publish and subscribe, not unsubscribe)."""
    if name in ("subscribe", "ssubscribe"):
        return [(i, False) for i in range(1, len(argv))]
    if name == "psubscribe":
        return [(i, True) for i in range(1, len(argv))]
    if name in ("publish", "spublish"):
        return [(1, False)]
    return []


CHANNEL_COMMANDS = frozenset({"subscribe", "ssubscribe", "psubscribe", "publish", "spublish"})


def check_selector(
    selector: Selector,
    fullname: str,
    argv: list[bytes],
    keys: KeyFinder,
    no_auth: bool,
    cache: list[list[tuple[int, int]]],
) -> CheckResult | None:
    """``ACLSelectorCheckCmd``: the command, then its keys, then its channels. ``cache``
    keeps the keys found for the first selector that needed them."""
    if not selector.allcommands and not no_auth and fullname not in selector.allowed:
        allowed_args = selector.firstargs.get(fullname)
        if len(argv) < 2 or not allowed_args:
            return CheckResult(DENIED_CMD, 0)
        if not any(a.lower() == argv[1].lower() for a in allowed_args):
            return CheckResult(DENIED_CMD, 0)
    if not selector.allkeys:
        if not cache:
            cache.append(keys(argv))
        for idx, perms in cache[0]:
            if not selector.check_key(argv[idx], perms):
                return CheckResult(DENIED_KEY, idx)
    base = fullname.partition("|")[0]
    if not selector.allchannels and base in CHANNEL_COMMANDS:
        for idx, is_pattern in channels_of(base, argv):
            if not selector.check_channel(argv[idx], is_pattern):
                return CheckResult(DENIED_CHANNEL, idx)
    return None


class Acl:
    """The users, the default user, and the ACL log."""

    def __init__(self, catalog: CommandCatalog, pubsub_default_all: bool = False) -> None:
        self.catalog = catalog
        self.pubsub_default_all = pubsub_default_all
        self.users: dict[bytes, User] = {}
        self.default = self.create_default_user()
        self.users[b"default"] = self.default
        self.restricted = False
        """Some user lacks a permission: commands must be checked (else one test per command)."""
        self.auth_required = False
        """The default user needs a password or is off: unauthenticated clients must AUTH."""
        self.refresh()

    def create_default_user(self) -> User:
        user = new_user(b"default", self.pubsub_default_all)
        for op in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            user.apply(op, self.catalog, self.pubsub_default_all)
        return user

    def refresh(self) -> None:
        for user in self.users.values():
            user.allows_all = user.unrestricted
        self.restricted = not all(u.allows_all for u in self.users.values())
        self.auth_required = not self.default.nopass or not self.default.enabled

    def sorted_users(self) -> list[User]:
        return [self.users[name] for name in sorted(self.users)]

    def set_user(self, name: bytes, ops: list[bytes]) -> tuple[User, User | None]:
        """``ACLStringSetUser``: apply ``ops`` all or nothing; returns (the user now, its state
        before, None when created). Raises :class:`AclRuleError` with the full message."""
        merged = merge_selector_args(ops)
        if isinstance(merged, int):
            raise AclRuleError(
                f"Unmatched parenthesis in acl selector starting at '{_c_text(ops[merged])}'."
            )
        existing = self.users.get(name)
        staged = (
            copy.deepcopy(existing)
            if existing is not None
            else new_user(name, self.pubsub_default_all)
        )
        for op in merged:
            try:
                staged.apply(op, self.catalog, self.pubsub_default_all)
            except AclRuleError as err:
                raise AclRuleError(
                    f"Error in ACL SETUSER modifier '{_c_text(op)}': {err.message}"
                ) from None
        before = copy.deepcopy(existing) if existing is not None else None
        if existing is None:
            self.users[name] = staged
            result = staged
        else:
            _copy_user(existing, staged)
            result = existing
        self.refresh()
        return result, before

    def delete_user(self, name: bytes) -> User | None:
        user = self.users.pop(name, None)
        self.refresh()
        return user

    def set_default_password(self, password: bytes | None) -> None:
        """requirepass: Valkey's ``ACLUpdateDefaultUserPassword``."""
        self.default.apply(b"resetpass", self.catalog, self.pubsub_default_all)
        if password:
            self.default.apply(b">" + password, self.catalog, self.pubsub_default_all)
        else:
            self.default.apply(b"nopass", self.catalog, self.pubsub_default_all)
        self.refresh()

    def authenticate(self, name: bytes, password: bytes) -> User | None:
        user = self.users.get(name)
        if user is None or not user.check_password(password):
            return None
        return user

    def check(
        self,
        user: User,
        fullname: str,
        argv: list[bytes],
        keys: KeyFinder,
        no_auth: bool = False,
    ) -> CheckResult | None:
        """``ACLCheckAllUserCommandPerm``: None when allowed."""
        relevant = DENIED_CMD
        last_idx = 0
        cache: list[list[tuple[int, int]]] = []
        for selector in user.selectors:
            failed = check_selector(selector, fullname, argv, keys, no_auth, cache)
            if failed is None:
                return None
            rank, best = _RELEVANCE[failed.reason], _RELEVANCE[relevant]
            if rank > best or (rank == best and failed.index > last_idx):
                relevant, last_idx = failed.reason, failed.index
        return CheckResult(relevant, last_idx)

    def check_with_unrestricted_keys(
        self, user: User, fullname: str, argv: list[bytes], keys: KeyFinder, perms: int
    ) -> bool:
        """``ACLUserCheckCmdWithUnrestrictedKeyAccess``: some selector allows the command and
        reaches every key with ``perms`` (SORT's BY and GET patterns need this)."""
        cache: list[list[tuple[int, int]]] = []
        return any(
            check_selector(s, fullname, argv, keys, False, cache) is None
            and s.has_unrestricted_key_access(perms)
            for s in user.selectors
        )

    def check_channel(self, user: User, channel: bytes, is_pattern: bool) -> bool:
        return any(s.check_channel(channel, is_pattern) for s in user.selectors)


def _copy_user(dst: User, src: User) -> None:
    dst.enabled = src.enabled
    dst.nopass = src.nopass
    dst.skip_sanitize = src.skip_sanitize
    dst.passwords = src.passwords
    dst.selectors = src.selectors


def _c_text(op: bytes) -> str:
    """How Valkey's ``%s`` prints an argument: up to its first NUL."""
    return op.split(b"\x00", 1)[0].decode("utf-8", "replace")


def error_message(
    result: CheckResult, user: User, fullname: str, argv: list[bytes], verbose: bool
) -> str:
    """``getAclErrorMessage`` (without the NOPERM code)."""
    name = user.name.decode("utf-8", "replace")
    if result.reason == DENIED_CMD:
        return f"User {name} has no permissions to run the '{fullname}' command"
    what = "key" if result.reason == DENIED_KEY else "channel"
    if verbose:
        value = argv[result.index].decode("utf-8", "replace")
        return f"User {name} has no permissions to access the '{value}' {what}"
    return f"No permissions to access a {what}"


def lost_channels(new: User, original: User) -> list[bytes] | None:
    """``getUpcomingChannelList``: None when ``new`` can reach every channel ``original`` could,
    else the channel patterns ``new`` allows (subscribers outside them are killed)."""
    if any(s.allchannels for s in new.selectors):
        return None
    upcoming = [c for s in new.selectors for c in s.channels]
    for selector in original.selectors:
        if selector.allchannels:
            return upcoming
        for channel in selector.channels:
            if channel not in upcoming:
                return upcoming
    return None


def violates(upcoming: list[bytes], channels: Iterable[bytes], patterns: Iterable[bytes]) -> bool:
    """``ACLShouldKillPubsubClient`` for a subscriber's channels and patterns."""
    for pattern in patterns:
        if pattern not in upcoming:
            return True
    for channel in channels:
        if not any(stringmatch(p, channel) for p in upcoming):
            return True
    return False


PROTECTED_MODE_DENIED = (
    b"-DENIED Running in protected mode because protected mode is enabled and no password is "
    b"set for the default user. In this mode connections are only accepted from the loopback "
    b"interface. If you want to connect from external computers, you may adopt one of the "
    b"following solutions: 1) Just disable protected mode sending the command 'CONFIG SET "
    b"protected-mode no' from the loopback interface by connecting from the same host the "
    b"server is running, however MAKE SURE it's not publicly accessible from internet if you "
    b"do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just "
    b"disable the protected mode by editing the configuration file, and setting the protected "
    b"mode option to 'no', and then restarting the server. 3) If you started the server "
    b"manually just for testing, restart it with the '--protected-mode no' option. 4) Set up "
    b"an authentication password for the default user. NOTE: You only need to do one of the "
    b"above things in order for the server to start accepting connections from the outside.\r\n"
)


def is_loopback(addr: str) -> bool:
    """Whether a peer ``ip:port`` (or ``[ip6]:port``) is loopback; anything that is no IP
    address (a unix socket's peer) is local, as Valkey's ``connIsLocal`` says."""
    host = addr.rsplit(":", 1)[0].strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def protected_mode_refusal(protected_mode: bool, default_user: User, peer: str) -> bytes | None:
    """What Valkey writes to a new connection it refuses in protected mode (then it closes it):
    protected mode on, no password for the default user, and a peer outside loopback."""
    if protected_mode and default_user.nopass and not is_loopback(peer):
        return PROTECTED_MODE_DENIED
    return None
