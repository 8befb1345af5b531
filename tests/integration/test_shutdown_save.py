"""The final save decides a shutdown, against real valkey-server 8.1.8 run the same way: a save
that fails (``dump.rdb`` is a folder) cancels SHUTDOWN with Valkey's error and a signal's
shutdown alike, and the server goes on serving; FORCE exits anyway; a second SIGINT during a
signal's slow final save exits at once and removes the temp file."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.differential import RawClient
from tests.integration.support import wait_until
from tests.realvalkey import ServerProcess, start_valkey, start_valsync

ARGS = ("--enable-debug-command", "yes")


def _start(kind: str, dir: Path) -> ServerProcess:
    dir.mkdir()
    if kind == "valsync":
        return start_valsync(*ARGS, dir=dir)
    return start_valkey("8.1.8", *ARGS, dir=dir)


def _failed_save_transcript(kind: str, dir: Path) -> list[object]:
    with _start(kind, dir) as server:
        (dir / "dump.rdb").mkdir()
        with RawClient(server.port) as c:
            out: list[object] = [c.call("CONFIG", "SET", "save", "900 1"), c.call("SET", "k", "v")]
            out.append(c.call("SHUTDOWN"))
            out.append(c.call("SHUTDOWN", "SAVE"))
            out.append(c.call("PING"))
            server.proc.send_signal(signal.SIGTERM)
            wait_until(
                lambda: "Error trying to save the DB, can't exit" in server.log(), 10, "save failed"
            )
            out.append(c.call("GET", "k"))
            out.append(server.proc.poll())
            c.sock.sendall(b"*2\r\n$8\r\nSHUTDOWN\r\n$5\r\nFORCE\r\n")
        out.append(server.proc.wait(timeout=10))
        out.append("Error trying to save the DB. Exit anyway." in server.log())
    return out


def test_a_failed_final_save_cancels_the_shutdown(tmp_path: Path) -> None:
    expected = _failed_save_transcript("valkey", tmp_path / "real")
    assert expected[2] == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    assert _failed_save_transcript("valsync", tmp_path / "mine") == expected


def _insist_transcript(kind: str, dir: Path) -> list[object]:
    with _start(kind, dir) as server:
        with RawClient(server.port) as c:
            c.call("CONFIG", "SET", "save", "900 1")
            for i in range(20):
                c.call("SET", str(i), str(i))
            c.call("CONFIG", "SET", "rdb-key-save-delay", "100000")  # 2 s to save
        temp = dir / f"temp-{server.pid}.rdb"
        server.proc.send_signal(signal.SIGINT)
        wait_until(temp.exists, 10, "the final save under way")
        server.proc.send_signal(signal.SIGINT)
        status = server.proc.wait(timeout=10)
        return [status, temp.exists(), (dir / "dump.rdb").exists(), "You insist" in server.log()]


def test_a_second_sigint_during_the_final_save_exits_now(tmp_path: Path) -> None:
    expected = _insist_transcript("valkey", tmp_path / "real")
    assert expected == [1, False, False, True]
    assert _insist_transcript("valsync", tmp_path / "mine") == expected
