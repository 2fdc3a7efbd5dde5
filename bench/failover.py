"""Failover figures with real servers: every client reaches a primary + replica pair
(tests.support.faults.ReplicaPair) through one endpoint (tests.support.faults.Proxy), as with
ElastiCache.

- planned: FAILOVER (roles swap, nothing acknowledged may be lost), then the endpoint moves
  after `dns_lag` seconds. A submitter thread and 2 worker processes carry on by themselves.
- unplanned: the primary is SIGKILLed, the replica promoted (REPLICAOF NO ONE) and the
  endpoint moved; acknowledged submits the replica had not received are lost, unless submits
  wait for the replica (SUBMIT_WAIT_REPLICAS=1)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import redis

from bench.rcommon import (
    Submitter,
    WorkerPool,
    close,
    count_by,
    error_kind,
    log,
    longest_gap,
    new_prefix,
    queue_on,
    read_jobs,
)
from boltq_core import Job, Queue
from boltq_local.valkey import ValkeyServer
from tests.support.faults import Proxy, ReplicaPair

LEASE = 2.0


@dataclass
class PlannedResult:
    dns_lag: float
    failover_seconds: float = 0.0  # FAILOVER until the roles have swapped
    resumed: float | None = None  # switch -> first acknowledged submit
    outage: float | None = None  # FAILOVER sent -> first acknowledged submit after the switch
    ack_gap: float = 0.0  # longest gap between acknowledged submits
    completion_gap: float = 0.0  # longest gap between job completions (server clock)
    acked: int = 0
    errors: list[str] = field(default_factory=list)
    lost: int = 0  # acknowledged, missing on the new primary
    not_completed: dict[str | None, int] = field(default_factory=dict)
    worker_deaths: list[str] = field(default_factory=list)
    stuck: bool = False  # the submitter still in a call 15 s after stop


def run_planned(dns_lag: float, after: float = 2.0) -> PlannedResult:
    """One planned failover under load; `after` s of submits on the new primary follow."""
    res = PlannedResult(dns_lag)
    prefix = new_prefix("fo")
    with ReplicaPair() as pair, Proxy(pair.primary.port) as proxy:
        pool = WorkerPool(proxy.url, prefix, lease=LEASE, concurrency=20)
        queue = queue_on(proxy.url, prefix, lease_seconds=LEASE)
        sub = Submitter(queue, data={"seconds": 0.02})
        try:
            pool.spawn()
            pool.spawn()
            sub.start()
            sub.wait_acked(100, timeout=10)  # the workers are busy by now
            t0 = time.monotonic()
            new = pair.failover()
            res.failover_seconds = time.monotonic() - t0
            time.sleep(dns_lag)  # the endpoint's DNS name moves some time after the promotion
            proxy.switch(new.port)
            switched = time.monotonic()
            res.resumed = sub.first_ack_after(switched, timeout=15)
            if res.resumed is not None:
                res.outage = switched + res.resumed - t0
            time.sleep(after)
            res.stuck = not sub.stop()
            res.acked = len(sub.acked)
            res.errors = [msg for _, msg in sub.errors]
            res.ack_gap = longest_gap([a[0] for a in sub.acked])
            direct = queue_on(new.url, prefix)
            try:
                ids = sub.ids()
                jobs = _wait_completed(direct, ids, pool, timeout=20)
                res.lost = sum(1 for j in jobs.values() if j is None)
                res.not_completed = count_by(j.status if j else None for j in jobs.values()
                                             if j is None or j.status != "completed")
                res.completion_gap = longest_gap([j.finished_at.timestamp() for j in
                                                  jobs.values() if j and j.finished_at])
            finally:
                close(direct)
            res.worker_deaths = [pool.why(p) for p in pool.died()]
        finally:
            sub.stop()
            pool.stop()
            close(queue)
    return res


def _wait_completed(
    queue: Queue, ids: list[str], pool: WorkerPool, timeout: float
) -> dict[str, Job | None]:
    """Wait (while a worker is alive) until every job in `ids` has completed; the jobs."""
    end = time.monotonic() + timeout
    jobs = read_jobs(queue, ids)
    while (pool.alive() and time.monotonic() < end
           and any(j is None or j.status != "completed" for j in jobs.values())):
        time.sleep(0.1)
        jobs = read_jobs(queue, ids)
    return jobs


@dataclass
class UnplannedResult:
    wait_replicas: int
    link_stall: float  # the replication link stalled this long before the kill (0: never)
    promote_after: float  # the kill -> the replica promoted and the endpoint moved
    acked_at_kill: int = 0  # acknowledged by the old primary before it died
    lost: int = 0  # acknowledged (by either node), missing on the promoted replica
    acked_after: int = 0  # acknowledged by the new primary after the switch
    resumed: float | None = None  # switch -> first acknowledged submit (None: none came)
    errors_before: int = 0  # submits refused before the kill (SUBMIT_WAIT_REPLICAS, stall)
    errors_after: int = 0  # submits refused or failed after the kill
    error_kinds: dict[str, int] = field(default_factory=dict)


def run_unplanned(wait_replicas: int, link_stall: float = 0.0, load: float = 1.5,
                  promote_after: float = 1.0, after: float = 1.5, resume_wait: float = 8.0,
                  submitters: int = 2) -> UnplannedResult:
    """`submitters` threads submit back to back for `load` s; then the primary dies (SIGKILL);
    `promote_after` s later (detecting the failure and promoting take time) the replica is
    promoted and the endpoint moves; submits go on until one is acknowledged
    (at most `resume_wait` s; not waited for with SUBMIT_WAIT_REPLICAS, as the promoted node
    has no replica to confirm them), then `after` s more. With
    `link_stall`, the replication link (through a proxy of its own) is black-holed that long
    before the kill: a replica that lags behind, as under load or a network blip."""
    res = UnplannedResult(wait_replicas, link_stall, promote_after)
    prefix = new_prefix("kill")
    with LinkedPair() as pair, Proxy(pair.primary.port) as proxy:
        queue = queue_on(proxy.url, prefix, submit_wait_replicas=wait_replicas)
        subs = [Submitter(queue, job_type="nap", pause=0) for _ in range(submitters)]
        try:
            for s in subs:
                s.start()
            time.sleep(load)
            if link_stall:
                pair.link.blackhole()
                time.sleep(link_stall)
            old, new = pair.primary, pair.replica
            assert old.proc is not None
            old.proc.kill()  # no shutdown: whatever it had not sent the replica is gone
            old.proc.wait()
            killed = time.monotonic()
            pair.link.cut()  # the held replication bytes die with the node
            time.sleep(promote_after)
            with redis.Redis(port=new.port, socket_timeout=5) as c:
                c.execute_command("REPLICAOF", "NO", "ONE")
            proxy.switch(new.port)
            switched = time.monotonic()
            if not wait_replicas:
                firsts = [s.first_ack_after(switched, resume_wait) for s in subs]
                res.resumed = min((f for f in firsts if f is not None), default=None)
            time.sleep(after)
            for s in subs:
                s.stop()
            # nothing could answer between the kill and the switch: an ack recorded then is
            # the old primary's reply, noted late by its thread
            res.acked_at_kill = sum(1 for s in subs for a in s.acked if a[0] < switched)
            res.acked_after = sum(1 for s in subs for a in s.acked if a[0] >= switched)
            res.errors_before = sum(1 for s in subs for e in s.errors if e[0] < killed)
            errs = [e[1] for s in subs for e in s.errors if e[0] >= killed]
            res.errors_after = len(errs)
            res.error_kinds = count_by(error_kind(e) for e in errs)
            direct = queue_on(new.url, prefix)
            try:
                jobs = read_jobs(direct, [a[1] for s in subs for a in s.acked])
            finally:
                close(direct)
            res.lost = sum(1 for j in jobs.values() if j is None)
        finally:
            for s in subs:
                s.stop()
            close(queue)
    log(f"unplanned failover, SUBMIT_WAIT_REPLICAS={wait_replicas}, link stall "
        f"{link_stall:g} s: {res.lost} of {res.acked_at_kill} acknowledged lost")
    return res


class LinkedPair:
    """A primary and its replica whose replication link runs through a Proxy (`link`), so
    the link itself can stall. ReplicaPair connects them directly."""

    def __init__(self) -> None:
        args = ["--repl-diskless-sync-delay", "0"]
        self.primary = ValkeyServer(extra=args)
        self.link = Proxy(self.primary.port)
        self.replica: ValkeyServer | None = None

    def __enter__(self) -> LinkedPair:
        try:
            self.primary.start()
            self.link.start()
            self.replica = ValkeyServer(
                extra=["--repl-diskless-sync-delay", "0",
                       "--replicaof", "127.0.0.1", str(self.link.port)]).start()
            self._wait_in_sync()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_in_sync(self, timeout: float = 15.0) -> None:
        assert self.replica is not None
        end = time.monotonic() + timeout
        with (redis.Redis(port=self.replica.port, decode_responses=True) as r,
              redis.Redis(port=self.primary.port, decode_responses=True) as p):
            while True:
                rep, pri = r.info("replication"), p.info("replication")
                link = pri.get("slave0")
                if (rep.get("master_link_status") == "up" and isinstance(link, dict)
                        and int(link.get("offset", -1)) == int(pri["master_repl_offset"])):
                    return
                if time.monotonic() > end:
                    raise RuntimeError(f"the replica did not sync within {timeout}s: {rep}")
                time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        for stop in (self.replica.stop if self.replica else None, self.link.stop,
                     self.primary.stop):
            if stop is not None:
                with contextlib.suppress(Exception):
                    stop()
