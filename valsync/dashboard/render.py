"""Pure rendering: snapshots and history in, one rich renderable out.

No clock, no I/O: a frame depends only on its arguments, so recorded INFO texts give stable
frames for the snapshot tests. Colour marks what an operator should look at: green healthy,
yellow in progress or drifting, red broken.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from valsync.dashboard.model import History, ReplicaInfo, Sample, ServerSnapshot

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
#: Samples drawn per sparkline (the newest ones).
SPARK_WIDTH = 40
BAR_WIDTH = 30
#: Ack age (Valkey's ``lag``, seconds): replicas ack every second, so 2 is late, 10 is stuck.
ACK_WARN_SECONDS = 2
ACK_BAD_SECONDS = 10
#: Lag in bytes that is worth a colour; under write load a few KiB in flight is normal.
LAG_WARN_BYTES = 64 * 1024
LAG_BAD_BYTES = 1024 * 1024
#: master_last_io_seconds_ago beyond Valkey's default repl-ping-replica-period (10 s) is stale.
LINK_IO_BAD_SECONDS = 10
SYNC_STATES = {"wait_bgsave", "wait_bgsave_end", "send_bulk", "bg_transfer", "wait_rdb_channel"}


def format_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    if n < 1024:
        return f"{int(n)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            break
    return f"{n:.1f} {unit}"


def format_kbps(kbps: float | None) -> str:
    """Valkey's ``instantaneous_*_kbps`` (KiB per second, the mean of the last 1.6 s)."""
    return "—" if kbps is None else format_bytes(kbps * 1024) + "/s"


def sparkline(values: Sequence[float | None], width: int = SPARK_WIDTH) -> str:
    """Block characters scaled to the largest value shown; a gap (down, no rate yet) is a space."""
    values = list(values)[-width:]
    top = max((v for v in values if v is not None), default=0.0)
    chars = []
    for v in values:
        if v is None:
            chars.append(" ")
        elif top <= 0:
            chars.append(SPARK_BLOCKS[0])
        else:
            idx = round(v / top * (len(SPARK_BLOCKS) - 1))
            chars.append(SPARK_BLOCKS[max(0, min(idx, len(SPARK_BLOCKS) - 1))])
    return "".join(chars).ljust(width)


def bar(done: int, total: int, width: int = BAR_WIDTH, style: str = "yellow") -> Text:
    """A text progress bar that reads the same in a terminal, a pipe and a snapshot file
    (rich's ProgressBar draws its empty part only in colour, so plain output loses it)."""
    frac = 0.0 if total <= 0 else min(max(done / total, 0.0), 1.0)
    filled = int(frac * width)
    text = Text("█" * filled, style=style)
    text.append("░" * (width - filled), style="dim")
    return text


def state_style(state: str) -> str:
    if state == "online":
        return "green"
    if state in SYNC_STATES:
        return "yellow"
    return "red"


def lag_bytes_style(lag: int | None, backlog_size: int | None) -> str:
    if lag is None:
        return "dim"
    if lag == 0:
        return "green"
    if lag >= LAG_BAD_BYTES or (backlog_size and lag > backlog_size // 2):
        return "red"
    if lag >= LAG_WARN_BYTES:
        return "yellow"
    return ""


def ack_style(seconds: int) -> str:
    if seconds >= ACK_BAD_SECONDS:
        return "red"
    if seconds >= ACK_WARN_SECONDS:
        return "yellow"
    return "green"


def link_style(snap: ServerSnapshot) -> str:
    link = snap.link
    if link is None:
        return "green"
    if link.status == "up":
        if link.last_io_seconds_ago is not None and link.last_io_seconds_ago > LINK_IO_BAD_SECONDS:
            return "red"
        return "green"
    return "yellow" if link.sync_in_progress else "red"


def _health_style(snap: ServerSnapshot) -> str:
    """Border colour of a server's panel: the worst thing inside it."""
    if not snap.up:
        return "red"
    styles = [link_style(snap)]
    for r in snap.replicas:
        styles.append(state_style(r.state))
        if r.state == "online":
            styles.append(ack_style(r.lag))
            styles.append(lag_bytes_style(snap.replica_lag_bytes(r), snap.backlog_size))
    if snap.fork is not None:
        styles.append("yellow")
    for worst in ("red", "yellow"):
        if worst in styles:
            return worst
    return "green"


def _role_name(snap: ServerSnapshot) -> str:
    return {"master": "primary", "slave": "replica"}.get(snap.role or "", snap.role or "?")


def _title(snap: ServerSnapshot) -> Text:
    title = Text()
    title.append(snap.target, style="bold")
    if snap.pending:
        title.append("  connecting", style="bold yellow")
        return title
    if not snap.up:
        title.append("  DOWN", style="bold red")
        return title
    title.append(f"  {_role_name(snap)}", style="bold cyan")
    if snap.is_valsync:
        title.append("  valsync", style="bold magenta")
        if snap.version:
            title.append(f" (valkey {snap.version})", style="dim")
    elif snap.version:
        title.append(f"  valkey {snap.version}", style="dim")
    if snap.failover_state and snap.failover_state != "no-failover":
        title.append(f"  FAILOVER {snap.failover_state}", style="bold yellow")
    return title


def _kv(grid: Table, *pairs: tuple[str, Text | str]) -> None:
    row: list[Text | str] = []
    for key, value in pairs:
        row.extend([Text(key, style="dim"), value])
    grid.add_row(*row)


def _summary(snap: ServerSnapshot) -> Table:
    grid = Table.grid(padding=(0, 2))
    for _ in range(3):
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
    _kv(
        grid,
        ("replid", snap.replid or "—"),
        ("offset", str(snap.master_repl_offset) if snap.master_repl_offset is not None else "—"),
        ("ops/s", str(snap.ops_per_sec) if snap.ops_per_sec is not None else "—"),
    )
    _kv(
        grid,
        ("net in/out", f"{format_kbps(snap.input_kbps)} / {format_kbps(snap.output_kbps)}"),
        ("repl in", format_kbps(snap.input_repl_kbps)),
        ("repl out", format_kbps(snap.output_repl_kbps)),
    )
    backlog = Text(format_bytes(snap.backlog_size))
    if snap.backlog_active is not None:
        backlog.append(" active" if snap.backlog_active else " inactive", style="dim")
    first = snap.backlog_first_byte_offset
    _kv(
        grid,
        ("backlog", backlog),
        ("histlen", format_bytes(snap.backlog_histlen)),
        ("first byte", str(first) if first is not None else "—"),
    )
    if snap.is_primary or snap.replica_clients:
        clients = "—" if snap.replica_clients is None else str(snap.replica_clients)
        _kv(
            grid,
            (
                "replicas",
                str(snap.connected_replicas) if snap.connected_replicas is not None else "—",
            ),
            ("repl clients", clients),
            ("repl obuf", format_bytes(snap.replica_output_bytes)),
        )
    return grid


def _fork(snap: ServerSnapshot) -> Table | None:
    fork = snap.fork
    if fork is None:
        return None
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(width=BAR_WIDTH)
    grid.add_column(no_wrap=True)
    label = Text(f"fork: {fork.kind} child", style="yellow")
    if fork.keys_total:
        done = fork.keys_processed or 0
        progress: RenderableType = bar(done, fork.keys_total)
        detail = f"{done}/{fork.keys_total} keys"
    else:
        progress, detail = Text("in progress", style="yellow"), "keys —"
    if fork.percent is not None:
        detail += f" ({fork.percent:.1f}%)"
    if fork.seconds is not None:
        detail += f"  {fork.seconds}s"
    if fork.cow_bytes is not None:
        detail += f"  cow {format_bytes(fork.cow_bytes)}"
    grid.add_row(label, progress, detail)
    return grid


def _replica_row(snap: ServerSnapshot, r: ReplicaInfo) -> list[Text]:
    lag = snap.replica_lag_bytes(r)
    online = r.state == "online"
    return [
        Text(r.address),
        Text(r.type or "replica", style="dim"),
        Text(r.state, style=state_style(r.state)),
        Text(str(r.offset)),
        Text(format_bytes(lag), style=lag_bytes_style(lag, snap.backlog_size)),
        Text(f"{r.lag}s" if online else "—", style=ack_style(r.lag) if online else "dim"),
    ]


def _replicas(snap: ServerSnapshot) -> Table | None:
    if not snap.replicas:
        return None
    table = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 2))
    for name in ("replica", "type", "state"):
        table.add_column(name, no_wrap=True)
    for name in ("offset", "lag", "last ack"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in snap.replicas:
        table.add_row(*_replica_row(snap, r))
    return table


def _link(snap: ServerSnapshot) -> Table | None:
    link = snap.link
    if link is None:
        return None
    grid = Table.grid(padding=(0, 2))
    for _ in range(4):
        grid.add_column(no_wrap=True)
    status = Text(link.status, style=link_style(snap))
    if link.role_state:
        status.append(f" ({link.role_state})", style="dim")
    io = link.last_io_seconds_ago
    io_text = Text("—" if io is None or io < 0 else f"{io}s ago")
    if io is not None and io > LINK_IO_BAD_SECONDS:
        io_text.stylize("red")
    _kv(grid, ("primary", f"{link.master_host}:{link.master_port}"), ("link", status))
    offset = "—" if link.repl_offset is None else str(link.repl_offset)
    _kv(grid, ("last io", io_text), ("replica offset", offset))
    if link.status != "up" and link.down_since_seconds is not None and link.down_since_seconds >= 0:
        _kv(grid, ("down for", Text(f"{link.down_since_seconds}s", style="red")))
    out = Table.grid(padding=(0, 2))
    out.add_column(no_wrap=True)
    out.add_row(grid)
    if link.sync_in_progress:
        out.add_row(
            _sync_progress(
                link.sync_read_bytes, link.sync_total_bytes, link.sync_last_io_seconds_ago
            )
        )
    return out


def _sync_progress(read: int | None, total: int | None, last_io: int | None) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(width=BAR_WIDTH)
    grid.add_column(no_wrap=True)
    label = Text("full sync", style="yellow")
    tail = "" if last_io is None else f"  last io {last_io}s ago"
    if total is not None and total > 0:
        done = read or 0
        grid.add_row(
            label, bar(done, total), f"{format_bytes(done)} of {format_bytes(total)}{tail}"
        )
    elif not read:
        # Valkey reports total -1 until the primary sends the RDB header: it is still saving.
        grid.add_row(label, Text("waiting for the RDB", style="dim"), f"primary still saving{tail}")
    else:
        # Diskless (EOF-marked) transfers have no size up front.
        grid.add_row(
            label, Text("size unknown (diskless)", style="dim"), f"{format_bytes(read)} read{tail}"
        )
    return grid


def _sparklines(snap: ServerSnapshot, samples: list[Sample]) -> Table | None:
    if not samples:
        return None
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, style="dim")
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    rates = [s.repl_bytes_per_sec for s in samples]
    last_rate = next((r for r in reversed(rates) if r is not None), None)
    peak = max((r for r in rates if r is not None), default=None)
    rate_text = "—" if last_rate is None else f"{format_bytes(last_rate)}/s"
    if peak:
        rate_text += f"  peak {format_bytes(peak)}/s"
    grid.add_row("writes", Text(sparkline(rates), style="cyan"), rate_text)
    if snap.is_primary and snap.replicas:
        lags: list[float | None] = [
            None if s.max_lag_bytes is None else float(s.max_lag_bytes) for s in samples
        ]
        last = samples[-1].max_lag_bytes
        grid.add_row(
            "max lag",
            Text(sparkline(lags), style="magenta"),
            Text(format_bytes(last), style=lag_bytes_style(last, snap.backlog_size)),
        )
    return grid


def render_server(snap: ServerSnapshot, samples: list[Sample] | None = None) -> Panel:
    """One server's panel; a down server is a single red line, retried by the poller."""
    if snap.pending:
        body = Text("waiting for the first reply", style="dim")
        return Panel(body, title=_title(snap), title_align="left", border_style="yellow")
    if not snap.up:
        body = Text(snap.error or "unreachable", style="red")
        if snap.down_for is not None:
            body.append(f"  (down {snap.down_for:.0f}s, retrying)", style="dim")
        else:
            body.append("  (retrying)", style="dim")
        return Panel(body, title=_title(snap), title_align="left", border_style="red")
    parts: list[RenderableType] = [_summary(snap)]
    for part in (_fork(snap), _replicas(snap), _link(snap), _sparklines(snap, samples or [])):
        if part is not None:
            parts.append(Text(""))
            parts.append(part)
    return Panel(
        Group(*parts), title=_title(snap), title_align="left", border_style=_health_style(snap)
    )


def render(
    snapshots: Sequence[ServerSnapshot],
    history: History | None = None,
    *,
    footer: str | None = None,
) -> RenderableType:
    """The whole frame: a header line and one panel per server, in the order given."""
    down = sum(1 for s in snapshots if not s.up and not s.pending)
    header = Text("valsync dashboard", style="bold")
    header.append(f"  {len(snapshots)} server{'s' if len(snapshots) != 1 else ''}", style="dim")
    if down:
        header.append(f"  {down} down", style="bold red")
    if footer:
        header.append(f"  {footer}", style="dim")
    panels = [
        render_server(s, history.for_target(s.target) if history else None) for s in snapshots
    ]
    return Group(header, *panels)
