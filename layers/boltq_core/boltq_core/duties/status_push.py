"""StatusPusher: tails the events stream of every queue and posts each state change to the
WebSocket connections subscribed to it (SPEC §5), off the path of whoever changed the state.

Every transition already appends to its queue's events stream inside its script, so
submitting or finishing a job never waits on a socket. The pusher reads each stream after the
id it stored last (the queue's ws:cursor), so the next invocation (or an overlapping one)
carries on where the last stopped, looks the subscribers up in the ConnectionRegistry (the
job, its workflow, "all"), and posts through the API Gateway Management API concurrently; a
gone connection is pruned. While no connection has a subscription (the usual case) it reads
no events at all: it keeps its cursors at the streams' ends and only waits for the next
event, so a busy queue nobody watches costs the store three small commands per coalescing interval.

With `coalesce_ms`, run_until coalesces wake-ups: the first event after a quiet spell is pushed
at once, but after a pump that emptied the stream the next read waits until `coalesce_ms` have
passed, so a burst of events costs one read, one subscriber lookup and one cursor update per
interval instead of one per event (a full batch is followed at once by the next read)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boltq_core.duties.subscriptions import ALL, ConnectionRegistry
from boltq_core.jobs.event_log import entries
from boltq_core.jobs.models import Job
from boltq_core.jobs.queue import Queue
from boltq_core.jobs.scripts import source
from boltq_core.timefmt import iso, now_ms

log = logging.getLogger("boltq.push")

# post(endpoint, connection id, payload bytes) -> False when the connection is gone
Poster = Callable[[str, str, bytes], bool]
QUEUES_REFRESH_SECONDS = 2.0  # how often the pusher looks for new queues
START_BACK_MS = 60_000  # with no stored cursor, start this far back in the stream



class ManagementApiPoster:
    """Posts through the API Gateway Management API (boto3 `apigatewaymanagementapi`), one
    client per endpoint: https://{api-id}.execute-api.{region}.amazonaws.com/{stage} in AWS,
    http://localhost:{port} in the local runtime."""

    def __init__(self, timeout_seconds: float = 3.0) -> None:
        self.timeout = timeout_seconds
        self._clients: dict[str, Any] = {}

    def client(self, endpoint: str) -> Any:
        c = self._clients.get(endpoint)
        if c is None:
            import boto3
            from botocore.config import Config

            cfg = Config(connect_timeout=self.timeout, read_timeout=self.timeout,
                         retries={"max_attempts": 2, "mode": "standard"},
                         max_pool_connections=32)
            c = self._clients[endpoint] = boto3.client(
                "apigatewaymanagementapi", endpoint_url=endpoint, config=cfg
            )
        return c

    def __call__(self, endpoint: str, conn_id: str, data: bytes) -> bool:
        client = self.client(endpoint)
        try:
            client.post_to_connection(ConnectionId=conn_id, Data=data)
        except client.exceptions.GoneException:
            return False
        return True


# API Gateway's WebSocket message limit: larger posts fail (and a route reply is dropped)
WS_MESSAGE_MAX_BYTES = 128 * 1024
# what goes first when a message is too large: the biggest parts, which a client reads back
# through GET /api/v1/jobs/{id} (the message says which ones it left out)
_TRIM_ORDER = ("data", "result", "parent_results", "progress", "last_error", "steps")


def encode_message(msg: dict[str, Any], limit: int = WS_MESSAGE_MAX_BYTES) -> bytes:
    """A WebSocket message as JSON bytes of at most `limit`: over it, the snapshot's largest
    fields are left out and named in "trimmed" rather than the message being lost."""
    body = json.dumps(msg, separators=(",", ":"), default=str).encode()
    if len(body) <= limit:
        return body
    data = dict(msg["data"]) if isinstance(msg.get("data"), dict) else {}
    trimmed: list[str] = []
    for name in _TRIM_ORDER:
        if name in data:
            del data[name]
            trimmed.append(name)
            body = json.dumps({**msg, "data": data, "trimmed": trimmed},
                              separators=(",", ":"), default=str).encode()
            if len(body) <= limit:
                return body
    # still too large (say, a huge progress value of its own): the envelope alone
    keep = ("type", "topic", "job_id", "workflow_id", "status", "timestamp")
    bare = {k: msg[k] for k in keep if k in msg}
    return json.dumps({**bare, "trimmed": ["*"]}, separators=(",", ":"), default=str).encode()


class StatusPusher:
    def __init__(
        self,
        queue: Queue,
        registry: ConnectionRegistry,
        poster: Poster | None = None,
        *,
        threads: int = 16,
        batch: int = 200,
        coalesce_ms: float = 0.0,
    ) -> None:
        self.queue = queue
        self.registry = registry
        self.poster = poster or ManagementApiPoster()
        self.batch = batch
        self.coalesce = max(0.0, coalesce_ms) / 1000
        self.reads = 0  # stream reads that returned events
        self._last_read = 0  # events the last pump read
        self.cursor_key = queue.keys.ws_cursor  # the default queue's; each queue has its own
        self._queues: list[str] = []
        self._looked = float("-inf")
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="boltq-push")
        self.sent = 0
        self.pruned = 0
        self._advance = queue.redis.register_script(source("push_advance"))

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _known(self) -> list[str]:
        now = time.monotonic()
        if now - self._looked >= QUEUES_REFRESH_SECONDS:
            self._looked = now
            self._queues = self.queue.known_queues()
        return self._queues

    def _position(self) -> tuple[dict[str, str], bool, dict[str, str | None]]:
        """(queue -> the stored cursor, whether any connection has a subscription, queue ->
        its stream's last id), in one round trip."""
        names = self._known()
        pipe = self.queue.redis.pipeline(transaction=False)
        for name in names:
            pipe.get(self.queue.of(name).keys.ws_cursor)
        pipe.zcount(self.registry.watched_key, int(time.time() * 1000), "+inf")
        for name in names:
            pipe.xrevrange(self.queue.of(name).keys.events, count=1)
        r = pipe.execute()
        n = len(names)
        start = f"{max(0, int(time.time() * 1000) - START_BACK_MS)}-0"
        after = {name: str(stored) if stored else start for name, stored in zip(names, r[:n],
                                                                              strict=True)}
        last = {name: (x[0][0] if x else None) for name, x in zip(names, r[n + 1:], strict=True)}
        return after, int(r[n]) > 0, last

    def pump(self, block_ms: int | None = None) -> int:
        """Push the events after the stored cursors (waiting up to `block_ms` for some);
        returns how many messages were posted. With no subscription anywhere it reads no
        events: it moves the cursors to the streams' ends and waits for the next one."""
        after, watched, last = self._position()
        if not watched:
            for name, end in last.items():
                if end is not None and end != after[name]:
                    self._advance(keys=[self.queue.of(name).keys.ws_cursor], args=[end])
            got = self.queue.read_streams({n: last[n] or after[n] for n in after}, 1, block_ms)
            self._last_read = sum(entries(evs) for evs in got.values())
            return 0
        got = self.queue.read_streams(after, self.batch, block_ms)
        self._last_read = max((entries(evs) for evs in got.values()), default=0)
        if not got:
            return 0
        self.reads += 1
        sent = 0
        for name, events in got.items():
            sent += self.push(events)
            # only moves forward: a slower overlapping pusher never rewinds it
            self._advance(keys=[self.queue.of(name).keys.ws_cursor], args=[events[-1][0]])
        return sent

    def run_until(self, deadline: float, stop: Callable[[], bool] | None = None,
                  block_ms: int = 500) -> int:
        """Pump until time.monotonic() reaches `deadline` (or `stop()` holds)."""
        total = 0
        read_at = float("-inf")
        while (left := deadline - time.monotonic()) > 0 and not (stop and stop()):
            hold = read_at + self.coalesce - time.monotonic()
            if hold > 0:
                time.sleep(min(hold, left))
                continue
            try:
                total += self.pump(max(1, min(block_ms, int(left * 1000))))
            except Exception as exc:  # a store blip must not end the loop
                log.warning("status push failed: %s", exc)
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
                continue
            if 0 < self._last_read < self.batch:
                read_at = time.monotonic()  # caught up: let the next events gather
        return total

    # --- one batch of events ----------------------------------------------------------------

    def push(self, events: Sequence[tuple[str, dict[str, str]]]) -> int:
        # jobs' and workflows' changes; not the relay's wake-ups ('o': jobs.relay)
        events = [e for e in events if e[1].get("k") in ("j", "w")]
        topics: list[str] = [ALL]
        for _, f in events:
            if f.get("k") == "j":
                topics.append(f"job:{f['id']}")
            if f.get("wf"):
                topics.append(f"wf:{f['wf']}")
        subs = self.registry.subscribers(list(dict.fromkeys(topics)))
        if not subs:
            return 0
        wanted: list[tuple[dict[str, str], dict[str, str]]] = []  # (event, conn -> endpoint)
        for _, f in events:
            conns: dict[str, str] = dict(subs.get(ALL, {}))
            if f.get("k") == "j":
                conns.update(subs.get(f"job:{f['id']}", {}))
            if f.get("wf"):
                conns.update(subs.get(f"wf:{f['wf']}", {}))
            if conns:
                wanted.append((f, conns))
        if not wanted:
            return 0
        snapshots = self._snapshots([f for f, _ in wanted])
        # one task per connection, posting its messages in stream order; connections in parallel
        per_conn: dict[str, tuple[str, list[bytes]]] = {}
        for f, conns in wanted:
            body = encode_message(self.message(f, snapshots))
            for c, ep in conns.items():
                per_conn.setdefault(c, (ep, []))[1].append(body)
        items = [(ep, c, bodies) for c, (ep, bodies) in per_conn.items()]
        results: list[bool | None] = []
        gone: set[str] = set()
        for (_, c, _), res in zip(items, self._pool.map(self._post_all, items), strict=True):
            results += res
            if res and res[-1] is False:
                gone.add(c)
        if gone:
            self.registry.prune(gone)
            self.pruned += len(gone)
        sent = sum(1 for ok in results if ok)
        self.sent += sent
        return sent

    def _post_all(self, item: tuple[str, str, list[bytes]]) -> list[bool | None]:
        """Post one connection's messages in order; stops at the first GoneException."""
        endpoint, conn_id, bodies = item
        out: list[bool | None] = []
        for body in bodies:
            try:
                ok = self.poster(endpoint, conn_id, body)
            except Exception as exc:  # one bad socket must not stop the others
                log.warning("post to connection %s failed: %s", conn_id, exc)
                ok = None
            out.append(ok)
            if ok is False:
                break
        return out

    def _snapshots(self, events: list[dict[str, str]]) -> dict[str, Any]:
        """The current public JSON of every job and workflow named in `events`."""
        jobs = sorted({f["id"] for f in events if f.get("k") == "j"})
        wfs = sorted({f["id"] for f in events if f.get("k") == "w"})
        q = self.queue
        pipe = q.redis.pipeline(transaction=False)
        for j in jobs:
            pipe.hgetall(q.holding(j).keys.job(j))
        for w in wfs:
            pipe.hmget(q.holding(w).keys.workflow(w), "id", "name", "status", "total", "done")
        rows = pipe.execute()
        out: dict[str, Any] = {}
        for j, h in zip(jobs, rows[: len(jobs)], strict=True):
            if h:
                out["j:" + j] = Job.from_hash(h).public()
        for w, row in zip(wfs, rows[len(jobs):], strict=True):
            if row[0] is not None:
                out["w:" + w] = {
                    "id": row[0], "name": row[1], "status": row[2],
                    "total_steps": int(row[3] or 0), "completed_steps": int(row[4] or 0),
                }
        return out

    @staticmethod
    def message(f: dict[str, str], snapshots: dict[str, Any]) -> dict[str, Any]:
        """The SPEC §5 message for one event; `data` is the job (or workflow) as read when the
        message was built, `status` the transition the event recorded."""
        ts = iso(f.get("ts") or now_ms(), "milliseconds")
        if f.get("k") == "w":
            data = snapshots.get("w:" + f["id"]) or {"id": f["id"], "status": f["st"]}
            return {"type": "workflow_update", "workflow_id": f["id"], "status": f["st"],
                    "data": data, "timestamp": ts}
        data = snapshots.get("j:" + f["id"]) or {"id": f["id"], "type": f.get("ty"),
                                                 "status": f["st"]}
        msg = {"type": "job_update", "job_id": f["id"], "status": f["st"], "data": data,
               "timestamp": ts}
        if f.get("wf"):
            msg["workflow_id"] = f["wf"]
        if "p" in f:
            try:
                msg["progress"] = json.loads(f["p"])
            except ValueError:
                msg["progress"] = f["p"]
        return msg


def connect_pusher(queue: Queue, poster: Poster | None = None, **kwargs: Any) -> StatusPusher:
    return StatusPusher(queue, ConnectionRegistry(queue.redis, queue.keys), poster, **kwargs)


__all__ = ["WS_MESSAGE_MAX_BYTES", "ManagementApiPoster", "Poster", "StatusPusher",
           "connect_pusher", "encode_message"]
