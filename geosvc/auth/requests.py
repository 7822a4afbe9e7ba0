"""Access requests: a signed-in caller asks for a restricted layer; a steward approves (optionally until an
expiry) or denies. ``requested -> approved | denied``; an approved request is a :class:`Grant` until it lapses.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from geosvc.auth.caller import Grant
from geosvc.errors import InvalidParameter
from geosvc.records.models import LAYER_ID, LayerRecord

Status = Literal["requested", "approved", "denied"]
_DURATION = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


@dataclass(frozen=True)
class AccessRequest:
    """One request and, once decided, its decision."""

    id: int
    subject: str
    layer: str
    role: str
    purpose: str
    status: Status
    requested_at: dt.datetime
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    expires_at: dt.datetime | None = None
    note: str | None = None

    @property
    def time_to_decision(self) -> dt.timedelta | None:
        return None if self.decided_at is None else self.decided_at - self.requested_at

    def grant(self) -> Grant | None:
        """The grant this request gives (approved only), whether or not it has lapsed."""
        if self.status != "approved":
            return None
        return Grant(self.subject, self.layer, self.role, self.expires_at, self.id)

    def as_dict(self) -> dict:
        ttd = self.time_to_decision
        return {
            "id": self.id, "subject": self.subject, "layer": self.layer, "role": self.role, "purpose": self.purpose,
            "status": self.status, "requested_at": self.requested_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None, "decided_by": self.decided_by,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None, "note": self.note,
            "hours_to_decision": None if ttd is None else round(ttd.total_seconds() / 3600, 2),
        }


def check_new(layer: str, role: str, purpose: str) -> None:
    """A new request must name a layer id, a role and a purpose (it does not say whether the layer exists)."""
    if not re.match(LAYER_ID, layer):
        raise InvalidParameter(f"'{layer}' is not a layer id", param="layer")
    if not role.strip():
        raise InvalidParameter("name the role wanted", param="role")
    if not purpose.strip():
        raise InvalidParameter("say what the data is for", param="purpose")


def check_grantable(request: AccessRequest, record: LayerRecord | None) -> None:
    """Approving needs a restricted layer that lists the requested role."""
    if record is None or record.sensitivity != "restricted":
        what = "no layer record" if record is None else "a public layer (no access needed)"
        raise InvalidParameter(f"access request {request.id}: '{request.layer}' is {what}", layer=request.layer)
    roles = record.access.roles if record.access else []
    if request.role not in roles:
        raise InvalidParameter(f"access request {request.id}: role '{request.role}' does not open layer "
                               f"'{request.layer}' (its roles: {', '.join(roles) or 'none'})", layer=request.layer)


def decide(request: AccessRequest, approve: bool, by: str, at: dt.datetime,
           expires_at: dt.datetime | None = None, note: str | None = None) -> AccessRequest:
    """The request with its decision; only a pending request can be decided."""
    if request.status != "requested":
        raise InvalidParameter(f"access request {request.id} was already {request.status}")
    if expires_at is not None and (not approve or expires_at <= at):
        raise InvalidParameter("an expiry applies to an approval and must be in the future", param="expires")
    return replace(request, status="approved" if approve else "denied", decided_at=at, decided_by=by,
                   expires_at=expires_at, note=note)


def parse_expiry(text: str, now: dt.datetime) -> dt.datetime:
    """``30d`` / ``12h`` / ``90m`` from ``now``, or an ISO 8601 date or date-time (UTC when no zone is given)."""
    if match := _DURATION.match(text.strip()):
        return now + dt.timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidParameter(f"'{text}' is neither a duration (30d, 12h, 90m) nor an ISO date",
                               param="expires") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def request_summary(requests: Iterable[AccessRequest]) -> dict:
    """Requests by status and the time from request to decision (hours: median and longest) over decided ones."""
    requests = list(requests)
    hours = [r.time_to_decision.total_seconds() / 3600 for r in requests if r.time_to_decision is not None]
    by_status = {status: sum(r.status == status for r in requests) for status in ("requested", "approved", "denied")}
    return by_status | {"decided": len(hours),
                        "median_hours_to_decision": round(statistics.median(hours), 2) if hours else None,
                        "max_hours_to_decision": round(max(hours), 2) if hours else None}
