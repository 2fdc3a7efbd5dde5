"""Lambda REQUEST authorizers, locally, as API Gateway runs them: an identity source that is
missing is a 401 without calling the function; the function's "Unauthorized" error is a 401;
its policy is evaluated against the request's method ARN (an explicit Deny wins, an Allow
lets through, nothing else does: 403) and cached per identity for the authorizer's TTL; its
context reaches the integration as requestContext.authorizer. A failing authorizer is a 503
(the template maps API Gateway's AUTHORIZER_FAILURE so).

`boltq dev` runs an authorizer only while access control is on, i.e. BOLTQ_API_KEY is set in
the authorizer function's environment; without it, as before, nothing asks for a key."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from boltq_local.lambda_host import Result
from boltq_local.template import Authorizer

Invoke = Callable[[str, dict[str, Any], str], Awaitable[Result]]  # (function, event, label)
ACCOUNT, REGION, API_ID = "123456789012", "us-east-1", "local"
UNAUTHORIZED = "Unauthorized"


@dataclass(frozen=True)
class Verdict:
    status: int  # 200 let through, 401, 403, 503
    context: dict[str, Any] | None = None
    message: str = ""


@cache
def _pattern(resource: str) -> re.Pattern[str]:
    # IAM: * is any run of characters ("/" too), ? any one character
    return re.compile(re.escape(resource).replace(r"\*", ".*").replace(r"\?", "."), re.S)


def allows(document: Any, arn: str) -> bool:
    """Does an IAM policy document allow execute-api:Invoke on `arn`?"""
    allowed = False
    statements = (document or {}).get("Statement") if isinstance(document, dict) else None
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict):
            continue
        actions = st.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        if not any(_pattern(str(a)).fullmatch("execute-api:Invoke") for a in actions):
            continue
        resources = st.get("Resource", [])
        resources = resources if isinstance(resources, list) else [resources]
        if any(_pattern(str(r)).fullmatch(arn) for r in resources):
            if st.get("Effect") == "Deny":
                return False
            allowed = allowed or st.get("Effect") == "Allow"
    return allowed


def method_arn(stage: str, method: str, path: str) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{stage}/{method}/{path.lstrip('/')}"


def identity(auth: Authorizer, event: dict[str, Any]) -> tuple[str, ...] | None:
    """The identity source's values, or None when one is missing."""
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    query = event.get("queryStringParameters") or {}
    values = [headers.get(h.lower()) for h in auth.headers] + [query.get(q) for q in auth.query]
    if any(not v for v in values):
        return None
    return tuple(str(v) for v in values)


class AuthorizerGate:
    """Runs a template's authorizers in front of its routes, with API Gateway's cache."""

    def __init__(self, invoke: Invoke, env_of: Callable[[str], dict[str, str]]) -> None:
        self.invoke = invoke
        self.env_of = env_of
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, Any, Any]] = {}

    def active(self, auth: Authorizer | None) -> bool:
        return auth is not None and bool(self.env_of(auth.function).get("BOLTQ_API_KEY"))

    async def check(self, auth: Authorizer, event: dict[str, Any], arn: str,
                    label: str) -> Verdict:
        who = identity(auth, event)
        if who is None:
            return Verdict(401, message=UNAUTHORIZED)
        key = (auth.name, who)
        hit = self._cache.get(key) if auth.ttl_seconds > 0 else None
        if hit is not None and hit[0] > time.monotonic():
            document, context = hit[1], hit[2]
        else:
            res = await self.invoke(auth.function, {**event, "type": "REQUEST",
                                                    "methodArn": arn}, label)
            payload = res.payload if isinstance(res.payload, dict) else {}
            if not res.ok:
                if payload.get("errorMessage") == UNAUTHORIZED:
                    return Verdict(401, message=UNAUTHORIZED)
                return Verdict(503, message=f"authorizer failed: {payload.get('errorMessage')}")
            document, context = payload.get("policyDocument"), payload.get("context")
            if not isinstance(document, dict):
                return Verdict(503, message="authorizer failed: no policyDocument")
            if auth.ttl_seconds > 0:
                self._cache[key] = (time.monotonic() + auth.ttl_seconds, document, context)
        if not allows(document, arn):
            return Verdict(403, message="Forbidden")
        ctx = dict(context) if isinstance(context, dict) else {}
        return Verdict(200, ctx)
