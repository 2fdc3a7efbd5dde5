"""The WebSocket connection registry: which connections are open, where to post to them (the
management endpoint), and what each one subscribed to. Everything lives under the namespace's
hash tag and expires, so connections that vanish without a $disconnect cost nothing for long.

Keys (prefix `{p}`):
  {p}:ws:conn:<connection id>  HASH  endpoint, connected (ms), subs (JSON list of topics),
                                     scope (of the ticket it connected with)
  {p}:ws:sub:<topic>           SET   connection ids subscribed to a topic
  {p}:ws:watched               ZSET  connection ids with a subscription, score = ms it expires
                                     (the pusher reads no events while it counts none)
Topics: "job:<id>", "wf:<id>" and "all"."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from boltq_core.errors import InvalidInput
from boltq_core.jobs.scripts import source
from boltq_core.keys import Keys

ALL = "all"
# API Gateway closes a WebSocket after 2 h; a little more so a live one never expires first
DEFAULT_TTL_SECONDS = 2 * 3600 + 600
MAX_SUBSCRIPTIONS = 1000  # per connection

# subscribe: add a topic to the connection's list and the connection to the topic's set, and


def topic_for(job_id: str | None = None, workflow_id: str | None = None, all_: bool = False) -> str:
    if sum(bool(x) for x in (job_id, workflow_id, all_)) != 1:
        raise InvalidInput(
            "give exactly one of job_id, workflow_id or topic='all'", [{"field": "job_id"}]
        )
    if all_:
        return ALL
    value = job_id or workflow_id or ""
    if not isinstance(value, str) or len(value) > 128:
        field = "job_id" if job_id else "workflow_id"
        raise InvalidInput(f"{field}: must be a string of at most 128 characters",
                           [{"field": field}])
    return f"job:{value}" if job_id else f"wf:{value}"


class ConnectionRegistry:
    """Open WebSocket connections and their subscriptions, in Redis."""

    def __init__(self, client: Any, keys: Keys, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self.redis = client
        self.keys = keys
        self.ttl_ms = int(ttl_seconds * 1000)
        self.watched_key = keys.ws_watched
        self._subscribe = client.register_script(source("ws_subscribe"))

    def conn_key(self, conn_id: str) -> str:
        return self.keys.ws_conn(conn_id)

    def sub_key(self, topic: str) -> str:
        return self.keys.ws_sub(topic)

    def connect(self, conn_id: str, endpoint: str, scope: str = "") -> None:
        key = self.conn_key(conn_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, mapping={
            "endpoint": endpoint, "connected": int(time.time() * 1000), "subs": "[]",
            "scope": scope,
        })
        pipe.pexpire(key, self.ttl_ms)
        pipe.execute()

    def scope(self, conn_id: str) -> str | None:
        """The scope the connection was authorised with (boltq_core.access)."""
        return self.redis.hget(self.conn_key(conn_id), "scope")

    def endpoint(self, conn_id: str) -> str | None:
        return self.redis.hget(self.conn_key(conn_id), "endpoint")

    def subscriptions(self, conn_id: str) -> list[str]:
        raw = self.redis.hget(self.conn_key(conn_id), "subs")
        return json.loads(raw) if raw else []

    def subscribe(self, conn_id: str, topic: str) -> int:
        """Subscribe; returns how many topics the connection now has."""
        n = int(self._subscribe(
            keys=[self.conn_key(conn_id), self.sub_key(topic), self.watched_key],
            args=[topic, self.ttl_ms, MAX_SUBSCRIPTIONS, conn_id],
        ))
        if n == -1:
            raise InvalidInput(f"connection {conn_id!r} is not registered; reconnect",
                               [{"field": "connectionId"}])
        if n == -2:
            raise InvalidInput(f"topic: at most {MAX_SUBSCRIPTIONS} subscriptions per connection",
                               [{"field": "topic"}])
        return n

    def unsubscribe(self, conn_id: str, topic: str) -> None:
        key = self.conn_key(conn_id)
        subs = [t for t in self.subscriptions(conn_id) if t != topic]
        pipe = self.redis.pipeline(transaction=False)
        pipe.srem(self.sub_key(topic), conn_id)
        if self.redis.exists(key):
            pipe.hset(key, "subs", json.dumps(subs))
        pipe.execute()

    def disconnect(self, conn_id: str) -> None:
        """Forget a connection and every subscription it had."""
        subs = self.subscriptions(conn_id)
        pipe = self.redis.pipeline(transaction=False)
        for topic in subs:
            pipe.srem(self.sub_key(topic), conn_id)
        pipe.delete(self.conn_key(conn_id))
        pipe.zrem(self.watched_key, conn_id)
        pipe.execute()

    def subscribers(self, topics: Sequence[str]) -> dict[str, dict[str, str]]:
        """topic -> {connection id: endpoint} for live connections; ids whose connection
        expired are dropped from the topic's set on the way."""
        if not topics:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for t in topics:
            pipe.smembers(self.sub_key(t))
        members = pipe.execute()
        ids = sorted({c for m in members for c in m})
        endpoints: dict[str, str | None] = {}
        if ids:
            pipe = self.redis.pipeline(transaction=False)
            for c in ids:
                pipe.hget(self.conn_key(c), "endpoint")
            endpoints = dict(zip(ids, pipe.execute(), strict=True))
        out: dict[str, dict[str, str]] = {}
        stale: list[tuple[str, str]] = []
        for topic, conns in zip(topics, members, strict=True):
            live = {}
            for c in conns:
                ep = endpoints.get(c)
                if ep:
                    live[c] = ep
                else:
                    stale.append((topic, c))
            if live:
                out[topic] = live
        if stale:
            pipe = self.redis.pipeline(transaction=False)
            for topic, c in stale:
                pipe.srem(self.sub_key(topic), c)
            pipe.execute()
        return out

    def prune(self, conn_ids: Iterable[str]) -> None:
        for c in conn_ids:
            self.disconnect(c)
