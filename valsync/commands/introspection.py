"""What operators look at first: SLOWLOG, COMMANDLOG, LATENCY and MONITOR (Valkey 8.1.8).

The state lives with the server (:mod:`valsync.commandlog`, :mod:`valsync.latency`,
:mod:`valsync.cmdstats`, :mod:`valsync.monitor`); these handlers only read and reset it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from valsync.cmdstats import cumulative_distribution
from valsync.commandlog import LOG_TYPES, CommandLog
from valsync.commands.context import CommandContext
from valsync.commands.errors import SYNTAX, CommandError, parse_int
from valsync.commands.registry import COMMANDS, command
from valsync.commands.server_cmds import (
    CLIENT_SUBCOMMANDS,
    SUBCOMMAND_ARITY,
    check_subcommand,
    server_of,
)
from valsync.latency import DoctorInputs, anon_huge_pages_kb, doctor_report
from valsync.resp.reply import NO_REPLY, OK, MapReply, Reply, SetReply, SimpleString, Verbatim
from valsync.tracking import ClientTracking, prefixes_overlap

SUBCOMMAND_ARITY["slowlog"] = {b"get": -2, b"len": 2, b"reset": 2, b"help": 2}
SUBCOMMAND_ARITY["commandlog"] = {b"get": 4, b"len": 3, b"reset": 3, b"help": 2}
SUBCOMMAND_ARITY["latency"] = {
    b"doctor": 2,
    b"graph": 3,
    b"help": 2,
    b"histogram": -2,
    b"history": 3,
    b"latest": 2,
    b"reset": -2,
}

if TYPE_CHECKING:
    from valsync.server import Server

COUNT_ERROR = "ERR count should be greater than or equal to -1"
TYPE_ERROR = "ERR type should be one of the following: slow, large-request, large-reply"


def _help(lines: str) -> Reply:
    return [SimpleString(line) for line in lines.strip("\n").split("\n")]


SLOWLOG_HELP = """
SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:
GET [<count>]
    Return top <count> entries from the slowlog (default: 10, -1 mean all).
    Entries are made of:
    id, timestamp, time in microseconds, arguments array, client IP and port,
    client name
LEN
    Return the length of the slowlog.
RESET
    Reset the slowlog.
HELP
    Print this help.
"""

COMMANDLOG_HELP = """
COMMANDLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:
GET <count> <type>
    Return top <count> entries of the specified <type> from the commandlog (-1 mean all).
    Entries are made of:
    id, timestamp,
        time in microseconds for type of slow,
        or size in bytes for type of large-request,
        or size in bytes for type of large-reply
    arguments array, client IP and port,
    client name
LEN <type>
    Return the length of the specified type of commandlog.
RESET <type>
    Reset the specified type of commandlog.
HELP
    Print this help.
"""

LATENCY_HELP = """
LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:
DOCTOR
    Return a human readable latency analysis report.
GRAPH <event>
    Return an ASCII latency graph for the <event> class.
HISTORY <event>
    Return time-latency samples for the <event> class.
LATEST
    Return the latest latency samples for all events.
RESET [<event> ...]
    Reset latency data of one or more <event> classes.
    (default: reset all data for all event classes)
HISTOGRAM [COMMAND ...]
    Return a cumulative distribution of latencies in the format of a histogram for the \
specified command names.
    If no commands are specified then all histograms are replied.
HELP
    Print this help.
"""


# --- SLOWLOG / COMMANDLOG -----------------------------------------------------------------


def _entries(log: CommandLog, count: int) -> Reply:
    return [
        [e.id, e.time, e.value, list(e.argv), e.addr.encode(), e.name] for e in log.latest(count)
    ]


def _count(arg: bytes) -> int:
    count = parse_int(arg, COUNT_ERROR)
    if count < -1:
        raise CommandError(COUNT_ERROR)
    return count


@command("slowlog", -2, "")
def slowlog(ctx: CommandContext, argv: list[bytes]) -> Reply:
    logs = server_of(ctx).commandlogs
    sub = check_subcommand("slowlog", argv)
    if sub == b"get":
        if len(argv) > 3:
            raise CommandError(
                "ERR unknown subcommand or wrong number of arguments for "
                f"'{argv[1].decode('utf-8', 'replace')}'. Try SLOWLOG HELP."
            )
        return _entries(logs.slow, _count(argv[2]) if len(argv) == 3 else 10)
    if sub == b"len":
        return len(logs.slow.entries)
    if sub == b"reset":
        logs.slow.reset()
        return OK
    return _help(SLOWLOG_HELP)


def _log_type(arg: bytes) -> str:
    kind = arg.lower().decode("latin-1")
    if kind not in LOG_TYPES:
        raise CommandError(TYPE_ERROR)
    return kind


@command("commandlog", -2, "")
def commandlog(ctx: CommandContext, argv: list[bytes]) -> Reply:
    logs = server_of(ctx).commandlogs.logs
    sub = check_subcommand("commandlog", argv)
    if sub == b"get":
        count = _count(argv[2])
        return _entries(logs[_log_type(argv[3])], count)
    if sub == b"len":
        return len(logs[_log_type(argv[2])].entries)
    if sub == b"reset":
        logs[_log_type(argv[2])].reset()
        return OK
    return _help(COMMANDLOG_HELP)


# --- MONITOR ------------------------------------------------------------------------------


@command("monitor", 1, "admin noscript loading stale")
def monitor(ctx: CommandContext, argv: list[bytes]) -> Reply:
    client = ctx.client
    if ctx.in_multi_exec:
        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if client.is_replica or client.monitor:
        return NO_REPLY
    client.monitor = True
    server_of(ctx).monitors.append(client)
    return OK


# --- LATENCY ------------------------------------------------------------------------------


@command("latency", -2, "")
def latency(ctx: CommandContext, argv: list[bytes]) -> Reply:
    server = server_of(ctx)
    monitor_ = server.latency
    sub = check_subcommand("latency", argv)
    now_s = int(time.time())
    if sub == b"latest":
        out: list[Reply] = []
        for event, series in monitor_.events.items():
            when, last = series.samples[-1] if series.samples else (0, 0)
            out.append([event.encode(), when, last, series.max, series.sum, series.count])
        return out
    if sub == b"history":
        found = monitor_.events.get(argv[2].decode("utf-8", "surrogateescape"))
        if found is None:
            return []
        return [[when, lat] for when, lat in found.samples]
    if sub == b"graph":
        event = argv[2].decode("utf-8", "surrogateescape")
        if event not in monitor_.events:
            raise CommandError(f"ERR No samples available for event '{event}'")
        return Verbatim(monitor_.graph(event, now_s).encode())
    if sub == b"reset":
        if len(argv) == 2:
            return monitor_.reset()
        return monitor_.reset([a.decode("utf-8", "surrogateescape") for a in argv[2:]])
    if sub == b"doctor":
        cfg = server.config
        inputs = DoctorInputs(
            threshold_ms=cfg.get_int("latency-monitor-threshold"),
            slowlog_slower_than=cfg.get_int("slowlog-log-slower-than"),
            slowlog_max_len=cfg.get_int("slowlog-max-len"),
            hz=cfg.get_int("hz"),
            anon_huge_pages=anon_huge_pages_kb(),
        )
        return Verbatim(doctor_report(monitor_, inputs, now_s).encode())
    if sub == b"histogram":
        return _histograms(server, argv[2:])
    return _help(LATENCY_HELP)


def _histograms(server: Server, names: list[bytes]) -> Reply:
    table = server.cmdstats.commands
    if names:
        wanted: list[str] = []
        for raw in names:
            name = raw.lower().decode("latin-1")
            if name not in COMMANDS and "|" not in name:
                continue
            wanted.extend(n for n in table if n == name or n.startswith(name + "|"))
    else:
        wanted = list(table)
    pairs: list[tuple[Reply, Reply]] = []
    for name in wanted:
        histogram = table[name].histogram
        if not histogram:
            continue
        cdf = cumulative_distribution(histogram)
        pairs.append(
            (
                name.encode(),
                MapReply(
                    [
                        (b"calls", sum(histogram.values())),
                        (b"histogram_usec", MapReply([(b, n) for b, n in cdf])),
                    ]
                ),
            )
        )
    return MapReply(pairs)


# --- CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO / NO-TOUCH / CAPA ---------------


def _client_tracking(ctx: CommandContext, argv: list[bytes]) -> Reply:
    server = server_of(ctx)
    client = ctx.client
    settings = ClientTracking()
    redirect_given = False
    i = 3
    while i < len(argv):
        opt = argv[i].lower()
        more = i + 1 < len(argv)
        if opt == b"redirect" and more:
            i += 1
            if redirect_given:
                raise CommandError("ERR A client can only redirect to a single other client")
            settings.redirect = parse_int(argv[i])
            redirect_given = True
            if settings.redirect not in server.clients:
                raise CommandError("ERR The client ID you want redirect to does not exist")
        elif opt == b"bcast":
            settings.bcast = True
        elif opt == b"optin":
            settings.optin = True
        elif opt == b"optout":
            settings.optout = True
        elif opt == b"noloop":
            settings.noloop = True
        elif opt == b"prefix" and more:
            i += 1
            settings.prefixes.append(argv[i])
        else:
            raise CommandError(SYNTAX)
        i += 1
    mode = argv[2].lower()
    if mode == b"off":
        server.tracking.disable(client)
        return OK
    if mode != b"on":
        raise CommandError(SYNTAX)
    current = client.tracking
    if not settings.bcast and settings.prefixes:
        raise CommandError("ERR PREFIX option requires BCAST mode to be enabled")
    if current is not None and current.bcast != settings.bcast:
        raise CommandError(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
            "and then re-enabling it with a different mode."
        )
    if settings.bcast and (settings.optin or settings.optout):
        raise CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
    if settings.optin and settings.optout:
        raise CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
    if current is not None and (
        (settings.optin and current.optout) or (settings.optout and current.optin)
    ):
        raise CommandError(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
            "and then re-enabling it with a different mode."
        )
    if settings.bcast:
        existing = current.prefixes if current is not None else []
        overlap = prefixes_overlap(settings.prefixes, existing)
        if overlap is not None and overlap[2]:
            a, b = (p.decode("utf-8", "replace") for p in overlap[:2])
            raise CommandError(
                f"ERR Prefix '{a}' overlaps with an existing prefix '{b}'. "
                "Prefixes for a single client must not overlap."
            )
        if overlap is not None:
            a, b = (p.decode("utf-8", "replace") for p in overlap[:2])
            raise CommandError(
                f"ERR Prefix '{a}' overlaps with another provided prefix '{b}'. "
                "Prefixes for a single client must not overlap."
            )
    if current is not None and current.bcast:
        # prefixes add up across CLIENT TRACKING ON calls in BCAST mode
        settings.prefixes = current.prefixes + [
            p for p in settings.prefixes if p not in current.prefixes
        ]
    server.tracking.enable(client, settings)
    return OK


def _client_caching(ctx: CommandContext, argv: list[bytes]) -> Reply:
    settings = ctx.client.tracking
    if settings is None:
        raise CommandError(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
            "OPTIN or OPTOUT mode enabled"
        )
    opt = argv[2].lower()
    if opt == b"yes":
        if not settings.optin:
            raise CommandError(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
            )
    elif opt == b"no":
        if not settings.optout:
            raise CommandError(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
            )
    else:
        raise CommandError(SYNTAX)
    settings.caching = True
    return OK


def _client_getredir(ctx: CommandContext, argv: list[bytes]) -> Reply:
    settings = ctx.client.tracking
    return settings.redirect if settings is not None else -1


def _client_trackinginfo(ctx: CommandContext, argv: list[bytes]) -> Reply:
    settings = ctx.client.tracking
    if settings is None:
        return MapReply([(b"flags", SetReply([b"off"])), (b"redirect", -1), (b"prefixes", [])])
    prefixes: list[Reply] = list(sorted(settings.prefixes) if settings.bcast else [])
    flags: list[Reply] = list(settings.flags())
    return MapReply(
        [(b"flags", SetReply(flags)), (b"redirect", settings.redirect), (b"prefixes", prefixes)]
    )


def _on_off(arg: bytes) -> bool:
    word = arg.lower()
    if word not in (b"on", b"off"):
        raise CommandError(SYNTAX)
    return word == b"on"


def _client_no_touch(ctx: CommandContext, argv: list[bytes]) -> Reply:
    ctx.client.no_touch = _on_off(argv[2])
    return OK


def _client_capa(ctx: CommandContext, argv: list[bytes]) -> Reply:
    for arg in argv[2:]:
        if arg.lower() == b"redirect":
            ctx.client.capa_redirect = True
    return OK


CLIENT_SUBCOMMANDS.update(
    {
        b"tracking": _client_tracking,
        b"caching": _client_caching,
        b"getredir": _client_getredir,
        b"trackinginfo": _client_trackinginfo,
        b"no-touch": _client_no_touch,
        b"capa": _client_capa,
    }
)


@command("readonly", 1, "fast loading stale")
def readonly(ctx: CommandContext, argv: list[bytes]) -> Reply:
    """Reads on a replica are served to a CLIENT CAPA redirect client (outside cluster mode)."""
    ctx.client.readonly = True
    return OK


@command("readwrite", 1, "fast loading stale")
def readwrite(ctx: CommandContext, argv: list[bytes]) -> Reply:
    ctx.client.readonly = False
    return OK
