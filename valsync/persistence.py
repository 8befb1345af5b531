"""RDB persistence of the server: load at start, SAVE, BGSAVE by fork, save points, shutdown.

Writes go to ``temp-<pid>.rdb``, are fsynced, then renamed over the dump, so a crash or a full
disk mid-save never damages the last good dump (Valkey's rdbSave). Background saves go through
the shared fork manager (:class:`~valsync.rdb.child.RdbChildren`, built by the assembler from
the trio shell's ``RdbChildManager``), which replication uses too.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from valsync.rdb.autosync import AutosyncWriter
from valsync.rdb.child import (
    ChildBusy,
    ChildResult,
    ForkedChild,
    ProgressWriter,
    RdbChildrenFactory,
)
from valsync.rdb.snapshot import (
    IncrementalLoad,
    LoadedDump,
    RdbError,
    load_rdb_file,
    snapshot_aux,
    write_snapshot,
)
from valsync.resp.reply import OK, ErrorReply, Reply, SimpleString
from valsync.scripting.functions import FunctionError

if TYPE_CHECKING:
    from valsync.keyspace import Keyspace
    from valsync.server import Server


def temp_rdb_path(dump: Path, pid: int) -> Path:
    """Where a save by ``pid`` writes before the rename (Valkey's ``temp-<pid>.rdb``)."""
    return dump.with_name(f"temp-{pid}.rdb")


def remove_temp_rdb(dump: Path, pid: int) -> None:
    """A dead child's half-written file goes away; the last good dump stays."""
    try:
        temp_rdb_path(dump, pid).unlink()
    except OSError:
        pass


@dataclass
class ReplInfoFromRdb:
    """The replication position a dump carried (repl-id / repl-offset / repl-stream-db)."""

    replid: str
    offset: int
    stream_db: int


class Persistence:
    def __init__(self, server: Server, make_children: RdbChildrenFactory) -> None:
        self.server = server
        self.children = make_children(self._fds_to_close)
        self.nursery: trio.Nursery | None = None
        self.last_bgsave_ok = True
        self.last_bgsave_seconds = -1
        self.bgsave_scheduled = False
        self.rdb_saves = 0
        self.last_save_keys = 0
        self.last_load_keys = 0
        self.last_load_expired = 0
        self.repl_info: ReplInfoFromRdb | None = None
        self.expired_at_load: list[tuple[int, bytes]] = []
        """(db, key) a primary dropped as already expired while loading its dump, in dump
        order: their DEL/UNLINK go into the resumed backlog (Valkey's RDBFLAGS_FEED_REPL)."""
        self.bgsave_started_at = 0.0
        self.cow_pid = 0
        self.cow_size = self.cow_peak = self.last_cow_size = 0
        self.cow_sampled_at = 0.0
        self.listener_fds: list[int] = []

    def _fds_to_close(self) -> list[int]:
        return list(self.listener_fds)

    @property
    def path(self) -> Path:
        cfg = self.server.config
        return Path(cfg.get_str("dir")) / cfg.get_str("dbfilename")

    async def start(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery

    @property
    def disk_error(self) -> bool:
        """Writes are refused (-MISCONF) after a failed BGSAVE while save points exist and
        ``stop-writes-on-bgsave-error`` is on (Valkey's writeCommandsDeniedByDiskError)."""
        cfg = self.server.config
        return (
            not self.last_bgsave_ok
            and bool(cfg.save_points)
            and cfg.get_bool("stop-writes-on-bgsave-error")
        )

    # --- loading ---------------------------------------------------------------------------

    def has_dump(self) -> bool:
        return self.path.exists()

    def read_dump(self) -> LoadedDump:
        """Decode the dump into a fresh keyspace (the live one is untouched): safe to run in a
        worker thread while the server answers -LOADING. ``key-load-delay`` (microseconds per
        key, a test hook) is slept per chunk of keys.

        Raises:
            RdbError, OSError: the dump is unreadable, cut or corrupt.
        """
        delay_us = self.server.config.get_int("key-load-delay")
        loader = IncrementalLoad(
            len(self.server.keyspace), verify_checksum=not self.server.skip_checksum_validation
        )
        chunk = 4096 if delay_us > 0 else 1 << 22
        with open(self.path, "rb") as f:
            while data := f.read(chunk):
                keys = loader.feed(data)
                if delay_us > 0 and keys:
                    time.sleep(keys * delay_us / 1e6)
        return loader.finish()

    def adopt_dump(self, result: LoadedDump, started: float) -> None:
        """Make a loaded dump the live dataset (on the server's own thread).

        A primary drops the keys whose TTL already passed, as Valkey's rdbLoad does (a
        replica keeps them: expiry is its primary's business).
        """
        self.expired_at_load = []
        if self.server.config.replicaof is None:
            self.expired_at_load = drop_expired(result.keyspace, int(time.time() * 1000))
        self.server.keyspace.swap(result.keyspace)
        self.server.functions = result.functions
        self.last_load_keys = result.keys - len(self.expired_at_load)
        self.last_load_expired = len(self.expired_at_load)
        self.repl_info = _repl_info(result.aux)
        log = self.server.log
        log.notice(
            f"Done loading RDB, keys loaded: {self.last_load_keys}, "
            f"keys expired: {self.last_load_expired}."
        )
        log.notice(f"DB loaded from disk: {time.monotonic() - started:.3f} seconds")

    # --- saving ----------------------------------------------------------------------------

    def _aux(self) -> dict[str, bytes | str | int]:
        repl = self.server.repl
        info = repl.rdb_repl_info() if repl is not None else None
        return snapshot_aux(info)

    def save(self) -> Reply:
        """SAVE: in the foreground, blocking the server as Valkey does."""
        if self.children.busy and self.children.kind == "disk":
            return ErrorReply("ERR Background save already in progress")
        try:
            self.save_in_foreground()
        except OSError as err:
            self.server.log.warning(
                f"Failed opening the temp RDB file temp-{os.getpid()}.rdb (in server root dir {self.server.config.get_str('dir')}) for saving: {err.strerror}"
            )
            self.last_bgsave_ok = False
            return ErrorReply("ERR")
        return OK

    def save_in_foreground(self) -> None:
        """Write the dump now, blocking the server (SAVE, the final save of a shutdown); an
        OSError says it failed."""
        keys = self.write_dump(None)
        self._saved(keys)
        self.server.log.notice("DB saved on disk")

    def _saved(self, keys: int) -> None:
        self.server.dirty = 0
        self.server.lastsave = int(time.time())
        self.last_bgsave_ok = True  # as rdbSave: a foreground save that worked clears the error
        self.rdb_saves += 1
        self.last_save_keys = keys

    def write_dump(
        self,
        progress: ProgressWriter | None,
        aux: dict[str, bytes | str | int] | None = None,
        version: int = 11,
    ) -> int:
        """Write the dump: temp file, fsync, rename (also the disk target of a full sync)."""
        path = self.path
        tmp = temp_rdb_path(path, os.getpid())
        cfg = self.server.config
        try:
            with open(tmp, "wb") as f:
                write = (
                    AutosyncWriter(f).write
                    if cfg.get_bool("rdb-save-incremental-fsync")
                    else f.write
                )
                keys = write_snapshot(
                    self.server.keyspace,
                    write,
                    self._aux() if aux is None else aux,
                    version=version,
                    compression=cfg.get_bool("rdbcompression"),
                    checksum=cfg.get_bool("rdbchecksum"),
                    key_save_delay_us=cfg.get_int("rdb-key-save-delay"),
                    progress=progress,
                    functions=self.server.functions,
                )
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
        return keys

    def bgsave_cancel(self) -> Reply:
        """BGSAVE CANCEL: end the running RDB child, or forget a scheduled BGSAVE."""
        log = self.server.log
        if self.children.busy:
            log.notice("Background saving will be aborted due to user request")
            self.children.kill()
            return SimpleString("Background saving cancelled")
        if self.bgsave_scheduled:
            log.notice("Scheduled background saving will be cancelled due to user request")
            self.bgsave_scheduled = False
            return SimpleString("Scheduled background saving cancelled")
        return ErrorReply("ERR Background saving is currently not in progress or scheduled")

    def after_flushall(self) -> bool:
        """FLUSHALL ends any RDB child (its snapshot is obsolete) and, with save points, writes
        the now empty dump at once (Valkey's flushAllDataAndResetRDB); True when it saved."""
        self.children.kill()
        if self.server.config.save_points:
            return self.save() is OK
        return False

    def bgsave(self, schedule: bool = False) -> Reply:
        """BGSAVE [SCHEDULE]: every child here is an RDB child (no AOF), so a busy one is
        Valkey's "already in progress" whatever ``schedule`` says."""
        if self.children.busy:
            return ErrorReply("ERR Background save already in progress")
        if self.nursery is None:
            return ErrorReply("ERR server not running")
        forked = self.fork_bgsave()
        if forked is None:
            return ErrorReply("ERR Background save already in progress")
        self.nursery.start_soon(self.finish_bgsave, *forked)
        return SimpleString("Background saving started")

    async def run_bgsave(self) -> ChildResult | None:
        """Fork a child that writes the dump; return its result (None if a child was busy)."""
        forked = self.fork_bgsave()
        if forked is None:
            return None
        return await self.finish_bgsave(*forked)

    def fork_bgsave(self) -> tuple[ForkedChild, int] | None:
        """Fork the save child now (BGSAVE's reply already sees it running), with the dirty
        count at the fork; None if a child is busy."""
        self.bgsave_started_at = time.time()

        def body(_data_fd: int | None, progress: ProgressWriter) -> None:
            keys = self.write_dump(progress)
            progress.report(keys, progress.bytes)

        try:
            child = self.children.fork(body, "disk")
        except ChildBusy:
            return None
        self.server.latency_sample("fork", self.children.last_fork_usec)
        self.server.log.notice(f"Background saving started by pid {child.pid}")
        return child, self.server.dirty

    async def finish_bgsave(self, child: ForkedChild, dirty_at_fork: int) -> ChildResult:
        log = self.server.log
        result = await self.children.wait(child)
        if not result.ok:
            remove_temp_rdb(self.path, child.pid)
        self.last_bgsave_seconds = int(result.seconds)
        if result.ok:
            self.last_bgsave_ok = True
            self.server.dirty -= min(dirty_at_fork, self.server.dirty)
            self.server.lastsave = int(time.time())
            self.rdb_saves += 1
            log.notice("Background saving terminated with success")
        elif result.cancelled:
            log.warning(f"Background saving terminated by signal {int(signal.SIGUSR1)}")
        else:
            self.last_bgsave_ok = False
            if result.signal:
                log.warning(f"Background saving terminated by signal {result.signal}")
            else:
                log.warning(f"Background saving error: {result.error}")
        self.server.stats.total_forks = self.children.total_forks
        return result

    def _sample_cow(self) -> None:
        """Once a second, the running child's copy-on-write size (its Private_Dirty, what
        Valkey's child reports); the last sample becomes ``rdb_last_cow_size`` when it ends."""
        child = self.children.child
        if child is None:
            if self.cow_pid:
                self.last_cow_size = self.cow_size
                self.cow_pid = self.cow_size = self.cow_peak = 0
            return
        now = time.monotonic()
        if child.pid == self.cow_pid and now - self.cow_sampled_at < 1.0:
            return
        self.cow_pid, self.cow_sampled_at = child.pid, now
        size = private_dirty_bytes(child.pid)
        if size is not None:
            self.cow_size = size
            self.cow_peak = max(self.cow_peak, size)

    def cron(self) -> None:
        """Save points and scheduled BGSAVE (Valkey's serverCron part)."""
        self._sample_cow()
        if self.children.busy or self.nursery is None:
            return
        if self.bgsave_scheduled:
            self.bgsave_scheduled = False
            self.nursery.start_soon(self.run_bgsave)
            return
        now = time.time()
        for seconds, changes in self.server.config.save_points:
            if self.server.dirty >= changes and now - self.server.lastsave > seconds:
                if not self.last_bgsave_ok and now - self.bgsave_started_at < 5:
                    return
                self.server.log.notice(f"{changes} changes in {seconds} seconds. Saving...")
                self.nursery.start_soon(self.run_bgsave)
                return

    def remove_own_temp(self) -> None:
        """A second SIGINT during the final save: its temp file goes, as in Valkey."""
        try:
            temp_rdb_path(self.path, os.getpid()).unlink()
        except OSError:
            pass

    def kill_child_for_shutdown(self) -> None:
        """SHUTDOWN with a save child running: kill it and remove its temp file at once, as
        Valkey's prepareForShutdown does (before the asker sees its connection end)."""
        child = self.children.child
        if child is None:
            return
        if self.children.kind == "disk":
            self.server.log.warning("There is a child saving an .rdb. Killing it!")
        self.children.kill()
        try:
            temp_rdb_path(self.path, child.pid).unlink()
        except FileNotFoundError:
            pass

    def debug_reload(
        self, nosave: bool = False, noflush: bool = False, merge: bool = False
    ) -> Reply:
        """DEBUG RELOAD: save (unless NOSAVE), then load the dump in place of the dataset, or
        over it with NOFLUSH, where a key or library already present is an error unless
        MERGE lets the dump's copy replace it."""
        failed = ErrorReply("ERR Error trying to load the RDB dump, check server logs.")
        if not nosave:
            reply = self.save()
            if isinstance(reply, ErrorReply):
                return reply
        try:
            result = load_rdb_file(
                self.path,
                databases=len(self.server.keyspace),
                verify_checksum=not self.server.skip_checksum_validation,
            )
        except (RdbError, OSError) as err:
            self.server.log.warning(f"Error loading the RDB file {self.path}: {err}")
            return failed
        if not noflush:
            self.server.keyspace.swap(result.keyspace)
            self.server.functions = result.functions
            self.server.log.notice("DB reloaded by DEBUG RELOAD")
            return OK
        libraries = self.server.scripting.functions
        for source in result.functions:
            try:
                libraries.create(source, replace=merge)
            except FunctionError as err:
                self.server.log.warning(f"Failed loading library from the RDB file: {err}")
                return failed
        for mine, theirs in zip(self.server.keyspace.dbs, result.keyspace.dbs, strict=True):
            for key, value in theirs.data.items():
                if key in mine.data and not merge:
                    self.server.log.warning(f"RDB has duplicated key '{key!r}' in DB {mine.id}")
                    return failed
                mine.set(key, value)
                when = theirs.expires.get(key)
                if when is not None:
                    mine.set_expire(key, when)
        self.server.log.notice("DB reloaded by DEBUG RELOAD")
        return OK

    def note_replication_save(self) -> None:
        """A disk-target replication BGSAVE also wrote the dump (Valkey counts it as a save)."""
        self.server.lastsave = int(time.time())
        self.rdb_saves += 1

    def info_lines(self) -> list[str]:
        self._sample_cow()
        ch = self.children
        # like Valkey's ``child_type == CHILD_TYPE_RDB``: a snapshot streamed to replica
        # sockets is an RDB child too
        in_progress = ch.busy and ch.kind in ("disk", "socket")
        total = self.server.keyspace.total_keys()
        return [
            f"loading:{int(self.server.loading)}",
            f"async_loading:{int(self.server.async_loading)}",
            f"current_cow_peak:{self.cow_peak}",
            f"current_cow_size:{self.cow_size}",
            f"current_fork_perc:{(100.0 * ch.keys_done / total if ch.busy and total else 0):.2f}",
            f"current_save_keys_processed:{ch.keys_done if ch.busy else 0}",
            f"current_save_keys_total:{total if ch.busy else 0}",
            f"rdb_changes_since_last_save:{self.server.dirty}",
            f"rdb_bgsave_in_progress:{int(in_progress)}",
            f"rdb_last_save_time:{self.server.lastsave}",
            f"rdb_last_bgsave_status:{'ok' if self.last_bgsave_ok else 'err'}",
            f"rdb_last_bgsave_time_sec:{self.last_bgsave_seconds}",
            f"rdb_current_bgsave_time_sec:{int(time.monotonic() - ch.started_at) if in_progress else -1}",
            f"rdb_saves:{self.rdb_saves}",
            f"rdb_last_cow_size:{self.last_cow_size}",
            f"rdb_last_load_keys_expired:{self.last_load_expired}",
            f"rdb_last_load_keys_loaded:{self.last_load_keys}",
            "aof_enabled:0",
            "aof_rewrite_in_progress:0",
            "aof_rewrite_scheduled:0",
            "aof_last_rewrite_time_sec:-1",
            "aof_current_rewrite_time_sec:-1",
            "aof_last_bgrewrite_status:ok",
            "aof_rewrites:0",
            "aof_rewrites_consecutive_failures:0",
            "aof_last_write_status:ok",
            "aof_last_cow_size:0",
            "module_fork_in_progress:0",
            "module_fork_last_cow_size:0",
        ]


def private_dirty_bytes(pid: int) -> int | None:
    """A process's Private_Dirty memory (Linux), None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            text = f.read()
    except OSError:
        return None
    total = 0
    for line in text.splitlines():
        if line.startswith(b"Private_Dirty:"):
            total += int(line.split()[1]) * 1024
    return total


def drop_expired(keyspace: Keyspace, now: int) -> list[tuple[int, bytes]]:
    """Delete the keys whose TTL is before ``now`` (ms); their (db, key), in order."""
    dropped: list[tuple[int, bytes]] = []
    for db in keyspace.dbs:
        for key, when in list(db.expires.items()):
            if when < now:
                db.delete(key)
                dropped.append((db.id, key))
    return dropped


def _repl_info(aux: dict[str, bytes]) -> ReplInfoFromRdb | None:
    """Trusted only when all three fields are there and repl-stream-db is not -1 (Valkey)."""
    try:
        replid = aux["repl-id"].decode()
        offset = int(aux["repl-offset"])
        db = int(aux["repl-stream-db"])
    except (KeyError, ValueError, UnicodeDecodeError):
        return None
    if len(replid) != 40 or db == -1:
        return None
    return ReplInfoFromRdb(replid, offset, db)
