"""Run Valkey's own Tcl test suite against valsync and against real valkey-server 8.1.8.

The suite (``../shared/valkey-tests`` by default) is copied to a temp folder whose ``src/``
holds small wrappers: ``valkey-server`` (valsync, or the real 8.1.8 binary),
``valkey-cli`` (the real 8.1.8 cli from the test extra), ``valkey-benchmark``
(redis-benchmark) and ``valkey-sentinel`` (the real binary in sentinel mode). Each test file
runs on its own (an exception ends the harness's whole run), with one test client, and the
table gives per file and per server: ok / err / exception (or timeout).

``--files sentinel`` runs ``runtest-sentinel`` instead (real sentinels, the chosen server as
every monitored instance; ``sentinel/<pattern>`` for some of its units), on ports taken from
``--baseport``; its tests count as one file.

``skiplist.tsv`` beside this file lists what valsync does not do by design, one test a line:
the harness's test name (or ``/regexp``), a tab, the reason.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from tests.realvalkey import valkey_cli_bin, valkey_server_bin  # noqa: E402

SENTINEL_FILES = "sentinel"  # --files sentinel: runtest-sentinel's whole suite

REPLICATION_FILES = [
    "integration/replication",
    "integration/replication-2",
    "integration/replication-3",
    "integration/replication-4",
    "integration/replication-psync",
    "integration/replication-buffer",
    "integration/psync2",
    "integration/psync2-reg",
    "integration/psync2-pingoff",
    "integration/psync2-master-restart",
    "integration/block-repl",
    "integration/dual-channel-replication",
    "integration/failover",
    "integration/rdb",
    "integration/replica-redirect",
]

STATUS = re.compile(r"^\[(ok|err|exception|skip|ignore)\]: (.*?)(?: \(\d+ ms\))?$")
# runtest-sentinel prints "HH:MM:SS> name: " then OK or FAILED (maybe lines later)
SENTINEL_TEST = re.compile(r"^\d\d:\d\d:\d\d> (.*)$")


@dataclass
class FileResult:
    ok: int = 0
    err: int = 0
    skip: int = 0
    exception: str = ""
    seconds: float = 0.0
    failures: list[str] | None = None

    def cell(self) -> str:
        tail = f" EXC({self.exception})" if self.exception else ""
        return f"{self.ok}/{self.err}{tail}"


def unit_files(suite: Path) -> list[str]:
    names = sorted(p.stem for p in (suite / "tests/unit").glob("*.tcl"))
    types = sorted(p.stem for p in (suite / "tests/unit/type").glob("*.tcl"))
    return [f"unit/{n}" for n in names] + [f"unit/type/{n}" for n in types]


def _wrapper(path: Path, command: str) -> None:
    path.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
    path.chmod(0o755)


def prepare(suite: Path, server: str, work: Path) -> Path:
    """A writable copy of the suite whose src/ runs ``server`` (valsync or valkey)."""
    dest = work / f"suite-{server}"
    shutil.copytree(suite, dest, symlinks=True)
    src = dest / "src"
    src.mkdir(exist_ok=True)
    real = valkey_server_bin("8.1.8")
    if server == "valsync":
        env_path = f"PYTHONPATH={ROOT}" if os.environ.get("PYTHONPATH") else ""
        _wrapper(src / "valkey-server", f"env {env_path} {sys.executable} -m valsync serve".strip())
    else:
        _wrapper(src / "valkey-server", real)
    # the real binary runs as a sentinel when its name says so
    (src / "valkey-sentinel").symlink_to(real)
    _wrapper(src / "valkey-cli", valkey_cli_bin())
    bench = shutil.which("redis-benchmark") or "false"
    _wrapper(src / "valkey-benchmark", bench)
    skip = dest / "valsync-skipfile"
    skip.write_text("\n".join(name for name in skiplist() if not name.startswith("file:")) + "\n")
    return dest


def skiplist() -> list[str]:
    """The first column of skiplist.tsv (tests, /regexps, and file:<name> entries)."""
    out = []
    for raw in (HERE / "skiplist.tsv").read_text().splitlines():
        if raw.strip() and not raw.startswith("#"):
            out.append(raw.split("\t", 1)[0])
    return out


def use_sentinel_ports(dest: Path, baseport: int) -> None:
    """runtest-sentinel's fixed ports (20000, 30000) may be another harness's: use ours."""
    instances = dest / "tests" / "instances.tcl"
    text = re.sub(
        r"(?m)^set ::sentinel_base_port \d+$",
        f"set ::sentinel_base_port {baseport + 1000}",
        instances.read_text(),
    )
    text = re.sub(
        r"(?m)^set ::valkey_base_port \d+$", f"set ::valkey_base_port {baseport + 1100}", text
    )
    instances.write_text(text)


def sentinel_argv(name: str) -> list[str]:
    """runtest-sentinel (whole, or ``sentinel/<pattern>``: the unit files matching it)."""
    argv = [shutil.which("tclsh") or "tclsh", "tests/sentinel/run.tcl"]
    if name.startswith(SENTINEL_FILES + "/"):
        argv += ["--single", name.split("/", 1)[1]]
    return argv


def parse_sentinel(text: str, result: FileResult) -> None:
    assert result.failures is not None
    unit = ""
    pending = ""
    unit_failed = False
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith("Testing unit: "):
            unit = line[len("Testing unit: ") :]
            unit_failed = False
            continue
        m = SENTINEL_TEST.match(line)
        rest = line
        if m is not None:
            body = m.group(1)
            if body.endswith(": OK"):
                descr, rest = body[: -len(": OK")], "OK"
            elif ": FAILED:" in body:
                descr, failure = body.split(": FAILED:", 1)
                rest = "FAILED:" + failure
            else:  # the verdict comes later; a server's log may follow the name
                descr, rest = body.rstrip(": ").split(": ", 1)[0], ""
            pending = f"{descr} ({unit})"
        if rest.startswith("FAILED: caught an error") or rest.startswith(">>>>>>>> "):
            if pending or not unit_failed:  # else: the unit's failed test, reported again
                result.err += 1
                result.failures.append(f"{pending or unit}: {rest}")
                if not result.exception:
                    result.exception = f"{unit}: {rest}"[:60]
            unit_failed = True
            pending = ""
        elif pending and rest == "OK":
            result.ok += 1
            pending = ""
        elif pending and rest.startswith("FAILED:"):
            result.err += 1
            unit_failed = True
            result.failures.append(f"{pending}: {rest}")
            pending = ""


def run_file(dest: Path, name: str, timeout: float, verbose: bool, baseport: int) -> FileResult:
    result = FileResult(failures=[])
    argv = [
        shutil.which("tclsh") or "tclsh",
        "tests/test_helper.tcl",
        "--single",
        name,
        "--clients",
        "1",
        "--skipfile",
        "valsync-skipfile",
        # cluster mode is outside valsync by design: servers tagged "cluster" (started with
        # cluster-enabled yes) and their tests are left out for both servers alike
        "--tags",
        "-cluster",
        "--timeout",
        str(int(timeout)),
        "--baseport",
        str(baseport),
        "--portcount",
        "1000",
    ]
    sentinel = name == SENTINEL_FILES or name.startswith(SENTINEL_FILES + "/")
    if sentinel:
        use_sentinel_ports(dest, baseport)
        argv = sentinel_argv(name)
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out:
        # its own process group: the harness's test clients and servers go with it, so a
        # timed-out file leaves nothing running on the next file's ports
        proc = subprocess.Popen(
            argv, cwd=dest, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            result.exception = "timeout"
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    result.seconds = time.monotonic() - t0
    clean = re.sub(r"\x1b\[[0-9;]*m", "", text)
    if sentinel:
        parse_sentinel(clean, result)
        if verbose:
            print(clean[-4000:] if result.exception else "", end="")
        return result
    for line in clean.splitlines():
        m = STATUS.match(line.strip())
        if m is None:
            continue
        status, what = m.groups()
        if status == "ok":
            result.ok += 1
        elif status == "err":
            result.err += 1
            assert result.failures is not None
            result.failures.append(what)
        elif status == "skip":
            result.skip += 1
        elif status == "exception" and not result.exception:
            result.exception = what[:60]
    if verbose:
        print(clean[-4000:] if result.exception else "", end="")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default=str(ROOT.parent / "shared" / "valkey-tests"))
    parser.add_argument("--servers", default="valsync,valkey")
    parser.add_argument("--files", default="replication,unit", help="replication, unit, or names")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per file")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--baseport",
        type=int,
        default=12000 + (os.getpid() % 20) * 1500,
        help="first port of the harness's range (runs side by side need different ones)",
    )
    parser.add_argument("--failures", action="store_true", help="list failed tests")
    args = parser.parse_args()
    suite = Path(args.suite).resolve()
    files: list[str] = []
    for part in args.files.split(","):
        if part == "replication":
            files += REPLICATION_FILES
        elif part == "unit":
            files += unit_files(suite)
        elif part:
            files.append(part)
    skipped_files = {name[5:] for name in skiplist() if name.startswith("file:")}
    files = [f for f in files if f not in skipped_files]
    servers = [s for s in args.servers.split(",") if s]
    results: dict[str, dict[str, FileResult]] = {s: {} for s in servers}
    with tempfile.TemporaryDirectory(prefix="valkey-suite-") as tmp:
        dests = {s: prepare(suite, s, Path(tmp)) for s in servers}
        for name in files:
            for server in servers:
                res = run_file(dests[server], name, args.timeout, args.verbose, args.baseport)
                results[server][name] = res
                print(f"{name:45} {server:8} {res.cell():>24} {res.seconds:7.1f}s", flush=True)
                if args.failures and res.failures:
                    for what in res.failures:
                        print(f"    err: {what}")
    print()
    print(f"Valkey test suite, {time.strftime('%Y-%m-%d')} (ok/err; EXC = file aborted)")
    print(f"| file | {' | '.join(servers)} |")
    print(f"|---|{'---:|' * len(servers)}")
    for name in files:
        print(f"| {name} | {' | '.join(results[s][name].cell() for s in servers)} |")
    totals = {
        s: (sum(r.ok for r in results[s].values()), sum(r.err for r in results[s].values()))
        for s in servers
    }
    print(f"| **total** | {' | '.join(f'{ok}/{err}' for ok, err in totals.values())} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
