"""The fuzzers' hypothesis profile (``VALSYNC_FUZZ=deep`` selects ``valsync-fuzz``) and the
count of inputs each one tried, printed at the end of the session."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from tests.unit.fuzz.support import DEEP, FACTOR, TRIED

settings.register_profile(
    "valsync-fuzz",
    parent=settings.get_profile("valsync"),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
if DEEP:
    settings.load_profile("valsync-fuzz")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TRIED:
        return
    mode = f"deep, budgets x{FACTOR}" if DEEP else "quick"
    terminalreporter.section(f"fuzz inputs tried ({mode})")
    for name, count in sorted(TRIED.items()):
        terminalreporter.write_line(f"{name:<28} {count:>9}")
