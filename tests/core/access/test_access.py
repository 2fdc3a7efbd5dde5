"""Scoped API keys (stored hashed), tickets (expiry, single use) and the route table."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from boltq_core import Queue
from boltq_core.access.api_keys import ApiKeys, authenticate
from boltq_core.access.principal import BOOTSTRAP_PRINCIPAL, Principal
from boltq_core.access.routes import ROUTES, Scope, permits
from boltq_core.access.tickets import Tickets
from boltq_core.errors import Conflict, InvalidInput, NotFound


def namespace_dump(q: Queue) -> dict[str, object]:
    """Every key of the namespace with its value (strings and hashes), to search for a key."""
    out: dict[str, object] = {}
    for k in q.redis.scan_iter(match=q.keys.tag + "*"):
        kind = q.redis.type(k)
        out[k] = q.redis.hgetall(k) if kind == "hash" else q.redis.get(k) if kind == "string" \
            else kind
    return out


def test_a_key_is_stored_hashed_never_in_plain_text(queue: Queue) -> None:
    keys = ApiKeys(queue.redis, queue.keys)
    info, key = keys.create("ci", "submit")
    assert key.startswith(f"bq_{info.key_id}_") and len(key) > 50
    dump = repr(namespace_dump(queue))
    secret = key.removeprefix(f"bq_{info.key_id}_")  # (it may hold '_' itself)
    assert key not in dump and secret not in dump
    record = queue.redis.hgetall(queue.keys.api_key(info.key_id))
    assert record["sha256"] == hashlib.sha256(key.encode()).hexdigest()
    assert record["scope"] == "submit" and record["name"] == "ci"
    assert keys.principal(key) == Principal("ci", info.key_id, Scope.SUBMIT)


def test_create_list_revoke(queue: Queue) -> None:
    keys = ApiKeys(queue.redis, queue.keys)
    a, key_a = keys.create("reader", "read")
    b, _ = keys.create("ops", "admin")
    listed = [k.public() for k in keys.list()]
    assert [k["name"] for k in listed] == ["ops", "reader"]
    assert listed[1]["prefix"] == f"bq_{a.key_id}_" and listed[1]["scope"] == "read"
    assert all("key" not in k and "sha256" not in k for k in listed)
    with pytest.raises(Conflict):
        keys.create("reader", "admin")  # a name is taken until revoked
    keys.revoke("reader")
    assert keys.principal(key_a) is None
    assert [k.name for k in keys.list()] == ["ops"]
    assert not queue.redis.exists(queue.keys.api_key(a.key_id))
    with pytest.raises(NotFound):
        keys.revoke("reader")
    assert keys.principal(key_a) is None and b.scope == "admin"


@pytest.mark.parametrize("name,scope", [("", "read"), ("a b", "read"), ("x" * 65, "read"),
                                        ("bootstrap", "admin"), ("ok", "root"), ("ok", "")])
def test_bad_names_and_scopes_are_refused(queue: Queue, name: str, scope: str) -> None:
    with pytest.raises(InvalidInput):
        ApiKeys(queue.redis, queue.keys).create(name, scope)
    assert namespace_dump(queue) == {}


def test_wrong_keys_find_no_one(queue: Queue) -> None:
    keys = ApiKeys(queue.redis, queue.keys)
    info, key = keys.create("ci", "read")
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    for wrong in (tampered, f"bq_{info.key_id}_", "", "nonsense", key + "x", "k\udcff"):
        assert authenticate(queue.redis, queue.keys, "bootstrap-key-0123456789", wrong) is None
    assert authenticate(queue.redis, queue.keys, "bootstrap-key-0123456789",
                        "bootstrap-key-0123456789") == BOOTSTRAP_PRINCIPAL
    assert authenticate(queue.redis, queue.keys, None, key) == keys.principal(key)


def test_a_ticket_opens_once(queue: Queue) -> None:
    tickets = Tickets(queue.redis, queue.keys, 60)
    who = Principal("ci", "abc", Scope.SUBMIT)
    ticket = tickets.issue(who)
    assert ticket not in repr(namespace_dump(queue))  # kept as its hash
    assert 55 <= queue.redis.ttl(queue.keys.ws_ticket(
        hashlib.sha256(ticket.encode()).hexdigest())) <= 60
    assert tickets.redeem(ticket) == who
    assert tickets.redeem(ticket) is None
    assert namespace_dump(queue) == {}


def test_a_ticket_used_by_many_at_once_opens_one(queue: Queue) -> None:
    tickets = Tickets(queue.redis, queue.keys, 60)
    ticket = tickets.issue(Principal("ci", "abc", Scope.READ))
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: tickets.redeem(ticket), range(32)))
    assert sum(g is not None for g in got) == 1


def test_a_ticket_expires(queue: Queue) -> None:
    tickets = Tickets(queue.redis, queue.keys, 1)
    ticket = tickets.issue(Principal("ci", "abc", Scope.READ))
    time.sleep(1.2)
    assert tickets.redeem(ticket) is None
    for wrong in (None, "", "bqt_nope", "x" * 300):
        assert tickets.redeem(wrong) is None


def test_route_table_scopes() -> None:
    # SPEC §14: submit submits and reads back; read makes every GET; admin everything
    for (method, path), scopes in ROUTES.items():
        if not scopes:
            continue
        assert permits("admin", method, path)
        if method == "GET" and path != "/api/v1/keys":  # keys are admin's, listing too
            assert permits("read", method, path), path
        elif method != "WS" and path != "/api/v1/ws/tickets":  # a ticket: any valid key
            assert not permits("read", method, path), (method, path)
    assert permits("submit", "POST", "/api/v1/jobs")
    assert permits("submit", "GET", "/api/v1/jobs/{job_id}")
    assert not permits("submit", "GET", "/api/v1/jobs")
    assert not permits("submit", "DELETE", "/api/v1/dlq")
    assert not permits(None, "POST", "/api/v1/jobs")
    assert permits(None, "GET", "/health")
    assert not permits("admin", "GET", "/not/in/the/table")
    assert not permits("read", "GET", "/api/v1/keys")
