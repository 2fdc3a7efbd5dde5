"""boltq_core: the library every BoltQ function shares (models, Redis scripts, queue, workflows,
processors, runner, config). No HTTP framework and no dev server in here."""

from boltq_core.config import Settings
from boltq_core.errors import (
    BoltQError,
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermanentError,
    RetryAfter,
    StoreUnavailable,
)
from boltq_core.jobs.models import Job, JobSpec, JobStatus, Priority, QueueStats
from boltq_core.jobs.queue import Queue
from boltq_core.running.processors import (
    JobContext,
    ProcessorRegistry,
    processor,
    register_processor,
)

__all__ = [
    "BoltQError",
    "Conflict",
    "InvalidInput",
    "Job",
    "JobContext",
    "JobSpec",
    "JobStatus",
    "NotFound",
    "PayloadTooLarge",
    "PermanentError",
    "Priority",
    "ProcessorRegistry",
    "Queue",
    "QueueStats",
    "RetryAfter",
    "Settings",
    "StoreUnavailable",
    "processor",
    "register_processor",
]
