"""One trio task per client connection: read, frame, run, reply; blocking waits; kills."""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Awaitable, Callable
from time import perf_counter_ns
from typing import TYPE_CHECKING

import trio
import trio.lowlevel

from valsync.acl import protected_mode_refusal
from valsync.client_memory import ClientMemory, client_memory
from valsync.commands import BlockRequest, ClientState, ExchangeRequest, ScriptRequest, ScriptWait
from valsync.commands.context import filter_reply
from valsync.commands.server_cmds import client_info_line
from valsync.net.exchange import run_exchange
from valsync.net.ldb_fork import fork_debug_session
from valsync.resp import ProtocolError, RequestParser, encode
from valsync.resp.reply import NO_REPLY, ErrorReply, Reply
from valsync.scripting.debugger import Transport
from valsync.server import PIPELINED_RUNS, BlockedWaiter

if TYPE_CHECKING:
    from valsync.server import Server

READ_SIZE = 64 * 1024
DRAIN_ON_CLOSE_SECONDS = 10
MAX_CLIENTS_REPLY = b"-ERR max number of clients reached\r\n"
LIMIT_CHECK_SECONDS = 1.0
REPLY_CHUNK_BYTES = 16 * 1024  # PROTO_REPLY_CHUNK_BYTES: the reply buffer output limits skip

# A SYNC/PSYNC handler leaves one of these in ``client.extra['handoff']``; the connection then
# hands its stream (and the bytes it already read) to the replication driver.
Handoff = Callable[[trio.SocketStream, bytes], Awaitable[None]]


def _peer(sock: trio.socket.SocketType, local: bool = False) -> str:
    try:
        name = sock.getsockname() if local else sock.getpeername()
    except OSError:
        return ""
    if isinstance(name, tuple):
        host, port = name[0], name[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    # a unix socket: Valkey shows the server's socket path for both ends
    if not name:
        try:
            name = sock.getsockname()
        except OSError:
            return ""
    return f"{name}:0"


class ClientConnection:
    """The trio side of one client: its stream, parser, output buffer and cancel scope.

    Replies go to an output buffer that is written without blocking the reader (Valkey's
    client output buffer): a client that pipelines a lot and reads its replies only at the end
    must not deadlock against us. Whatever the socket does not take at once is written by a
    writer task when the socket becomes writable.
    """

    def __init__(self, server: Server, stream: trio.SocketStream) -> None:
        self.server = server
        self.stream = stream
        sock = stream.socket
        self._fd = sock.fileno()
        self.client: ClientState = server.new_client(_peer(sock), _peer(sock, True), self._fd)
        self.parser = RequestParser(server.config.get_int("proto-max-bulk-len"))
        self.parser.authenticated = self.client.authenticated
        self.scope = trio.CancelScope()
        self.client.extra["kill"] = self.kill
        self.client.deliver = self._deliver
        self.client.extra["offload_scripts"] = True
        self.client.extra["ldb_transport"] = self._debugger_transport
        self.client.extra["ldb_fork"] = self._fork_debugger
        self.client.request_source = self.parser
        self._out = bytearray()
        self._writer_wake = trio.Event()
        self._drained = trio.Event()
        self._drained.set()
        self._broken = False
        self._soft_limit_since: int | None = None
        self._held = bytearray()
        self._argv: list[bytes] | None = None
        self.client.memory = self._memory

    def _memory(self) -> ClientMemory:
        return client_memory(self.client, self.parser.query_buffer(), self._argv, len(self._out))

    def kill(self) -> None:
        self.client.kill_requested = True
        self.scope.cancel()

    async def run(self) -> None:
        server = self.server
        try:
            with self.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer)
                    await self._loop()
                    # gone for other clients before its last reply arrives (as Valkey frees a
                    # client once that reply is written): a tracking redirect to it is broken
                    server.free_client(self.client)
                    # like Valkey's close-after-reply, but never wait forever on a dead reader
                    with trio.move_on_after(DRAIN_ON_CLOSE_SECONDS):
                        await self._drain()
                    nursery.cancel_scope.cancel()
        finally:
            server.free_client(self.client)
            self._unlink_client()
            self._shutdown_if_forked()
            with trio.CancelScope(shield=True):
                try:
                    await self.stream.aclose()
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    pass

    def _unlink_client(self) -> None:
        """Drop the client state's callbacks into this connection: they make a reference
        cycle that would keep both, buffers and all, until a full garbage collection."""
        client = self.client
        client.deliver = None
        client.memory = None
        client.request_source = None
        client.context = None
        for name in ("kill", "ldb_transport", "ldb_fork"):
            client.extra.pop(name, None)

    def _shutdown_if_forked(self) -> None:
        """A fork child holds a copy of this socket, so closing ours alone would leave the
        connection open: shut it down (Valkey's connShutdown in unlinkClient), except for an
        RDB channel, which the child itself is writing."""
        persistence = self.server.persistence
        if persistence is None or not persistence.children.busy:
            return
        if self.client.extra.get("ldb_forked"):
            return  # the socket is the debugging child's now
        info = self.client.extra.get("repl_info")
        if getattr(info, "rdb_channel", False):
            return
        try:
            self.stream.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- output ------------------------------------------------------------------------------

    def _queue(self, data: bytes | bytearray) -> None:
        """Buffer replies and write what the socket takes now, without waiting."""
        if self._broken or not data:
            return
        if len(data) > REPLY_CHUNK_BYTES and not self.client.is_replica:
            # Valkey counts what passes its 16 KiB reply buffer before writing any of it
            kind = "pubsub" if self.client.pubsub else "normal"
            hard = self.server.config.client_output_buffer_limit(kind)[0]
            if hard and len(self._out) + len(data) - REPLY_CHUNK_BYTES >= hard:
                self._close_for_output_limit(scheduled=True)
                return
        if not self._out:
            # the usual case: nothing pending, write straight from the batch's buffer
            try:
                n = os.write(self._fd, data)
            except BlockingIOError:
                n = 0
            except OSError:
                self._broken = True
                self.client.kill_requested = True
                self.scope.cancel()
                return
            stats = self.server.stats
            stats.total_net_output_bytes += n
            stats.total_writes_processed += 1
            self.client.net_out += n
            if n == len(data):
                return
            self._out += memoryview(data)[n:]
        else:
            self._out += data
            self._write_some()
        if self._out:
            self._drained = trio.Event() if self._drained.is_set() else self._drained
            self._writer_wake.set()
            if not self.client.is_replica and self._over_output_limit():
                self._close_for_output_limit(scheduled=True)
            elif self.server.client_eviction_limit:
                self.server.evict_clients()

    def _close_for_output_limit(self, scheduled: bool) -> None:
        """Drop the client, count it and log it in Valkey's words: "scheduled to be closed
        ASAP" when found while queueing output, "closed" when found by the periodic check."""
        server = self.server
        server.stats.client_output_buffer_limit_disconnections += 1
        info = client_info_line(
            server,
            self.client,
            int(time.time() * 1000),
            server.config.get_bool("hide-user-data-from-log"),
        )
        how = "scheduled to be closed ASAP" if scheduled else "closed"
        server.log.warning(f"Client {info} {how} for overcoming of output buffer limits.")
        self.client.kill_requested = True
        self._broken = True
        self._out.clear()
        self.scope.cancel()

    def _over_output_limit(self) -> bool:
        """Valkey's ``checkClientOutputBufferLimits`` for the client's class (``pubsub`` while it
        has subscriptions, else ``normal``): at the hard limit at once, over the soft limit
        once it has stayed there longer than its seconds. Checked as output is queued."""
        kind = "pubsub" if self.client.pubsub else "normal"
        hard, soft, soft_seconds = self.server.config.client_output_buffer_limit(kind)
        used = len(self._out)
        if hard and used >= hard:
            return True
        if not soft or used < soft:
            self._soft_limit_since = None
            return False
        now = int(time.time())
        if self._soft_limit_since is None:
            self._soft_limit_since = now
            return False
        return now - self._soft_limit_since > soft_seconds

    def _deliver(self, reply: Reply) -> None:
        if self.client.executing:
            # caused by this client's own command: Valkey sends it after that command's reply
            encode(reply, self._held, self.client.resp)
            return
        out = bytearray()
        encode(reply, out, self.client.resp)
        self._queue(out)

    def _write_some(self) -> None:
        try:
            n = os.write(self._fd, self._out)
        except BlockingIOError:
            return
        except OSError:
            self._broken = True
            self._out.clear()
            self.client.kill_requested = True
            self.scope.cancel()
            return
        self.server.stats.total_net_output_bytes += n
        self.client.net_out += n
        del self._out[:n]

    async def _writer(self) -> None:
        while True:
            await self._writer_wake.wait()
            self._writer_wake = trio.Event()
            while self._out and not self._broken:
                # like Valkey's clientsCron, look at the limits about once a second while the
                # peer is not reading: a soft limit can expire without new output
                with trio.move_on_after(LIMIT_CHECK_SECONDS) as waiting:
                    await trio.lowlevel.wait_writable(self._fd)
                if not waiting.cancelled_caught:
                    self._write_some()
                elif not self.client.is_replica and self._over_output_limit():
                    self._close_for_output_limit(scheduled=False)
            self._drained.set()

    async def _drain(self) -> None:
        """Wait until every queued reply reached the socket (before close or handoff)."""
        if self._out and not self._broken:
            self._writer_wake.set()
            await self._drained.wait()

    # --- input -------------------------------------------------------------------------------

    async def _wait_readable(self) -> bool:
        """Sleep until the socket has bytes; False when the client stayed idle past ``timeout``."""
        idle = self.server.idle_timeout
        client = self.client
        if idle > 0 and not (client.is_replica or client.is_primary_link or client.monitor):
            with trio.move_on_after(idle):
                await trio.lowlevel.wait_readable(self._fd)
                return True
            return False
        await trio.lowlevel.wait_readable(self._fd)
        return True

    async def _loop(self) -> None:
        """Read what the socket holds, run every complete command, write the replies at once.

        The socket is read directly (non-blocking): only when it is empty does the task sleep
        in ``wait_readable``. After each batch the task yields before it reads again: one
        pipelining client cannot starve the others, and a client that waits for its replies
        before sending more has often sent by then (a read that finds its bytes costs far
        less than one that finds none, then a sleep in wait_readable and a wake-up).
        """
        server, client, parser = self.server, self.client, self.parser
        stats = server.stats
        fd = self._fd
        while True:
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                try:
                    if not await self._wait_readable():
                        return
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    return
                continue
            except OSError:
                return
            if not data:
                return
            started = perf_counter_ns()
            stats.total_net_input_bytes += len(data)
            stats.total_reads_processed += 1
            client.net_in += len(data)
            commands = 0
            parser.feed(data)
            if parser.pending > server.query_buffer_limit:
                server.log.warning(
                    f"Closing client that reached max query buffer length: id={client.id} "
                    f"addr={client.addr} qbuf={parser.pending} (qbuf initial bytes omitted)"
                )
                stats.client_query_buffer_limit_disconnections += 1
                return
            out = bytearray()
            process = server.process
            run_in_lane = server.run_in_lane
            next_argv = parser.next_argv
            lane = server.command_lane(client)
            streaming = server.streaming
            # no request framed from these bytes can reach the large-request size otherwise
            large_requests = parser.pending >= server.large_request_bytes
            large_reply = server.large_reply_bytes
            while True:
                try:
                    argv = next_argv()
                except ProtocolError as err:
                    out += b"-ERR " + str(err).encode("utf-8", "surrogateescape") + b"\r\n"
                    server.log.verbose(f"{err} from client: id={client.id} addr={client.addr}")
                    self._flush_stream()
                    self._queue(out)
                    return
                if argv is None:
                    break
                if not argv:
                    continue
                commands += 1
                self._argv = argv
                client.executing = True
                spec = lane.get(argv[0])
                if spec is not None and len(argv) in spec.argc:
                    if (
                        len(argv) == PIPELINED_RUNS.get(spec.name)
                        and not large_requests
                        and not client.reply_mode
                    ):
                        ran = self._run_pipelined(argv, spec.name, streaming, out)
                        if ran:
                            commands += ran - 1
                            client.executing = False
                            self._argv = None
                            continue
                    request: Reply | BlockRequest = run_in_lane(client, spec, argv, streaming)
                    in_lane = True
                else:
                    client.pending_output = bool(out) or bool(self._out)
                    request = process(client, argv)
                    in_lane = False
                client.executing = False
                if isinstance(request, BlockRequest):
                    self._flush_stream()
                    self._queue(out)
                    out = bytearray()
                    reply = await self._wait_turn(argv, request)
                    in_lane = False
                else:
                    reply = request
                self._argv = None
                if client.reply_mode:
                    reply = filter_reply(client, reply)
                size = len(out)
                encode(reply, out, client.resp)
                if large_requests or not in_lane or len(out) >= large_reply:
                    # the batch holds a request, or the buffer a reply, of that size; or the
                    # command may have changed the thresholds (CONFIG SET applies to itself)
                    if (
                        parser.last_nbytes >= server.large_request_bytes
                        or len(out) - size >= server.large_reply_bytes
                    ):
                        server.record_large(client, argv, parser.last_nbytes, len(out) - size)
                if self._held:
                    out += self._held
                    del self._held[:]
                if not in_lane:
                    # a lane command changes neither the client's authentication nor the
                    # connection's owner, nor what the lane depends on
                    parser.authenticated = client.authenticated
                    handoff = client.handoff
                    if handoff is not None:
                        client.handoff = None
                        self._flush_stream()
                        self._queue(out)
                        await self._drain()
                        await handoff(self.stream, parser.take_pending())
                        return
                    lane = server.command_lane(client)
                    streaming = server.streaming
                    large_requests = parser.pending >= server.large_request_bytes
                    large_reply = server.large_reply_bytes
                if client.kill_requested:
                    self._flush_stream()
                    self._queue(out)
                    return
                if server.shutdown_requested is not None:
                    break
            self._flush_stream()
            self._queue(out)
            if server.client_eviction_limit:
                # after the batch: what is left in the query buffer is an incomplete command
                server.evict_clients()
                if client.kill_requested:
                    return
            stats.record_cycle((perf_counter_ns() - started) // 1000 or 1, commands)
            await trio.lowlevel.checkpoint()

    def _run_pipelined(self, argv: list[bytes], name: str, streaming: bool, out: bytearray) -> int:
        """:meth:`Server.run_pipelined` and its replies encoded; how many commands ran (0:
        none, ``argv`` takes the lane alone)."""
        server, client = self.server, self.client
        run, replies = server.run_pipelined(client, argv, name, self.parser, streaming)
        resp = client.resp
        large_reply = server.large_reply_bytes
        for each, reply in zip(run, replies, strict=True):
            size = len(out)
            encode(reply, out, resp)
            if len(out) - size >= large_reply:
                server.record_large(client, each, 0, len(out) - size)
        return len(run)

    def _flush_stream(self) -> None:
        """The batch's streamed writes are taken out of the parser's buffer (before the next
        read reuses it, or a wait lets other tasks read the stream)."""
        repl = self.server.repl
        if repl is not None:
            repl.flush_stream()

    async def _wait_turn(self, argv: list[bytes], request: BlockRequest) -> Reply:
        """Everything a command can wait for before its reply: its script's turn, a remote
        server (MIGRATE), its keys, or a pause's end, in whatever order they come (a command
        held by CLIENT PAUSE can be a script or a blocking command once it runs)."""
        server, client = self.server, self.client
        while True:
            if isinstance(request, (ScriptWait, ScriptRequest)):
                again = await self._script_turn(argv, request)
            elif isinstance(request, ExchangeRequest):
                cleanup = request.cleanup
                try:
                    result = await run_exchange(request, server.migrate_sockets)
                    client.executing = True
                    again = server.finish_exchange(client, request, result)
                finally:
                    client.executing = False
                    if cleanup is not None:
                        cleanup()
            else:
                again = await self._block(argv, request)
            if not isinstance(again, BlockRequest):
                return again
            request = again

    async def _script_turn(
        self, argv: list[bytes], request: ScriptWait | ScriptRequest
    ) -> Reply | BlockRequest:
        """Run a script in a worker thread, or wait while another client's script runs."""
        server, client = self.server, self.client
        while True:
            if isinstance(request, ScriptRequest):
                # other clients wait while a script runs: what reaches this client meanwhile
                # comes from the script, and goes after its reply
                client.executing = True
                try:
                    return await self._run_script(request)
                finally:
                    client.executing = False
            ended = trio.Event()
            server.scripting.waiters.append(ended.set)
            with trio.move_on_at(trio.current_time() + max(0.0, request.until - time.monotonic())):
                await ended.wait()
            client.executing = True
            again = server.process(client, argv)
            client.executing = False
            if not isinstance(again, (ScriptWait, ScriptRequest)):
                return again
            request = again

    async def _run_script(self, request: ScriptRequest) -> Reply:
        """The interpreter runs in a thread; each ``server.call`` comes back to this thread."""
        assert request.job is not None
        job = request.job
        token = trio.lowlevel.current_trio_token()

        def on_server_thread(fn: Callable[[], object]) -> object:
            return trio.from_thread.run_sync(fn, trio_token=token)

        result = await trio.to_thread.run_sync(job, on_server_thread)
        return self.server.finish_script(self.client, request, result)

    def _debugger_transport(self) -> DebuggerTransport:
        return DebuggerTransport(self, trio.lowlevel.current_trio_token())

    def _fork_debugger(self, body: Callable[[Transport], None]) -> int:
        """SCRIPT DEBUG YES: a child takes this client's socket and runs ``body`` over it;
        this side then lets the client go without a reply."""
        server = self.server
        others = [c.fd for c in server.clients.values() if c is not self.client and c.fd >= 0]
        persistence = server.persistence
        listeners = persistence.listener_fds if persistence is not None else []
        pid, fds = fork_debug_session(self._fd, others + listeners, body)
        server.scripting.debug_children[pid] = fds
        self.client.extra["ldb_forked"] = True
        return pid

    async def _receive_for_debugger(self) -> bytes:
        try:
            data = await self.stream.receive_some(1024)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return b""
        self.server.stats.total_net_input_bytes += len(data)
        self.client.net_in += len(data)
        return data

    async def _wait_pause_end(self, deadline_ms: int | None) -> None:
        """Until the pause holding this client is lifted or reaches its end."""
        event = trio.Event()
        self.server.pause_listeners.add(event.set)
        try:
            remaining = ((deadline_ms or 0) - _now_ms()) / 1000.0
            with trio.move_on_after(max(remaining, 0.0)):
                await event.wait()
        finally:
            self.server.pause_listeners.discard(event.set)

    async def _wait_or_hangup(self, event: trio.Event, deadline_ms: int | None) -> bool:
        """Wait for ``event`` until ``deadline_ms``, reading the socket meanwhile as Valkey
        does for a blocked client: what arrives is queued for later, and a peer that hangs
        up ends the wait (False), so a closed client is never served."""
        hung_up = False
        async with trio.open_nursery() as nursery:

            async def watch_socket() -> None:
                nonlocal hung_up
                while True:
                    try:
                        data = await self.stream.receive_some(READ_SIZE)
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                        data = b""
                    if not data:
                        hung_up = True
                        nursery.cancel_scope.cancel()
                        return
                    self.server.stats.total_net_input_bytes += len(data)
                    self.client.net_in += len(data)
                    self.parser.feed(data)

            nursery.start_soon(watch_socket)
            if deadline_ms is None:
                await event.wait()
            else:
                with trio.move_on_after(max((deadline_ms - _now_ms()) / 1000.0, 0.0)):
                    await event.wait()
            nursery.cancel_scope.cancel()
        return not hung_up

    async def _block(self, argv: list[bytes], block: BlockRequest) -> Reply | BlockRequest:
        """Wait until the server serves the blocked command (it re-runs it right after the
        command that made one of its keys ready) or the deadline passes. A key signalled
        outside any command (a replica's ACK for WAIT) is served here, after a checkpoint;
        a command held by CLIENT PAUSE runs again when the pause ends."""
        server, client = self.server, self.client
        waiter = BlockedWaiter(server, client, argv, block)
        server.blocked_clients[client.id] = waiter
        dbid, keys = client.db, block.keys
        server.add_key_listener(dbid, keys, waiter)
        try:
            while True:
                block = waiter.block
                if block.postponed:
                    await self._wait_pause_end(block.deadline_ms)
                    client.executing = True
                    again = server.process(client, argv)
                    client.executing = False
                    if not isinstance(again, BlockRequest) or isinstance(again, _OTHER_WAITS):
                        return again
                    waiter.block = again
                    if again.keys != keys:
                        server.remove_key_listener(dbid, keys, waiter)
                        keys = again.keys
                        server.add_key_listener(dbid, keys, waiter)
                    continue
                event = trio.Event()
                waiter.notify = event.set
                if waiter.result is None and not waiter.ready:
                    if not await self._wait_or_hangup(event, block.deadline_ms):
                        client.kill_requested = True
                        return NO_REPLY
                if waiter.result is not None:
                    return waiter.result
                if not waiter.ready:
                    if event.is_set():
                        continue  # served and blocked again
                    server.record_unblocked_timeout(client, argv)
                    if block.on_timeout is not None:
                        return block.on_timeout()
                    return block.timeout_reply
                waiter.unqueue()
                # yield once so the writer's whole command (and its propagation) completes first
                await trio.lowlevel.checkpoint()
                if waiter.result is not None:
                    return waiter.result
                waiter.unqueue()
                client.extra["unblocked_rerun"] = True
                client.executing = True
                try:
                    again = server.process(client, argv)
                finally:
                    client.executing = False
                    client.extra.pop("unblocked_rerun", None)
                if not isinstance(again, BlockRequest) or isinstance(again, _OTHER_WAITS):
                    return again
                waiter.block = again
        finally:
            waiter.cancelled = True
            waiter.unqueue()
            server.blocked_clients.pop(client.id, None)
            server.remove_key_listener(dbid, keys, waiter)


class DebuggerTransport:
    """The socket of a client in a Lua debugging session, as the script's thread uses it:
    each call blocks that thread (and so the script) until the connection's task has
    written or read, as Valkey's debugger does blocking I/O on the client's socket."""

    def __init__(self, connection: ClientConnection, token: trio.lowlevel.TrioToken) -> None:
        self.connection = connection
        self.token = token

    def send(self, data: bytes) -> None:
        try:
            trio.from_thread.run_sync(self.connection._queue, data, trio_token=self.token)
        except (trio.RunFinishedError, trio.Cancelled):
            pass

    def receive(self) -> bytes:
        try:
            return trio.from_thread.run(
                self.connection._receive_for_debugger, trio_token=self.token
            )
        except (trio.RunFinishedError, trio.Cancelled):
            return b""


_OTHER_WAITS = (ScriptWait, ScriptRequest, ExchangeRequest)
"""What :meth:`ClientConnection._block` hands back to :meth:`ClientConnection._wait_turn`."""


def _now_ms() -> int:
    return int(time.time() * 1000)


async def serve_connection(server: Server, stream: trio.SocketStream) -> None:
    """Entry point of a client task: enforce maxclients, then run the connection."""
    try:
        stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
    except OSError:
        pass
    if len(server.clients) >= server.config.get_int("maxclients"):
        server.stats.rejected_connections += 1
        with trio.move_on_after(1):
            try:
                await stream.send_all(MAX_CLIENTS_REPLY)
            except (trio.BrokenResourceError, OSError):
                pass
        await trio.aclose_forcefully(stream)
        return
    denied = protected_mode_refusal(
        server.config.get_bool("protected-mode"), server.acl.default, _peer(stream.socket)
    )
    if denied is not None:
        server.stats.rejected_connections += 1
        with trio.move_on_after(1):
            try:
                await stream.send_all(denied)
            except (trio.BrokenResourceError, OSError):
                pass
        await trio.aclose_forcefully(stream)
        return
    try:
        await ClientConnection(server, stream).run()
    except Exception as exc:  # noqa: BLE001 - a bug in one client's handling must not end the server
        server.log.warning(
            "Client task failed: "
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).strip()
        )


def error_bytes(text: str) -> bytes:
    out = bytearray()
    encode(ErrorReply(text), out)
    return bytes(out)


__all__ = ["ClientConnection", "Handoff", "error_bytes", "serve_connection"]
