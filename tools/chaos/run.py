"""Chaos: a replication tree under steady writes while faults strike at random (seeded).

Topology: ``P`` (valsync primary) feeds ``R1`` (valsync replica) and ``R2`` (valkey 8.1.8
replica); ``R3`` (valkey 8.1.8) replicates from ``R1`` (a chain through valsync).

One thread runs everything, so a fault and the load never interleave inside a step: a batch
of writes (strings, lists, hashes, sets, sorted sets, streams, some batches inside
MULTI/EXEC, keys with short and long TTLs, noise that deletes and rewrites) goes to ``P``;
every ~0.25 s ``WAIT 1 100`` marks the writes confirmed so far as acknowledged when a replica
acked them; at random intervals one fault is injected (see ``FAULTS``).

The rule for lost writes, kept simple and honest: ``P`` is restarted only from a dump made
after its last write (``SAVE`` then ``kill -9``, or ``SHUTDOWN SAVE``; the load is paused
meanwhile, it runs in this same thread), with the same command line. So no write the primary
confirmed may be missing at the end, acknowledged by ``WAIT`` or not; both counts are
reported. A ``kill -9`` of a primary with no dump after its last write would lose writes by
design (neither Valkey nor valsync promise otherwise without AOF) and is not part of the run.

At the end every stopped process is resumed, the run waits until every link is up and every
offset equals the primary's, then until ``DEBUG DIGEST`` is equal everywhere (short TTLs
expire meanwhile), and checks every confirmed write on every node; the lists must hold no
element twice (a command applied twice) and no replica may have logged a stream command it
failed to apply (a transient divergence a later full sync would hide). The last line is
``CHAOS-RESULT {json}``; the exit status is 0 only if all of this holds.

Usage: ``run.py --seed N --seconds S [--rate OPS] [--fault-every SECONDS] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import valkey

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.realvalkey import ServerProcess, free_port, start_valkey, start_valsync  # noqa: E402

SHORT_TTL_MS = 3000
BACKLOG_SIZES = ["16kb", "64kb", "256kb", "1mb", "4mb"]


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (the RDB child of a server, while it runs)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: fields follow the last ')'
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


@dataclass
class Node:
    """One server of the tree: restarted on the same port, dir and command line."""

    name: str
    kind: str  # "valsync" or "valkey"
    port: int
    dir: Path
    upstream: Node | None
    extra: list[str]
    server: ServerProcess | None = None
    stopped_until: float | None = None
    _client: valkey.Valkey | None = None
    lifetimes_stats: Counter[str] = field(default_factory=Counter)

    def argv(self) -> list[str]:
        args = list(self.extra)
        if self.kind == "valsync":
            args += ["--enable-debug-command", "yes"]
        if self.upstream is not None:
            args += ["--replicaof", "127.0.0.1", str(self.upstream.port)]
        return args

    def start(self) -> None:
        for attempt in range(5):
            try:
                if self.kind == "valsync":
                    self.server = start_valsync(*self.argv(), dir=self.dir, port=self.port)
                else:
                    self.server = start_valkey("8.1.8", *self.argv(), dir=self.dir, port=self.port)
                break
            except (RuntimeError, TimeoutError):
                if attempt == 4:
                    raise
                time.sleep(1)
        self._client = None

    @property
    def pid(self) -> int:
        assert self.server is not None
        return self.server.pid

    @property
    def stopped(self) -> bool:
        return self.stopped_until is not None

    def client(self) -> valkey.Valkey:
        if self._client is None:
            self._client = valkey.Valkey(host="127.0.0.1", port=self.port, socket_timeout=20)
        return self._client

    def cmd(self, *args: Any) -> Any:
        assert not self.stopped, f"{self.name} is stopped"
        return self.client().execute_command(*args)

    def info(self, section: str) -> dict[str, Any]:
        return dict(self.client().info(section))

    def remember_stats(self) -> None:
        """Add this lifetime's sync counters before the process goes away."""
        try:
            stats = self.info("stats")
        except valkey.ValkeyError:
            return
        for k in ("sync_full", "sync_partial_ok", "sync_partial_err"):
            self.lifetimes_stats[k] += int(stats.get(k, 0))

    def kill9(self) -> None:
        assert self.server is not None
        os.kill(self.pid, signal.SIGKILL)
        self.server.proc.wait()
        self.stopped_until = None
        self._client = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.dir / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Ledger:
    """Every write the primary confirmed that must survive, and the acknowledged prefix."""

    def __init__(self) -> None:
        self.seq = 0
        self.confirmed = 0  # writes with a reply from the primary
        self.acked = 0  # confirmed writes covered by a WAIT that a replica answered
        self.strings: dict[str, tuple[int, str]] = {}
        self.lists: dict[str, dict[int, int]] = {}  # key -> element -> seq
        self.hashes: dict[str, dict[str, int]] = {}
        self.sets: dict[str, dict[int, int]] = {}
        self.zsets: dict[str, dict[str, int]] = {}
        self.streams: dict[str, dict[int, int]] = {}


class Load:
    """The write load: pipelines of mixed writes to the primary, recorded in a ``Ledger``."""

    def __init__(self, rng: random.Random, primary: Node, ledger: Ledger) -> None:
        self.rng = rng
        self.primary = primary
        self.ledger = ledger
        self.batches = 0
        self.last_wait = 0.0

    def batch(self) -> None:
        rng, led = self.rng, self.ledger
        transaction = rng.random() < 0.2
        pipe = self.primary.client().pipeline(transaction=transaction)
        pending: list[Callable[[], None]] = []
        for _ in range(20):
            led.seq += 1
            n = led.seq
            op = rng.randrange(12)
            if op == 0:
                key, value = f"u:{n}", f"v{n}"
                if rng.random() < 0.3:
                    pipe.set(key, value, ex=100_000 + rng.randrange(1000))
                else:
                    pipe.set(key, value)
                pending.append(lambda k=key, v=value, n=n: led.strings.__setitem__(k, (n, v)))
            elif op == 1:
                key = f"l:{n % 64}"
                pipe.rpush(key, n)
                pending.append(lambda k=key, n=n: led.lists.setdefault(k, {}).__setitem__(n, n))
            elif op == 2:
                key = f"h:{n % 64}"
                pipe.hset(key, f"f{n}", n)
                pending.append(
                    lambda k=key, n=n: led.hashes.setdefault(k, {}).__setitem__(f"f{n}", n)
                )
            elif op == 3:
                key = f"s:{n % 64}"
                pipe.sadd(key, n)
                pending.append(lambda k=key, n=n: led.sets.setdefault(k, {}).__setitem__(n, n))
            elif op == 4:
                key = f"z:{n % 64}"
                pipe.zadd(key, {f"m{n}": n})
                pending.append(
                    lambda k=key, n=n: led.zsets.setdefault(k, {}).__setitem__(f"m{n}", n)
                )
            elif op == 5:
                key = f"x:{n % 16}"
                pipe.xadd(key, {"n": n})
                pending.append(lambda k=key, n=n: led.streams.setdefault(k, {}).__setitem__(n, n))
            elif op == 6:
                pipe.set(f"e:{n % 500}", n, px=50 + rng.randrange(SHORT_TTL_MS - 50))
            elif op == 7:
                pipe.incrby(f"n:c{n % 32}", rng.randrange(-5, 10))
            elif op == 8:
                key = f"n:l{n % 16}"
                pipe.lpush(key, n)
                pipe.ltrim(key, 0, 40)
            elif op == 9:
                pipe.zincrby(f"n:z{n % 16}", 1.5, f"m{n % 100}")
            elif op == 10:
                pipe.hincrby(f"n:h{n % 16}", f"f{n % 50}", 1)
                pipe.pexpire(f"n:h{n % 16}", 200_000)
            else:
                victim = rng.choice([f"n:c{n % 32}", f"n:l{n % 16}", f"n:h{n % 16}"])
                pipe.delete(victim)
                pipe.xadd(f"n:x{n % 4}", {"n": n}, maxlen=100, approximate=False)
        pipe.execute()
        for record in pending:
            record()
        self.ledger.confirmed = self.ledger.seq
        self.batches += 1

    def maybe_wait(self, now: float) -> None:
        if now - self.last_wait < 0.25:
            return
        self.last_wait = now
        upto = self.ledger.confirmed
        if int(self.primary.cmd("WAIT", 1, 100)) >= 1:
            self.ledger.acked = upto


class Chaos:
    """The tree, the load, the faults, and the final check."""

    def __init__(self, seed: int, root: Path, fault_every: float) -> None:
        self.rng = random.Random(seed)
        self.root = root
        self.fault_every = fault_every
        self.faults: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.current_kind = ""

        def mk(name: str, kind: str, upstream: Node | None, extra: list[str]) -> Node:
            d = root / name
            d.mkdir()
            return Node(name, kind, free_port(), d, upstream, extra)

        # dual channel on by default (a full sync uses it when both ends have it and the
        # sender syncs diskless), off and on again by the flips
        dual = ["--dual-channel-replication-enabled", "yes"]
        primary_conf = ["--repl-backlog-size", "1mb", "--repl-diskless-sync-delay", "1", *dual]
        self.p = mk("P", "valsync", None, primary_conf)
        self.r1 = mk("R1", "valsync", self.p, ["--repl-diskless-sync-delay", "1", *dual])
        self.r2 = mk("R2", "valkey", self.p, dual)
        self.r3 = mk("R3", "valkey", self.r1, dual)
        self.nodes = [self.p, self.r1, self.r2, self.r3]
        self.replicas = [self.r1, self.r2, self.r3]
        self.ledger = Ledger()
        self.load = Load(self.rng, self.p, self.ledger)

    # --- faults -------------------------------------------------------------------------

    def running(self, nodes: list[Node]) -> list[Node]:
        return [n for n in nodes if not n.stopped]

    def running_replica(self) -> Node | None:
        """A replica that is not SIGSTOPped, if any (a fault needing one is skipped)."""
        candidates = self.running(self.replicas)
        return self.rng.choice(candidates) if candidates else None

    def fault_kill_links_on_primary(self) -> bool:
        node = self.rng.choice(self.running([self.p, self.r1]))
        node.cmd("CLIENT", "KILL", "TYPE", "replica")
        return True

    def fault_kill_link_on_replica(self) -> bool:
        node = self.running_replica()
        if node is None:
            return False
        node.cmd("CLIENT", "KILL", "TYPE", "master")
        return True

    def fault_sigstop(self) -> bool:
        node = self.running_replica()
        if node is None:
            return False
        os.kill(node.pid, signal.SIGSTOP)
        node.stopped_until = time.monotonic() + self.rng.uniform(0.2, 3.0)
        return True

    def fault_kill_rdb_child(self) -> bool:
        """Make a replica full-sync from a slowed snapshot and kill the child producing it
        (or, one time in four, a BGSAVE child)."""
        if self.rng.random() < 0.25:
            self.current_kind = "kill_rdb_child_bgsave"
            source = self.p
            source.cmd("CONFIG", "SET", "rdb-key-save-delay", 100)
            try:
                try:
                    source.cmd("BGSAVE")
                except valkey.ResponseError:
                    pass  # one is already running: kill that one
                return self._kill_child_of(source)
            finally:
                source.cmd("CONFIG", "SET", "rdb-key-save-delay", 0)
        self.current_kind = "kill_rdb_child_fullsync"
        replica = self.running_replica()
        if replica is None:
            return False
        source = replica.upstream
        assert source is not None
        if source.stopped:
            return False
        source.cmd("CONFIG", "SET", "rdb-key-save-delay", 100)
        try:
            self._restart(replica, keep_dump=False)
            return self._kill_child_of(source)
        finally:
            source.cmd("CONFIG", "SET", "rdb-key-save-delay", 0)

    def _kill_child_of(self, node: Node) -> bool:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            children = child_pids(node.pid)
            if children:
                time.sleep(self.rng.uniform(0, 0.3))
                for pid in child_pids(node.pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        continue
                    return True
            time.sleep(0.01)
        return False

    def fault_restart_replica(self) -> bool:
        node = self.rng.choice(self.replicas)
        keep = not node.stopped and self.rng.random() < 0.5
        self._restart(node, keep_dump=keep)
        return True

    def _restart(self, node: Node, keep_dump: bool) -> None:
        if keep_dump and not node.stopped:
            self._save(node)
        if not node.stopped:
            node.remember_stats()
        node.kill9()
        if not keep_dump:
            (node.dir / "dump.rdb").unlink(missing_ok=True)
        node.start()

    def _save(self, node: Node) -> None:
        for _ in range(300):
            try:
                node.cmd("SAVE")
                return
            except valkey.BusyLoadingError:
                time.sleep(0.1)  # a replica loading what its primary sent: save once loaded
            except valkey.ResponseError as err:
                if "in progress" not in str(err):
                    raise
                time.sleep(0.1)
        raise RuntimeError(f"{node.name}: SAVE kept failing")

    def fault_restart_primary(self) -> bool:
        self.p.remember_stats()
        if self.rng.random() < 0.5:
            self._save(self.p)
            self.p.kill9()
        else:
            try:
                self.p.cmd("SHUTDOWN", "SAVE")
            except valkey.ConnectionError:
                pass
            assert self.p.server is not None
            self.p.server.proc.wait(timeout=60)
            self.p._client = None
        self.p.start()
        return True

    def fault_shrink_backlog(self) -> bool:
        node = self.rng.choice(self.running([self.p, self.r1]))
        node.cmd("CONFIG", "SET", "repl-backlog-size", self.rng.choice(BACKLOG_SIZES))
        return True

    def fault_flip_diskless(self) -> bool:
        node = self.rng.choice(self.running([self.p, self.r1]))
        node.cmd("CONFIG", "SET", "repl-diskless-sync", self.rng.choice(["yes", "no"]))
        return True

    def fault_flip_dual_channel(self) -> bool:
        node = self.rng.choice(self.running(self.nodes))
        value = "yes" if self.rng.random() < 0.7 else "no"
        node.cmd("CONFIG", "SET", "dual-channel-replication-enabled", value)
        return True

    def fault_flip_diskless_load(self) -> bool:
        node = self.running_replica()
        if node is None:
            return False
        value = self.rng.choice(["disabled", "on-empty-db", "swapdb"])
        node.cmd("CONFIG", "SET", "repl-diskless-load", value)
        return True

    FAULTS: list[tuple[str, float]] = [
        ("kill_links_on_primary", 3),
        ("kill_link_on_replica", 3),
        ("sigstop", 2),
        ("kill_rdb_child", 1.5),
        ("restart_replica", 1.5),
        ("restart_primary", 0.7),
        ("shrink_backlog", 1),
        ("flip_diskless", 1),
        ("flip_dual_channel", 1),
        ("flip_diskless_load", 0.7),
    ]

    def inject(self) -> None:
        names = [n for n, _ in self.FAULTS]
        weights = [w for _, w in self.FAULTS]
        name = self.rng.choices(names, weights)[0]
        self.current_kind = name
        try:
            applied = getattr(self, f"fault_{name}")()
        except valkey.BusyLoadingError:
            applied = False  # the node answers -LOADING to this command for now
        if applied:
            self.faults[self.current_kind] += 1
        else:
            self.skipped[self.current_kind] += 1

    def resume_due(self, now: float, everyone: bool = False) -> None:
        for node in self.replicas:
            if node.stopped_until is not None and (everyone or now >= node.stopped_until):
                os.kill(node.pid, signal.SIGCONT)
                node.stopped_until = None

    # --- the run ------------------------------------------------------------------------

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        self.p.cmd("DEBUG", "POPULATE", 20000, "pre", 64)

    def run(self, seconds: float, rate: float) -> None:
        start = time.monotonic()
        deadline = start + seconds
        next_fault = start + self.rng.uniform(0.2, 2 * self.fault_every)
        interval = 20 / rate
        next_batch = start
        while (now := time.monotonic()) < deadline:
            self.resume_due(now)
            if now >= next_fault:
                self.inject()
                now = time.monotonic()
                next_fault = now + self.rng.uniform(0.2, 2 * self.fault_every)
            if now < next_batch:
                time.sleep(min(next_batch - now, 0.05))
                continue
            self.load.batch()
            next_batch += interval
            next_batch = max(next_batch, time.monotonic() - 1)
            self.load.maybe_wait(time.monotonic())
        self.resume_due(time.monotonic(), everyone=True)

    def offsets(self) -> dict[str, int | None]:
        out: dict[str, int | None] = {"P": int(self.p.info("replication")["master_repl_offset"])}
        for node in self.replicas:
            rep = node.info("replication")
            up = rep.get("master_link_status") == "up"
            out[node.name] = int(rep["slave_repl_offset"]) if up else None
            if node is self.r1:
                out["R1.master"] = int(rep["master_repl_offset"])
        return out

    def converge(self, timeout: float) -> tuple[bool, dict[str, Any]]:
        """Until every offset equals the primary's and every digest is equal."""
        deadline = time.monotonic() + timeout
        # the short TTLs run out; asking the primary about each key expires it at once
        time.sleep(SHORT_TTL_MS / 1000)
        self.p.client().exists(*[f"e:{i}" for i in range(500)])
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                offsets = self.offsets()
                digests = {n.name: n.cmd("DEBUG", "DIGEST").decode() for n in self.nodes}
                again = self.offsets()
            except (valkey.ConnectionError, valkey.TimeoutError, valkey.BusyLoadingError):
                time.sleep(0.2)
                continue
            last = {"offsets": again, "digests": digests}
            same_offsets = offsets == again and len(set(again.values())) == 1
            if same_offsets and len(set(digests.values())) == 1:
                return True, last
            time.sleep(0.2)
        return False, last

    def verify(self, node: Node) -> tuple[int, int, int]:
        """(confirmed writes missing, acknowledged writes missing, list elements that no
        write produced) on ``node``."""
        led = self.ledger
        c = node.client()
        missing: list[int] = []
        extra = 0
        keys = list(led.strings)
        for i in range(0, len(keys), 1000):
            chunk = keys[i : i + 1000]
            for key, got in zip(chunk, c.mget(chunk), strict=True):
                seq, want = led.strings[key]
                if got is None or got.decode() != want:
                    missing.append(seq)
        for key, elements in led.lists.items():
            items = [int(x) for x in c.lrange(key, 0, -1)]
            have = set(items)
            missing += [seq for e, seq in elements.items() if e not in have]
            # a command applied twice (a replica resuming from a stale offset) shows here
            extra += len(items) - len(have) + len(have - elements.keys())
        for key, fields in led.hashes.items():
            hhave = {k.decode(): int(v) for k, v in c.hgetall(key).items()}
            missing += [seq for f, seq in fields.items() if hhave.get(f) != seq]
        for key, members in led.sets.items():
            shave = {int(x) for x in c.smembers(key)}
            missing += [seq for m, seq in members.items() if m not in shave]
        for key, zmembers in led.zsets.items():
            zhave = {m.decode(): s for m, s in c.zrange(key, 0, -1, withscores=True)}
            missing += [seq for m, seq in zmembers.items() if zhave.get(m) != seq]
        for key, entries in led.streams.items():
            xhave = {int(fields[b"n"]) for _, fields in c.xrange(key)}
            missing += [seq for e, seq in entries.items() if e not in xhave]
        acked_missing = sum(1 for seq in missing if seq <= led.acked)
        return len(missing), acked_missing, extra

    def replica_errors(self) -> dict[str, int]:
        """Stream commands a replica failed to apply, from the logs of every lifetime (the
        same line in Valkey and valsync): a healthy replica never has one."""
        needle = "This replica is sending an error to its primary"
        return {
            n.name: (n.dir / "server.log").read_text(errors="replace").count(needle)
            for n in self.replicas
        }

    def stop(self) -> None:
        for node in self.nodes:
            if node.server is not None and node.server.proc.poll() is None:
                os.kill(node.pid, signal.SIGCONT)
                node.server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--rate", type=float, default=1500, help="writes per second")
    ap.add_argument("--fault-every", type=float, default=1.5, help="mean seconds between faults")
    ap.add_argument("--keep", action="store_true", help="keep the servers' dirs")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix=f"chaos-{args.seed}-"))
    chaos = Chaos(args.seed, root, args.fault_every)
    ok = False
    result: dict[str, Any] = {"seed": args.seed, "seconds": args.seconds}
    try:
        chaos.start()
        t0 = time.monotonic()
        chaos.run(args.seconds, args.rate)
        result["load_seconds"] = round(time.monotonic() - t0, 1)
        converged, last = chaos.converge(timeout=180)
        result["converged"] = converged
        result["final"] = last
        lost = {}
        lost_acked = {}
        extra = {}
        for node in chaos.nodes:
            lost[node.name], lost_acked[node.name], extra[node.name] = chaos.verify(node)
        for node in chaos.nodes:
            node.remember_stats()
        result.update(
            faults=dict(sorted(chaos.faults.items())),
            faults_total=sum(chaos.faults.values()),
            faults_not_applicable=dict(sorted(chaos.skipped.items())),
            writes=chaos.ledger.confirmed,
            writes_acked=chaos.ledger.acked,
            writes_lost=max(lost.values()),
            writes_acked_lost=max(lost_acked.values()),
            lost_by_node=lost,
            list_elements_extra=extra,
            replica_stream_errors=chaos.replica_errors(),
            sync={n.name: dict(n.lifetimes_stats) for n in (chaos.p, chaos.r1)},
        )
        ok = (
            converged
            and result["writes_lost"] == 0
            and not any(extra.values())
            and not any(result["replica_stream_errors"].values())
        )
    except Exception as err:  # reported below with the servers' logs, then exit status 1
        traceback.print_exc()
        result["error"] = repr(err)
        result["faults"] = dict(sorted(chaos.faults.items()))
    finally:
        if not ok:
            for node in chaos.nodes:
                print(f"--- {node.name} log tail\n{node.log_tail()}", file=sys.stderr)
        chaos.stop()
        if ok and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            result["dir"] = str(root)
    print("faults survived by kind:")
    for name, count in result.get("faults", {}).items():
        print(f"  {name:24} {count}")
    print(
        f"writes confirmed {result.get('writes')}, acknowledged by WAIT "
        f"{result.get('writes_acked')}, lost {result.get('writes_lost')} "
        f"(acknowledged lost {result.get('writes_acked_lost')})"
    )
    print("CHAOS-RESULT " + json.dumps(result, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
