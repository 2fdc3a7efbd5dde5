"""boltq_core: the library every BoltQ function shares. No HTTP framework and no dev server in
here. Its folders, from the bottom up:

  errors, keys, timefmt  errors, every key of a namespace, how times are written
  secrets                a setting's value read from Secrets Manager by its ARN (AWS)
  config                 Settings: every knob, with its default and unit
  store/                 connections to Redis/Valkey and how they ride through a failover
  jobs/                  the job model, one Lua script per state change, Queue, workflows
  access/                API keys (stored hashed), WebSocket tickets, the route -> scope table
  duties/                the serverless duties: promotion, events, fleet, status push
  running/               an attempt's vocabulary, processors, the runner and its heartbeat
  observability/         metrics (counting, export), tracing, job logs

Each folder imports only from those above it in this list.

This module is the public API. Its names are imported on first use (PEP 562), so a function
that imports one submodule (`boltq_core.access.routes`) does not load them all: the api
function's cold start does not pay for the runner and the processors."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boltq_core.config import Settings
    from boltq_core.errors import (
        BoltQError,
        Conflict,
        InvalidInput,
        NotFound,
        PayloadTooLarge,
        PermanentError,
        RateLimited,
        RetryAfter,
        StoreUnavailable,
    )
    from boltq_core.jobs.models import Job, JobSpec, JobStatus, Priority, QueueStats
    from boltq_core.jobs.queue import Queue
    from boltq_core.running.attempt import JobContext
    from boltq_core.running.processors import ProcessorRegistry, processor, register_processor

# public name -> the module that defines it
_WHERE = {
    "Settings": "boltq_core.config",
    **dict.fromkeys(("BoltQError", "Conflict", "InvalidInput", "NotFound", "PayloadTooLarge",
                     "PermanentError", "RateLimited", "RetryAfter", "StoreUnavailable"),
                    "boltq_core.errors"),
    **dict.fromkeys(("Job", "JobSpec", "JobStatus", "Priority", "QueueStats"),
                    "boltq_core.jobs.models"),
    "Queue": "boltq_core.jobs.queue",
    "JobContext": "boltq_core.running.attempt",
    **dict.fromkeys(("ProcessorRegistry", "processor", "register_processor"),
                    "boltq_core.running.processors"),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'boltq_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found once: later look-ups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    "RateLimited",
    "RetryAfter",
    "Settings",
    "StoreUnavailable",
    "processor",
    "register_processor",
]
