"""Who is calling: a Principal (key name, key id, scope), as the authorizer found it and as it
travels on in API Gateway's authorizer context (requestContext.authorizer: string values)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boltq_core.access.routes import SCOPES, Scope

BOOTSTRAP = "bootstrap"  # the name and id of BOLTQ_API_KEY
OPEN = "open"  # the name and id of every caller while access control is off (no BOLTQ_API_KEY)


@dataclass(frozen=True)
class Principal:
    name: str
    key_id: str
    scope: Scope

    def context(self) -> dict[str, str]:
        """As an authorizer's context (API Gateway allows only strings, numbers, booleans)."""
        return {"name": self.name, "key_id": self.key_id, "scope": self.scope.value}

    @classmethod
    def from_context(cls, ctx: Any) -> Principal | None:
        """The principal an authorizer passed on, or None when there is none (or it is not
        one of ours)."""
        if not isinstance(ctx, dict) or ctx.get("scope") not in SCOPES:
            return None
        return cls(str(ctx.get("name") or ""), str(ctx.get("key_id") or ""),
                   Scope(ctx["scope"]))


BOOTSTRAP_PRINCIPAL = Principal(BOOTSTRAP, BOOTSTRAP, Scope.ADMIN)
OPEN_PRINCIPAL = Principal(OPEN, OPEN, Scope.ADMIN)
