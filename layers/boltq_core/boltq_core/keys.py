"""Every Redis key of one BoltQ namespace. Every key shares the hash tag "{prefix}", so a
namespace lives in one cluster slot. jobs/lua/includes/common.lua documents the keys the job
scripts get (COMMON, in KEYS order); the others are documented where they are used."""

from __future__ import annotations

from dataclasses import dataclass, field

# the keys every script gets, in KEYS order (KEYS[1..22]); names ending in ':' are prefixes
COMMON = (
    "ready:0", "ready:1", "ready:2", "scheduled", "retrying", "active", "completed",
    "cancelled", "dlq", "jobs", "stats", "events", "marker", "seq", "workflows", "wf_done",
    "job:", "wf:", "idem:", "types", "suspects", "drain",
)
_AT = {name: i for i, name in enumerate(COMMON)}


@dataclass(frozen=True)
class Keys:
    prefix: str = "boltq"
    common: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "common", tuple(f"{self.tag}:{name}" for name in COMMON))

    @property
    def tag(self) -> str:
        return "{" + self.prefix + "}"

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

    def job(self, job_id: str) -> str:
        return self.named("job:") + job_id

    def workflow(self, wf_id: str) -> str:
        return self.named("wf:") + wf_id

    def idem(self, key: str) -> str:
        return self.named("idem:") + key

    def claim(self, claim_id: str) -> str:
        """The record of one claim call, so a claim whose reply was lost can be asked again."""
        return f"{self.tag}:claim:{claim_id}"

    # --- beside the job scripts' keys ---------------------------------------------------------

    fleet = property(lambda self: f"{self.tag}:fleet")  # ZSET live worker tokens (duties.fleet)
    metrics = property(lambda self: f"{self.tag}:metrics")  # HASH histograms, invocations
    promoter_lock = property(lambda self: f"{self.tag}:promoter:lock")  # STRING lock holder
    ws_cursor = property(lambda self: f"{self.tag}:ws:cursor")  # STRING last pushed event id
    ws_watched = property(lambda self: f"{self.tag}:ws:watched")  # ZSET subscribed conns

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
        return f"{self.tag}:ws:conn:{conn_id}"

    def ws_sub(self, topic: str) -> str:
        """SET the connections subscribed to a topic."""
        return f"{self.tag}:ws:sub:{topic}"

    # --- access (boltq_core.access) -----------------------------------------------------------

    api_key_names = property(lambda self: f"{self.tag}:apikeys")  # HASH key name -> key id

    def api_key(self, key_id: str) -> str:
        """HASH one API key: name, scope, sha256 (of the whole key; never the key), created."""
        return f"{self.tag}:apikey:{key_id}"

    def ws_ticket(self, ticket_hash: str) -> str:
        """STRING one WebSocket ticket (by the sha256 of the ticket): the JSON principal it
        was issued to; expires after WS_TICKET_SECONDS, deleted when used."""
        return f"{self.tag}:ws:ticket:{ticket_hash}"
