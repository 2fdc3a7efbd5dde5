"""Settings: every knob of BoltQ and of its functions, read from the environment (the seed's
names kept), validated with pydantic; bad values stop the process with a message naming the
variable. Nothing else in BoltQ reads the environment for its own knobs (OpenTelemetry reads
its standard OTEL_* variables itself)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from boltq_core.errors import ConfigError, InvalidInput
from boltq_core.keys import Keys, is_queue_name
from boltq_core.secrets import read_secret

# field -> environment variable(s), first one set wins
ENV_NAMES: dict[str, tuple[str, ...]] = {
    "redis_url": ("REDIS_URL",),
    "redis_addr": ("REDIS_ADDR",),
    "redis_password": ("REDIS_PASSWORD", "REDIS_AUTH_TOKEN"),
    "redis_password_secret_arn": ("REDIS_AUTH_TOKEN_SECRET_ARN",),
    "redis_tls_ca_file": ("REDIS_TLS_CA_FILE",),
    "redis_cluster": ("REDIS_CLUSTER",),
    "key_prefix": ("BOLTQ_PREFIX",),
    "environment": ("ENVIRONMENT",),
    "api_port": ("API_PORT",),
    "metrics_port": ("METRICS_PORT",),
    "num_workers": ("NUM_WORKERS",),
    "max_attempts": ("MAX_ATTEMPTS",),
    "lease_seconds": ("LEASE_SECONDS",),
    "default_timeout_seconds": ("JOB_TIMEOUT_SECONDS",),
    "max_timeout_seconds": ("MAX_JOB_TIMEOUT_SECONDS",),
    "retention_seconds": ("RETENTION_SECONDS",),
    "max_payload_bytes": ("MAX_PAYLOAD_BYTES",),
    "dlq_max_size": ("DLQ_MAX_SIZE",),
    "events_max_length": ("EVENTS_MAX_LENGTH",),
    "retry_base_seconds": ("RETRY_BASE_SECONDS",),
    "retry_max_seconds": ("RETRY_MAX_SECONDS",),
    "worker_concurrency": ("WORKER_CONCURRENCY",),
    "claim_batch": ("CLAIM_BATCH",),
    "metrics_max_types": ("METRICS_MAX_TYPES",),
    "max_result_bytes": ("MAX_RESULT_BYTES",),
    "submit_wait_replicas": ("SUBMIT_WAIT_REPLICAS",),
    "submit_wait_aof": ("SUBMIT_WAIT_AOF",),
    "submit_wait_timeout_ms": ("SUBMIT_WAIT_TIMEOUT_MS",),
    "store_connect_timeout_seconds": ("STORE_CONNECT_TIMEOUT_SECONDS",),
    "store_timeout_seconds": ("STORE_TIMEOUT_SECONDS",),
    "store_retry_seconds": ("STORE_RETRY_SECONDS",),
    "schedule_grace_seconds": ("SCHEDULE_GRACE_SECONDS",),
    "schedule_history": ("SCHEDULE_HISTORY",),
    # the functions'
    "api_key": ("BOLTQ_API_KEY",),
    "api_key_secret_arn": ("BOLTQ_API_KEY_SECRET_ARN",),
    "ws_ticket_seconds": ("WS_TICKET_SECONDS",),
    "cors_allow_origins": ("CORS_ALLOW_ORIGINS",),
    "ws_management_endpoint": ("WS_MANAGEMENT_ENDPOINT",),
    "processors": ("BOLTQ_PROCESSORS",),
    "worker_queues": ("WORKER_QUEUES",),
    "worker_idle_seconds": ("WORKER_IDLE_SECONDS",),
    "worker_stop_before_seconds": ("WORKER_STOP_BEFORE_SECONDS",),
    "worker_function_name": ("WORKER_FUNCTION_NAME",),
    "lambda_endpoint_url": ("LAMBDA_ENDPOINT_URL",),
    "jobs_per_worker": ("JOBS_PER_WORKER",),
    "poller_coalesce_ms": ("POLLER_COALESCE_MS",),
    "poller_stop_before_seconds": ("POLLER_STOP_BEFORE_SECONDS",),
    "promoter_coalesce_ms": ("PROMOTER_COALESCE_MS",),
    "promoter_stop_before_seconds": ("PROMOTER_STOP_BEFORE_SECONDS",),
    "push_enabled": ("BOLTQ_PUSH",),
    "push_coalesce_ms": ("BOLTQ_PUSH_COALESCE_MS",),
    "metrics_enabled": ("BOLTQ_METRICS",),
    "pushgateway_url": ("PUSHGATEWAY_URL",),
    "metrics_push_seconds": ("METRICS_PUSH_SECONDS",),
    "metrics_push_timeout_seconds": ("METRICS_PUSH_TIMEOUT_SECONDS",),
}

# secret field -> the field holding its Secrets Manager ARN: in AWS the environment carries
# the ARN and the value is read at cold start (boltq_core.secrets); a value set in the
# environment (boltq dev, tests) wins
SECRET_ARNS: dict[str, str] = {
    "redis_password": "redis_password_secret_arn",
    "api_key": "api_key_secret_arn",
}


class Settings(BaseModel):
    """Every BoltQ setting, with its default and unit. `Settings.from_env()` reads them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_url: str | None = None  # redis://, rediss:// (TLS) or unix:// URL; wins over addr
    redis_addr: str = "localhost:6379"  # host:port, the seed's setting
    redis_password: str | None = None  # AUTH token (ElastiCache)
    redis_password_secret_arn: str | None = None  # ...or the ARN of its secret (AWS)
    redis_tls_ca_file: str | None = None  # CA bundle for rediss:// (default: the system's)
    redis_cluster: bool = False  # cluster-mode client (ElastiCache cluster mode enabled)
    key_prefix: str = Field("boltq", pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")  # hash tag {prefix}
    environment: str = "development"
    api_port: int = Field(8080, ge=1, le=65535)
    metrics_port: int = Field(9090, ge=1, le=65535)
    num_workers: int = Field(4, ge=1, le=1000)  # local worker processes / AWS fan-out cap
    max_attempts: int = Field(3, ge=1, le=100)  # default attempts per job
    lease_seconds: float = Field(15.0, gt=0, le=300)  # a dead worker's job runs again after this
    default_timeout_seconds: int = Field(300, ge=1)  # per-job timeout when a job names none
    max_timeout_seconds: int = Field(840, ge=1, le=86400)  # the longest timeout a job may ask
    retention_seconds: int = Field(86400, ge=1)  # finished jobs and workflows expire after this
    max_payload_bytes: int = Field(262144, ge=1)  # JSON size cap of a job's data
    dlq_max_size: int = Field(10000, ge=1)  # oldest dead letters are dropped past this
    events_max_length: int = Field(10000, ge=10)  # the event stream is trimmed to about this
    retry_base_seconds: float = Field(1.0, ge=0)  # first retry delay; doubles each attempt
    retry_max_seconds: float = Field(300.0, ge=0)  # retry delay cap
    worker_concurrency: int = Field(50, ge=1, le=10000)  # jobs in flight per runner
    claim_batch: int = Field(50, ge=1, le=1000)  # jobs claimed per round trip
    max_result_bytes: int = Field(262144, ge=1)  # JSON size cap of a job's result
    # job types counted under their own name in stats and metrics; the rest count as "other"
    metrics_max_types: int = Field(100, ge=1, le=10000)
    # durable submit (opt-in): a submit is acknowledged only once this many replicas have it
    # (WAIT) and/or the primary's append-only file is on disk (WAITAOF), within the timeout
    submit_wait_replicas: int = Field(0, ge=0, le=10)
    submit_wait_aof: bool = False
    submit_wait_timeout_ms: int = Field(1000, ge=1, le=60000)
    # store client: seconds to connect, seconds to wait for a reply (blocking calls add their
    # own block time), and how long a call keeps trying through a failover before it gives up
    store_connect_timeout_seconds: float = Field(2.0, gt=0, le=60)
    store_timeout_seconds: float = Field(5.0, gt=0, le=300)
    store_retry_seconds: float = Field(5.0, ge=0, le=300)
    # schedules: an occurrence this late still counts as on time (catch_up "skip" runs it);
    # how many recent occurrences a schedule lists
    schedule_grace_seconds: float = Field(5.0, ge=0, le=86400)
    schedule_history: int = Field(20, ge=1, le=1000)

    # --- the functions ---------------------------------------------------------------------
    # the bootstrap admin key; when set, access control is on (boltq_core.access)
    api_key: str | None = None
    api_key_secret_arn: str | None = None  # ...or the ARN of its secret (AWS)
    ws_ticket_seconds: int = Field(60, ge=1, le=300)  # a WebSocket ticket is good this long
    cors_allow_origins: str = "*"  # comma-separated origins the api allows
    ws_management_endpoint: str | None = None  # where pushes go (default: from $connect)
    processors: str = ""  # comma-separated modules the worker imports to register processors
    # the queues a worker serves: "name" or "name:weight", comma-separated; empty: every known
    # queue, equal weights
    worker_queues: str = ""
    worker_idle_seconds: float = Field(2.0, ge=0)  # a worker ends after this long idle
    worker_stop_before_seconds: float = Field(3.0, ge=0)  # margin before a worker's deadline
    worker_function_name: str = ""  # the function the poller invokes
    lambda_endpoint_url: str | None = None  # the Lambda API the poller calls (local runtime)
    jobs_per_worker: int | None = Field(None, ge=1)  # backlog per worker (WORKER_CONCURRENCY)
    poller_coalesce_ms: float = Field(10.0, ge=0)  # the poller reads events at most this often
    poller_stop_before_seconds: float = Field(2.0, ge=0)  # margin before its deadline
    promoter_coalesce_ms: float = Field(10.0, ge=0)  # the promoter re-plans at most this often
    promoter_stop_before_seconds: float = Field(2.0, ge=0)  # margin before its deadline
    push_enabled: bool = True  # the promoter pushes status changes to WebSocket subscribers
    push_coalesce_ms: float = Field(10.0, ge=0)  # the pusher reads events at most this often
    metrics_enabled: bool = True  # workers count processing time and queue wait
    pushgateway_url: str | None = None  # the promoter pushes metrics there (empty: off)
    metrics_push_seconds: float = Field(10.0, gt=0)  # how often
    metrics_push_timeout_seconds: float = Field(2.0, gt=0)  # how long a push may take

    def job_timeout(self, requested: int | None, field: str = "timeout_seconds") -> int:
        """A job's timeout: its own, or JOB_TIMEOUT_SECONDS; InvalidInput (naming `field`) past
        MAX_JOB_TIMEOUT_SECONDS."""
        timeout = requested or self.default_timeout_seconds
        if timeout > self.max_timeout_seconds:
            raise InvalidInput(f"{field}: must be at most {self.max_timeout_seconds} "
                               "(MAX_JOB_TIMEOUT_SECONDS)", [{"field": field}])
        return timeout

    @property
    def keys(self) -> Keys:
        """The key layout of this namespace."""
        return Keys(self.key_prefix)

    @property
    def served_queues(self) -> list[tuple[str, int]]:
        """WORKER_QUEUES as (queue, weight) pairs; [] means every known queue."""
        out: list[tuple[str, int]] = []
        for part in self.worker_queues.split(","):
            name, _, weight = part.strip().partition(":")
            if not name:
                continue
            if not is_queue_name(name) or not (weight or "1").isdigit() or int(weight or 1) < 1:
                raise ConfigError(f"WORKER_QUEUES: {part.strip()!r} is not a queue name or "
                                  "name:weight (weight a whole number from 1)")
            out.append((name, int(weight or 1)))
        return out

    @property
    def processor_modules(self) -> list[str]:
        return [m.strip() for m in self.processors.split(",") if m.strip()]

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.cors_allow_origins.split(",") if o.strip()] or ["*"]

    @field_validator("redis_addr")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"expected host:port, got {v!r}")
        return v

    @model_validator(mode="after")
    def _durable_submit_needs_one_node(self) -> Settings:
        if self.redis_cluster and (self.submit_wait_replicas or self.submit_wait_aof):
            # WAIT counts the writes of its own connection; a cluster client spreads them
            raise ValueError("SUBMIT_WAIT_REPLICAS / SUBMIT_WAIT_AOF need a non-cluster store")
        return self

    @model_validator(mode="after")
    def _default_timeout_within_max(self) -> Settings:
        if self.default_timeout_seconds > self.max_timeout_seconds:
            raise ValueError(
                f"JOB_TIMEOUT_SECONDS ({self.default_timeout_seconds}) must be at most "
                f"MAX_JOB_TIMEOUT_SECONDS ({self.max_timeout_seconds})")
        return self

    @property
    def url(self) -> str:
        return self.redis_url or f"redis://{self.redis_addr}/0"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read settings from `env` (default os.environ); `overrides` win over both."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field, names in ENV_NAMES.items():
            for name in names:
                if env.get(name, "") != "":
                    values[field] = env[name]
                    break
        values.update(overrides)
        for field, arn_field in SECRET_ARNS.items():
            if not values.get(field) and values.get(arn_field):
                values[field] = read_secret(values[arn_field], ENV_NAMES[arn_field][0])
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                if not err["loc"]:  # a rule across settings: its message names them
                    problems.append(err["msg"].removeprefix("Value error, "))
                    continue
                field = str(err["loc"][0])
                name = ENV_NAMES.get(field, (field,))[0]
                problems.append(f"{name}={values.get(field)!r}: {err['msg']}")
            raise ConfigError("invalid setting: " + "; ".join(problems)) from None


# --- one Settings per warm Lambda container ---------------------------------------------------

ENV_VARIABLES = tuple(dict.fromkeys(n for names in ENV_NAMES.values() for n in names))
_shared: dict[str, Any] = {}


def shared_settings() -> Settings:
    """The Settings of the current environment, kept across warm invocations: parsed again only
    when one of their variables changed, so a warm invocation costs a glance at the environment,
    not a pydantic validation. Raises ConfigError for bad values (nothing is kept then)."""
    env = tuple(map(os.environ.get, ENV_VARIABLES))
    if _shared.get("env") != env or "settings" not in _shared:
        _shared.pop("settings", None)
        _shared["settings"] = Settings.from_env()
        _shared["env"] = env
    settings: Settings = _shared["settings"]
    return settings
