"""A short subset of Valkey's own Tcl test suite, run against valsync and real valkey 8.1.8
(``make valkey-suite`` runs all of it): valsync must pass every test real valkey passes.

The suite is ``../shared/valkey-tests`` beside the repository (or ``$VALKEY_TESTS``); it
needs ``tclsh`` (Debian's ``tcl``, installed by ``make test``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = Path(os.environ.get("VALKEY_TESTS", ROOT.parent / "shared" / "valkey-tests"))

# files that run in seconds and that valsync passes today; grow this as features land
SUBSET = [
    "unit/auth",
    "unit/quit",
    "unit/limits",
    "unit/type/incr",
    "unit/protocol",
    "unit/info-command",
    "unit/bitops",
    "unit/bitfield",
    "unit/acl",
    "unit/acl-v2",
    "unit/networking",
    "unit/oom-score-adj",
    "unit/pause",
    "unit/pubsub",
    "unit/pubsubshard",
    "integration/failover",
]


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "valkey_suite_run", ROOT / "tools" / "valkey_suite" / "run.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def suites(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ModuleType, dict[str, Path]]]:
    if not SUITE.is_dir():
        if os.environ.get("CI"):
            raise AssertionError(f"Valkey's test suite is missing at {SUITE}")
        pytest.skip(f"Valkey's test suite is not at {SUITE} (set VALKEY_TESTS)")
    assert shutil.which("tclsh"), "tclsh is needed (Debian's tcl)"
    run = _runner()
    work = tmp_path_factory.mktemp("valkey-suite")
    yield run, {kind: run.prepare(SUITE, kind, work) for kind in ("valsync", "valkey")}


# Valkey's own timing-bound tests (5 s waits) on a 2-core machine: one rerun of a failed
# attempt; a failure that repeats still fails.
@pytest.mark.flaky(reruns=1, reruns_delay=2)
@pytest.mark.parametrize("name", SUBSET)
def test_valsync_passes_what_valkey_passes(
    suites: tuple[ModuleType, dict[str, Path]], name: str
) -> None:
    run, dests = suites
    baseport = 12000 + (os.getpid() % 20) * 1500
    ours = run.run_file(dests["valsync"], name, 300, False, baseport)
    theirs = run.run_file(dests["valkey"], name, 300, False, baseport)
    assert not theirs.exception, f"real valkey aborted {name}: {theirs.exception}"
    assert not ours.exception, f"valsync aborted {name}: {ours.exception}"
    assert ours.ok > 0
    assert set(ours.failures) <= set(theirs.failures), sorted(
        set(ours.failures) - set(theirs.failures)
    )
