"""The lines a server prints as it starts, in the order Valkey prints them.

Tools that start servers read them: Valkey's own test harness waits for `` PID: <pid>``
(shown in the logo when ``always-show-logo`` is on) followed by ``Server initialized``, then
counts ``Ready to accept`` lines across restarts. The logo is valsync's own drawing; the
facts it carries (mode, port, pid) are laid out as Valkey lays them out.
"""

from __future__ import annotations

from valsync import VALKEY_COMPAT_VERSION, __version__

_DRAWING = (
    r"     __     __    _  ",
    r"     \ \   / /_ _| | ",
    r"      \ \ / / _` | | ",
    r"       \ V / (_| | | ",
    r"        \_/ \__,_|_| ",
    r"           s y n c   ",
)


def version_line(pid: int) -> str:
    return (
        f"valsync version={__version__} (Valkey {VALKEY_COMPAT_VERSION} compatible), "
        f"bits=64, pid={pid}, just started"
    )


def logo(port: int, pid: int) -> str:
    """The block Valkey draws with ``always-show-logo yes`` (plain text, no escape codes)."""
    facts = [
        f"valsync {__version__} (Valkey {VALKEY_COMPAT_VERSION} compatible) 64 bit",
        "",
        "Running in standalone mode",
        f"Port: {port}",
        f"PID: {pid}",
        "",
    ]
    rows = [f"{art}     {fact}".rstrip() for art, fact in zip(_DRAWING, facts, strict=True)]
    return "\n".join(rows) + "\n\n"


def running_mode_line(port: int) -> str:
    """What Valkey logs instead of the logo."""
    return f"Running mode=standalone, port={port}."
