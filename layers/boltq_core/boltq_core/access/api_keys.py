"""Scoped API keys, stored hashed: a key is `bq_<key id>_<secret>` (the secret 256 random
bits); the store keeps its name, scope, creation time and the sha256 of the whole key, never
the key. A fast hash is enough for a key of that entropy (no one guesses it from its hash); a
slow one would cost every uncached authorizer call. The key id is public (listed) and finds the
record; the hash proves the rest.

Keys (prefix `{p}`): {p}:apikeys (HASH name -> key id), {p}:apikey:<key id> (HASH)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from boltq_core.access.principal import BOOTSTRAP, BOOTSTRAP_PRINCIPAL, Principal
from boltq_core.access.routes import SCOPES, Scope
from boltq_core.errors import Conflict, InvalidInput, NotFound
from boltq_core.jobs.scripts import source
from boltq_core.keys import Keys
from boltq_core.timefmt import iso

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_NAME = re.compile(NAME_PATTERN)
_KEY = re.compile(r"^bq_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")
MAX_PRESENTED = 256  # longer is no key of ours (and not worth hashing)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """What is known of a stored key (never the key)."""

    name: str
    key_id: str
    scope: str
    created_ms: int

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "key_id": self.key_id, "prefix": f"bq_{self.key_id}_",
                "scope": self.scope, "created_at": iso(self.created_ms, "milliseconds")}


def check_name(name: Any, creating: bool = True) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput("name: must match " + NAME_PATTERN, [{"field": "name"}])
    if creating and name == BOOTSTRAP:
        raise InvalidInput(f"name: {BOOTSTRAP!r} is BOLTQ_API_KEY's", [{"field": "name"}])
    return name


def check_scope(scope: Any) -> Scope:
    if scope not in SCOPES:
        raise InvalidInput(f"scope: must be one of {', '.join(SCOPES)}", [{"field": "scope"}])
    return Scope(scope)


class ApiKeys:
    """The namespace's API keys: create (the key is returned once), list, revoke, and find
    the principal a presented key belongs to."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self.redis = client
        self.keys = keys

    def create(self, name: str, scope: str) -> tuple[KeyInfo, str]:
        """A new key: (its record, the key). The key is not kept anywhere."""
        name, sc = check_name(name), check_scope(scope)
        key_id = secrets.token_hex(6)
        key = f"bq_{key_id}_{secrets.token_urlsafe(32)}"
        created = int(time.time() * 1000)
        done = self.redis.register_script(source("api_key_create"))(
            keys=[self.keys.api_key_names, self.keys.api_key(key_id)],
            args=[name, key_id, digest(key), sc.value, created])
        if not int(done):
            raise Conflict(f"name: a key named {name!r} exists (revoke it first)",
                           [{"field": "name"}])
        return KeyInfo(name, key_id, sc.value, created), key

    def list(self) -> list[KeyInfo]:
        ids: dict[str, str] = self.redis.hgetall(self.keys.api_key_names)
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for key_id in ids.values():
            pipe.hmget(self.keys.api_key(key_id), "name", "scope", "created")
        out = []
        for (name, key_id), (stored, scope, created) in zip(ids.items(), pipe.execute(),
                                                            strict=True):
            if stored == name:
                out.append(KeyInfo(name, key_id, str(scope), int(created or 0)))
        return sorted(out, key=lambda k: k.name)

    def revoke(self, name: str) -> None:
        name = check_name(name, creating=False)  # "bootstrap": no stored key (404)
        key_id = self.redis.hget(self.keys.api_key_names, name)
        done = key_id is not None and int(self.redis.register_script(source("api_key_revoke"))(
            keys=[self.keys.api_key_names, self.keys.api_key(key_id)], args=[name, key_id]))
        if not done:
            raise NotFound(f"no API key named {name!r}", [{"field": "name"}])

    def exists(self, key_id: str) -> bool:
        """Is the key of this id still there (not revoked)?"""
        return bool(self.redis.exists(self.keys.api_key(key_id)))

    def principal(self, presented: str) -> Principal | None:
        """The stored key `presented` is, or None (malformed, unknown, revoked). Reads only."""
        m = _KEY.fullmatch(presented) if len(presented) <= MAX_PRESENTED else None
        if m is None:
            return None
        name, scope, stored = self.redis.hmget(self.keys.api_key(m.group(1)),
                                               "name", "scope", "sha256")
        if not stored or not hmac.compare_digest(str(stored), digest(presented)):
            return None
        if scope not in SCOPES:
            return None
        return Principal(str(name), m.group(1), Scope(scope))


def authenticate(client: Any, keys: Keys, bootstrap: str | None,
                 presented: str | None) -> Principal | None:
    """The principal of a presented API key: BOLTQ_API_KEY (the bootstrap admin key) or a
    stored key; None for no key or a wrong one."""
    if not presented:
        return None
    if bootstrap and hmac.compare_digest(presented.encode("utf-8", "surrogatepass"),
                                         bootstrap.encode()):
        return BOOTSTRAP_PRINCIPAL
    return ApiKeys(client, keys).principal(presented)
