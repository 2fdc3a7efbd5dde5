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

This module is the public API."""

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
from boltq_core.running.attempt import JobContext
from boltq_core.running.processors import ProcessorRegistry, processor, register_processor

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
