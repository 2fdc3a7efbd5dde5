"""Secrets at run time: a setting's value read from AWS Secrets Manager by the secret's ARN.

In AWS the functions' environment holds secret ARNs, never the values (anyone allowed
GetFunctionConfiguration reads an environment). A value is read once per process, at cold
start, and kept: a rotated secret reaches new containers without a redeploy. `ARN#field` reads
one field of a JSON secret. boto3 is imported only when a secret is read (the Lambda runtime
ships it; `boltq dev` and the tests pass plain values and never need it)."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from boltq_core.errors import ConfigError

SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]+):\d{12}:secret:[A-Za-z0-9/_+=.@-]+"
    r"(?:#(?P<field>[A-Za-z0-9_.-]+))?$")

_cache: dict[str, str] = {}
_lock = threading.Lock()


def read_secret(reference: str, variable: str, client: Any = None) -> str:
    """The value of the secret `reference` (an ARN, optionally `#field`); `variable` names the
    setting in errors. Kept for the life of the process. ConfigError when it cannot be read."""
    m = SECRET_ARN.match(reference)
    if not m:
        # never echoed: a secret's value set here by mistake must not reach a log
        raise ConfigError(f"invalid setting: {variable}: expected a Secrets Manager secret ARN "
                          "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME, optionally "
                          "#FIELD of a JSON secret)")
    with _lock:
        if reference in _cache:
            return _cache[reference]
        arn = reference.partition("#")[0]
        text = _fetch(arn, m["region"], variable, client)
        value = _field(text, m["field"], variable) if m["field"] else text
        if not value:
            raise ConfigError(f"{variable}: the secret {arn} is empty")
        _cache[reference] = value
        return value


def forget_secrets() -> None:
    """Drop every kept value (tests; a process that wants fresh values)."""
    with _lock:
        _cache.clear()


def _fetch(arn: str, region: str, variable: str, client: Any) -> str:
    if client is None:
        import boto3
        from botocore.config import Config

        # a cold start must not hang on an unreachable endpoint (no route from the VPC)
        client = boto3.client("secretsmanager", region_name=region, config=Config(
            connect_timeout=3, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}))
    try:
        reply = client.get_secret_value(SecretId=arn)
    except Exception as exc:  # botocore's ClientError, no credentials, no route: all fatal
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        raise ConfigError(f"{variable}: cannot read the secret {arn}: {code}") from None
    text = reply.get("SecretString")
    if text is None:
        raise ConfigError(f"{variable}: the secret {arn} has no SecretString (binary secrets "
                          "are not supported)")
    return str(text)


def _field(text: str, field: str, variable: str) -> str:
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get(field), str):
        raise ConfigError(f"{variable}: the secret is not a JSON object with a string field "
                          f"{field!r}")
    return str(doc[field])
