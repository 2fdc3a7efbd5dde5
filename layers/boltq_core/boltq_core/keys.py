"""The Redis key layout of one BoltQ namespace. Every key shares the hash tag "{prefix}", so a
namespace lives in one cluster slot; lua/includes/common.lua documents what each key holds."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Keys:
    prefix: str = "boltq"
    common: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        t = "{" + self.prefix + "}"
        object.__setattr__(
            self,
            "common",
            (
                f"{t}:ready:0",
                f"{t}:ready:1",
                f"{t}:ready:2",
                f"{t}:scheduled",
                f"{t}:retrying",
                f"{t}:active",
                f"{t}:completed",
                f"{t}:cancelled",
                f"{t}:dlq",
                f"{t}:jobs",
                f"{t}:stats",
                f"{t}:events",
                f"{t}:marker",
                f"{t}:seq",
                f"{t}:workflows",
                f"{t}:wf_done",
                f"{t}:job:",
                f"{t}:wf:",
                f"{t}:idem:",
            ),
        )

    @property
    def tag(self) -> str:
        return "{" + self.prefix + "}"

    def ready(self, priority: int) -> str:
        return self.common[priority]

    scheduled = property(lambda self: self.common[3])
    retrying = property(lambda self: self.common[4])
    active = property(lambda self: self.common[5])
    completed = property(lambda self: self.common[6])
    cancelled = property(lambda self: self.common[7])
    dlq = property(lambda self: self.common[8])
    index = property(lambda self: self.common[9])
    stats = property(lambda self: self.common[10])
    events = property(lambda self: self.common[11])
    marker = property(lambda self: self.common[12])
    workflows = property(lambda self: self.common[14])

    def job(self, job_id: str) -> str:
        return self.common[16] + job_id

    def workflow(self, wf_id: str) -> str:
        return self.common[17] + wf_id

    def idem(self, key: str) -> str:
        return self.common[18] + key
