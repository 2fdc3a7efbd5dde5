"""The environment `boltq dev` gives each function: the template's, the developer's shell
where it overrides a name the template declares or a BoltQ setting, then what points the
function at this runtime (the store, @connections, the Lambda API, the credentials those
accept, the playground's origin for CORS) and what the Lambda runtime would set."""

from __future__ import annotations

from collections.abc import Mapping

from boltq_core.config import ENV_NAMES, ENV_VARIABLES, SECRET_ARNS
from boltq_local.template import Function

# BoltQ settings and function knobs a developer may set in the shell of `boltq dev` (every
# variable boltq_core.config.Settings reads, but those naming the store, which boltq dev sets),
# and the observability tools' own; they reach every function even where the template does not
# declare them
PASS_THROUGH = (
    *(n for n in ENV_VARIABLES if n not in ("REDIS_URL", "REDIS_ADDR", "REDIS_PASSWORD",
                                            "REDIS_AUTH_TOKEN", "API_PORT", "METRICS_PORT",
                                            "NUM_WORKERS")),
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL",
)


def function_env(fn: Function, shell: Mapping[str, str], *, store_url: str, embedded: bool,
                 api_port: int, num_workers: int, overrides: Mapping[str, str],
                 credentials: Mapping[str, str], cors_origins: str) -> dict[str, str]:
    env = dict(fn.environment)
    for k in env:
        if k in shell:
            env[k] = shell[k]
    for k in PASS_THROUGH:
        if k in shell:
            env[k] = shell[k]
    if "POWERTOOLS_LOG_LEVEL" not in shell:
        env["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # one line per invocation is ours
    local = f"http://127.0.0.1:{api_port}"
    env.update({
        "REDIS_URL": store_url,
        "REDIS_AUTH_TOKEN": "" if embedded else shell.get("REDIS_AUTH_TOKEN", ""),
        "CORS_ALLOW_ORIGINS": cors_origins,
        "NUM_WORKERS": str(num_workers),
        "WS_MANAGEMENT_ENDPOINT": local,
        "LAMBDA_ENDPOINT_URL": local,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "BOLTQ_LOCAL": "1",
    })
    env.pop("REDIS_ADDR", None)
    # the template's secrets live in AWS only: locally a value (or an ARN) comes from the shell
    for arn_field in SECRET_ARNS.values():
        name = ENV_NAMES[arn_field][0]
        env[name] = shell.get(name, "")
    env.update(overrides)
    # last: the local Invoke API and @connections accept only these (random per run)
    env.update(credentials)
    return env
