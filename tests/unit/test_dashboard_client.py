"""The trio RESP client and the pollers, against small in-process fake servers on loopback."""

from __future__ import annotations

import argparse
import io
from collections.abc import Awaitable, Callable

import pytest
import trio
from rich.console import Console

from tests.realvalkey import free_port
from valsync.dashboard.app import ServerPoller, poll_all_once, run_dashboard, snapshot_from_replies
from valsync.net.client import RespClient, RespConnectionError, RespError

Handler = Callable[[trio.SocketStream], Awaitable[None]]

PRIMARY_INFO = (
    b"# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_replid:"
    + b"f" * 40
    + b"\r\nmaster_repl_offset:42\r\n"
)


def bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


async def count_commands(stream: trio.SocketStream, n: int) -> None:
    """Read until ``n`` RESP arrays have arrived (the fake servers ignore what they say)."""
    buf = b""
    while buf.count(b"*") < n:
        data = await stream.receive_some(65536)
        if not data:
            return
        buf += data


async def start_fake(nursery: trio.Nursery, handler: Handler) -> int:
    listeners = await nursery.start(trio.serve_tcp, handler, 0)
    port: int = listeners[0].socket.getsockname()[1]
    return port


async def fake_minimal_server(stream: trio.SocketStream) -> None:
    """Knows INFO replication only, like a very small Valkey look-alike; errors for the rest."""
    while True:
        try:
            await count_commands(stream, 6)
            replies = [
                bulk(b""),
                bulk(PRIMARY_INFO),
                bulk(b""),
                bulk(b""),
                b"-ERR unknown command 'ROLE'\r\n",
                b"-ERR nope\r\n",
            ]
            await stream.send_all(b"".join(replies))
        except trio.BrokenResourceError:
            return


async def test_pipeline_keeps_error_replies_in_place() -> None:
    async def handler(stream: trio.SocketStream) -> None:
        await count_commands(stream, 3)
        await stream.send_all(b"+OK\r\n-ERR bad\r\n*2\r\n:1\r\n$-1\r\n")

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_fake(nursery, handler)
            async with await RespClient.connect("127.0.0.1", port) as client:
                replies = await client.pipeline([(b"A",), (b"B",), (b"C",)])
            nursery.cancel_scope.cancel()
    assert replies[0] == b"OK"
    assert isinstance(replies[1], RespError) and str(replies[1]) == "ERR bad"
    assert replies[2] == [1, None]


async def test_command_raises_error_reply() -> None:
    async def handler(stream: trio.SocketStream) -> None:
        await count_commands(stream, 1)
        await stream.send_all(b"-WRONGTYPE nope\r\n")

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_fake(nursery, handler)
            async with await RespClient.connect("127.0.0.1", port) as client:
                with pytest.raises(RespError, match="WRONGTYPE"):
                    await client.command("GET", "k")
            nursery.cancel_scope.cancel()


async def test_connection_refused_is_a_clear_error() -> None:
    port = free_port()
    with trio.fail_after(5), pytest.raises(RespConnectionError, match="Connection refused"):
        await RespClient.connect("127.0.0.1", port)


@pytest.mark.parametrize("behaviour", ["close", "silent", "garbage"])
async def test_broken_servers_raise_connection_error(behaviour: str) -> None:
    async def handler(stream: trio.SocketStream) -> None:
        await count_commands(stream, 1)
        if behaviour == "close":
            await stream.send_all(b"$10\r\nabc")
            await stream.aclose()
        elif behaviour == "garbage":
            await stream.send_all(b"?what\r\n")
        await trio.sleep_forever()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_fake(nursery, handler)
            client = await RespClient.connect("127.0.0.1", port, timeout=0.3)
            with pytest.raises(RespConnectionError):
                await client.command("PING")
            await client.aclose()
            nursery.cancel_scope.cancel()


async def test_poller_up_down_and_back_without_raising() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as outer:
            server_scope = trio.CancelScope()

            async def serve(task_status: trio.TaskStatus[int]) -> None:
                with server_scope:
                    async with trio.open_nursery() as nursery:
                        task_status.started(await start_fake(nursery, fake_minimal_server))
                        await trio.sleep_forever()

            port = await outer.start(serve)
            poller = ServerPoller("127.0.0.1", port, timeout=1.0)
            up = await poller.poll_once()
            assert up.up and up.role == "master" and up.master_repl_offset == 42
            assert up.replica_clients is None  # CLIENT LIST refused: left out, not an error
            server_scope.cancel()
            await trio.sleep(0.05)
            down = await poller.poll_once()
            assert not down.up and down.error
            again = await poller.poll_once()
            assert not again.up and again.down_for is not None and again.down_for >= 0
            # Back on the same port: the next poll reconnects by itself.
            async with trio.open_nursery() as nursery:
                await nursery.start(trio.serve_tcp, fake_minimal_server, port)
                back = await poller.poll_once()
                nursery.cancel_scope.cancel()
            assert back.up and back.master_repl_offset == 42
            await poller.close()


def test_info_error_reply_means_down_with_reason() -> None:
    replies: list[object] = [RespError("NOAUTH Authentication required.")] * 6
    snap = snapshot_from_replies("h", 1, 0.0, replies)  # type: ignore[arg-type]
    assert not snap.up and snap.error == "NOAUTH Authentication required."


async def test_run_dashboard_once_prints_a_frame() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)
    dead = free_port()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await start_fake(nursery, fake_minimal_server)
            await run_dashboard(
                [("127.0.0.1", port), ("127.0.0.1", dead)], once=True, console=console
            )
            snaps = await poll_all_once([("127.0.0.1", dead)], poll_timeout=1.0)
            nursery.cancel_scope.cancel()
    frame = out.getvalue()
    assert f"127.0.0.1:{port}  primary" in frame
    assert f"127.0.0.1:{dead}  DOWN" in frame and "Connection refused" in frame
    assert "Traceback" not in frame
    assert not snaps[0].up


def test_parse_target_forms() -> None:
    from valsync.dashboard import parse_target

    assert parse_target("10.0.0.1:6380") == ("10.0.0.1", 6380)
    assert parse_target(":7000") == ("127.0.0.1", 7000)
    assert parse_target("7001") == ("127.0.0.1", 7001)
    assert parse_target("[::1]:6379") == ("::1", 6379)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_target("host:notaport")


def test_main_dashboard_once_against_a_dead_port(capsys: pytest.CaptureFixture[str]) -> None:
    from valsync.dashboard import main_dashboard

    port = free_port()
    assert main_dashboard([f"127.0.0.1:{port}", "--once"]) == 0
    out = capsys.readouterr().out
    assert f"127.0.0.1:{port}  DOWN" in out and "Connection refused" in out
    with pytest.raises(SystemExit):
        main_dashboard(["--hz", "0"])
