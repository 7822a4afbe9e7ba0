"""The steps that both the API and the CLI take: audit an event, file an access request, decide one.

Every step is timestamped and appended to the audit trail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from geosvc.auth.audit import AuditEntry, answer_hash
from geosvc.auth.caller import Caller, iso, utcnow
from geosvc.auth.requests import AccessRequest, check_grantable, check_new, decide
from geosvc.auth.store import AccessStore
from geosvc.errors import Unauthorized
from geosvc.records.models import LayerRecord


def audit(store: AccessStore, caller: Caller, action: str, route: str, *, layers: Iterable[str] = (),
          params: Mapping[str, Any] | None = None, answer: bytes | None = None, withheld: int | None = None,
          at: dt.datetime | None = None) -> AuditEntry:
    """Append one event: who (``caller``), when, what (``action`` on ``route`` with ``params``), which layers,
    the SHA-256 of the ``answer`` bytes and how many cells were ``withheld``."""
    return store.append_audit(AuditEntry(
        seq=0, at=iso(at or utcnow()), subject=caller.label, via=caller.via, action=action, route=route,
        layers=tuple(layers), params=dict(params or {}),
        answer_hash=None if answer is None else answer_hash(answer), withheld=withheld))


def request_access(store: AccessStore, caller: Caller, layer: str, role: str, purpose: str, route: str,
                   at: dt.datetime | None = None) -> AccessRequest:
    """File a request for ``layer`` through ``role`` (signed-in callers only)."""
    if caller.anonymous:
        raise Unauthorized("sign in (bearer token or API key) to ask for access")
    check_new(layer, role, purpose)
    at = at or utcnow()
    request = store.add_request(caller.subject, layer, role.strip(), purpose.strip(), at)
    audit(store, caller, "access.request", route, layers=[layer],
          params={"request": request.id, "role": request.role, "purpose": request.purpose}, at=at)
    return request


def decide_request(store: AccessStore, request_id: int, approve: bool, steward: Caller,
                   records: Mapping[str, LayerRecord], route: str, *, expires_at: dt.datetime | None = None,
                   note: str | None = None, at: dt.datetime | None = None) -> AccessRequest:
    """Approve (optionally until ``expires_at``) or deny a pending request; takes effect on the next request."""
    at = at or utcnow()
    request = store.get_request(request_id)
    if approve:
        check_grantable(request, records.get(request.layer))
    decided = store.save_decision(decide(request, approve, steward.label, at, expires_at, note))
    audit(store, steward, f"access.{'approve' if approve else 'deny'}", route, layers=[request.layer],
          params={"request": request.id, "subject": request.subject, "role": request.role,
                  "expires_at": iso(expires_at) if expires_at else None, "note": note}, at=at)
    return decided
