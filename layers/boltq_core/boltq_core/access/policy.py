"""The IAM policy a REST authorizer returns. API Gateway caches it per key (the identity
source) for every route of the stage, so it must name every route the key's scope may call,
not only the route that asked (else the next route within the cache TTL is refused, or, with
a stage-wide Allow, allowed). Path parameters become `*`; in IAM `*` also matches "/", which is
why tests/functions/test_authorizer.py checks each scope's policy against every route."""

from __future__ import annotations

import re
from typing import Any

from boltq_core.access.routes import ROUTES, WS, Scope

_PARAM = re.compile(r"\{[^}]+\}")


def stage_arn(method_arn: str) -> str:
    """arn:…:execute-api:region:account:api/stage of a methodArn (…/stage/GET/api/v1/jobs)."""
    arn, _, rest = method_arn.partition(":execute-api:")
    parts = rest.split("/")
    if not arn or len(parts) < 2:
        raise ValueError(f"not an execute-api method ARN: {method_arn!r}")
    return f"{arn}:execute-api:{parts[0]}/{parts[1]}"


def route_arn(stage: str, method: str, path: str) -> str:
    return f"{stage}/{method}/{_PARAM.sub('*', path).lstrip('/')}"


def rest_resources(stage: str, scope: Scope) -> list[str]:
    """The ARNs of every REST route a key of `scope` may call (public routes have no
    authorizer, so they are not named)."""
    return [route_arn(stage, m, p) for (m, p), scopes in ROUTES.items()
            if m != WS and scope in scopes]


def policy(principal_id: str, effect: str, resources: list[str]) -> dict[str, Any]:
    return {"principalId": principal_id, "policyDocument": {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect,
                       "Resource": resources}]}}
