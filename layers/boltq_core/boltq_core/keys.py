"""Every Redis key of a BoltQ deployment (key prefix) and of each of its named queues.

Each queue is a namespace of its own with its own hash tag, so in cluster mode queues spread
over the shards while one queue lives in one slot: the default queue's tag is "{prefix}" (the
keys of a deployment from before named queues), a named queue's "{prefix:queue}". The keys of
the deployment itself (fleet, metrics, WebSocket state, the list of known queues) carry the
default queue's tag. A job or workflow id names its queue ("<queue>:<uuid>"; a bare uuid is
in the default queue), so a job is found by id in one round trip whatever its queue.
jobs/lua/includes/common.lua documents the keys the job scripts get (COMMON, in KEYS order);
the others are documented where they are used."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_QUEUE = "default"
QUEUE_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_QUEUE = re.compile(QUEUE_PATTERN)


def is_queue_name(name: str) -> bool:
    return bool(_QUEUE.match(name))


def queue_of(some_id: str) -> str:
    """The queue a job or workflow id belongs to ("<queue>:<uuid>"; a bare uuid: default)."""
    name, sep, _ = some_id.rpartition(":")
    return name if sep and name else DEFAULT_QUEUE


def in_queue(queue: str, uuid: str) -> str:
    """The id of a new job or workflow of `queue`."""
    return uuid if queue == DEFAULT_QUEUE else f"{queue}:{uuid}"

# the keys every script gets, in KEYS order (KEYS[1..34]); names ending in ':' are prefixes
COMMON = (
    "ready:0", "ready:1", "ready:2", "scheduled", "retrying", "active", "completed",
    "cancelled", "dlq", "jobs", "stats", "events", "marker", "seq", "workflows", "wf_done",
    "job:", "wf:", "idem:", "types", "suspects", "drain", "paused",
    "gring:0", "gring:1", "gring:2", "gwait", "gstate", "groups", "gq:",
    "idle", "idlecap", "inbox:", "outbox",
)
_AT = {name: i for i, name in enumerate(COMMON)}
# the gstate fields counting the named groups' ready jobs per priority (includes/groups.lua)
GROUP_READY = ("ready:0", "ready:1", "ready:2")


@dataclass(frozen=True)
class Keys:
    prefix: str = "boltq"
    queue: str = DEFAULT_QUEUE
    common: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "common", tuple(f"{self.tag}:{name}" for name in COMMON))

    @property
    def tag(self) -> str:
        if self.queue == DEFAULT_QUEUE:
            return "{" + self.prefix + "}"
        return "{" + self.prefix + ":" + self.queue + "}"

    @property
    def deployment(self) -> Keys:
        """The keys of the deployment (the default queue's tag)."""
        return self if self.queue == DEFAULT_QUEUE else Keys(self.prefix)

    def of(self, queue: str) -> Keys:
        return self if queue == self.queue else Keys(self.prefix, queue)

    def named(self, name: str) -> str:
        return self.common[_AT[name]]

    def ready(self, priority: int) -> str:
        return self.common[priority]

    scheduled = property(lambda self: self.named("scheduled"))
    retrying = property(lambda self: self.named("retrying"))
    active = property(lambda self: self.named("active"))
    completed = property(lambda self: self.named("completed"))
    cancelled = property(lambda self: self.named("cancelled"))
    dlq = property(lambda self: self.named("dlq"))
    index = property(lambda self: self.named("jobs"))
    stats = property(lambda self: self.named("stats"))
    events = property(lambda self: self.named("events"))
    marker = property(lambda self: self.named("marker"))
    workflows = property(lambda self: self.named("workflows"))
    suspects = property(lambda self: self.named("suspects"))
    types = property(lambda self: self.named("types"))
    paused = property(lambda self: self.named("paused"))  # STRING '1' while the queue is paused
    # LIST messages for other queues (workflow steps there), delivered by jobs.relay
    outbox = property(lambda self: self.named("outbox"))
    # groups (SPEC §13; jobs/lua/includes/groups.lua documents them)
    group_wait = property(lambda self: self.named("gwait"))
    group_state = property(lambda self: self.named("gstate"))
    groups = property(lambda self: self.named("groups"))

    def group_ring(self, priority: int) -> str:
        return self.named(f"gring:{priority}")

    def group_ready(self, group: str, priority: int) -> str:
        """LIST one group's ready job ids at one priority (the ungrouped jobs': ready:<p>)."""
        return self.named("gq:") + f"{priority}:{group}" if group else self.ready(priority)

    def group_starts(self, group: str) -> str:
        """LIST the start times (ms) of a rate-limited group inside its window, oldest first."""
        return self.named("gq:") + f"s:{group}"
    # HASH the queue's settings (max_workers)
    settings = property(lambda self: f"{self.tag}:settings")
    # HASH schedule name -> its job's queue, for the schedules stored in a named queue (the
    # deployment's; a name not in it is in the default queue: jobs.schedules)
    schedule_queues = property(lambda self: f"{self.deployment.tag}:schedules:queues")

    def job(self, job_id: str) -> str:
        return self.named("job:") + job_id

    def workflow(self, wf_id: str) -> str:
        return self.named("wf:") + wf_id

    def idem(self, key: str) -> str:
        return self.named("idem:") + key

    def inbox(self, runner: str) -> str:
        """ZSET the jobs a submit handed to `runner` while it waited (lua/includes/lease.lua)."""
        return self.named("inbox:") + runner

    def claim(self, claim_id: str) -> str:
        """The record of one claim call, so a claim whose reply was lost can be asked again."""
        return f"{self.tag}:claim:{claim_id}"

    # --- beside the job scripts' keys (the deployment's, under the default queue's tag) --------

    # SET the names of every queue a job was ever submitted to (besides the default)
    queues = property(lambda self: f"{self.deployment.tag}:queues")

    # ZSET live worker tokens (duties.fleet)
    fleet = property(lambda self: f"{self.deployment.tag}:fleet")
    # HASH histograms, invocations
    metrics = property(lambda self: f"{self.deployment.tag}:metrics")
    # STRING the promoter lock's holder
    promoter_lock = property(lambda self: f"{self.deployment.tag}:promoter:lock")
    # STRING the last event id of this queue's stream the status pusher has pushed
    ws_cursor = property(lambda self: f"{self.tag}:ws:cursor")
    # ZSET subscribed connections
    ws_watched = property(lambda self: f"{self.deployment.tag}:ws:watched")

    # schedules (jobs.schedules; jobs/lua/schedule_*.lua)
    schedules = property(lambda self: f"{self.tag}:schedules")  # ZSET every name, score 0
    schedules_due = property(lambda self: f"{self.tag}:schedules:due")  # ZSET name -> next ms

    def schedule(self, name: str) -> str:
        """HASH one schedule: its spec and state (schedule_save.lua documents the fields)."""
        return f"{self.tag}:sched:{name}"

    def schedule_recent(self, name: str) -> str:
        """LIST a schedule's latest occurrences, newest first: "<ms>:<job id>[:t]"."""
        return f"{self.tag}:sched_recent:{name}"

    def ws_conn(self, conn_id: str) -> str:
        """HASH one WebSocket connection (duties.subscriptions)."""
        return f"{self.deployment.tag}:ws:conn:{conn_id}"

    def ws_sub(self, topic: str) -> str:
        """SET the connections subscribed to a topic."""
        return f"{self.deployment.tag}:ws:sub:{topic}"

    # --- access (boltq_core.access) -----------------------------------------------------------

    # HASH key name -> key id
    api_key_names = property(lambda self: f"{self.deployment.tag}:apikeys")

    def api_key(self, key_id: str) -> str:
        """HASH one API key: name, scope, sha256 (of the whole key; never the key), created."""
        return f"{self.deployment.tag}:apikey:{key_id}"

    def ws_ticket(self, ticket_hash: str) -> str:
        """STRING one WebSocket ticket (by the sha256 of the ticket): the JSON principal it
        was issued to; expires after WS_TICKET_SECONDS, deleted when used."""
        return f"{self.deployment.tag}:ws:ticket:{ticket_hash}"
