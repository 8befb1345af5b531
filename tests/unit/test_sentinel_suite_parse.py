"""run.py reads runtest-sentinel's own output shape (``HH:MM:SS> name: OK`` or ``FAILED``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]

TRANSCRIPT = """\
Starting sentinel #0 at port 25000
Testing unit: 00-base.tcl
01:58:18> (start-init) Flush config and compare rewrite config file lines: OK
01:58:19> (init) Restart killed instances: sentinel/4 OK
01:58:21> SENTINEL CONFIG SET: handles a name with: a colon: OK
01:58:21> Basic failover works if the primary is down: 12345:M 30 Nov 2026 log line
OK
Testing unit: 07-down-conditions.tcl
02:18:37> SDOWN is triggered by misconfigured instance replying with errors: FAILED: Master is not flagged SDOWN
(Jumping to next unit after error)
FAILED: caught an error in the test\x20
Testing unit: 11-port-0.tcl
02:19:11> Start/Stop sentinel on same port: FAILED: caught an error in the test couldn't open socket
Testing unit: 12-primary-reboot.tcl
02:20:11> Primary reboot in very short time: 4242:M 30 Nov 2026 02:20:11.194 * log line
WARNING: Aborting the test.
>>>>>>>> Problems starting valkey #0: ping timeout
"""


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "valkey_suite_run_parse", ROOT / "tools" / "valkey_suite" / "run.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_counts_and_names() -> None:
    run = _runner()
    result = run.FileResult(failures=[])
    run.parse_sentinel(TRANSCRIPT, result)
    assert result.ok == 3
    assert result.failures == [
        "SDOWN is triggered by misconfigured instance replying with errors "
        "(07-down-conditions.tcl): FAILED: Master is not flagged SDOWN",
        "Start/Stop sentinel on same port (11-port-0.tcl): "
        "FAILED: caught an error in the test couldn't open socket",
        "Primary reboot in very short time (12-primary-reboot.tcl): "
        ">>>>>>>> Problems starting valkey #0: ping timeout",
    ]
    assert result.err == 3
    assert result.exception.startswith("11-port-0.tcl: FAILED: caught an error")
