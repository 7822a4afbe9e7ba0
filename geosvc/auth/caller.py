"""Who is calling: a :class:`Caller` resolved once per request."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (the default clock everywhere in geosvc.auth)."""
    return dt.datetime.now(dt.UTC)


def iso(value: dt.datetime) -> str:
    """Fixed-width ISO 8601 UTC text (microseconds always shown), so stored times sort as text."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Grant:
    """An approved access request in force: ``subject`` may read ``layer`` through ``role`` until ``expires_at``."""

    subject: str
    layer: str
    role: str
    expires_at: dt.datetime | None = None
    request_id: int | None = None

    def active(self, at: dt.datetime) -> bool:
        return self.expires_at is None or at < self.expires_at


@dataclass(frozen=True)
class Caller:
    """The caller of one request: ``via`` says how they proved it; ``grants`` are those in force right now."""

    subject: str | None = None
    roles: frozenset[str] = frozenset()
    via: Literal["anonymous", "token", "key", "cli"] = "anonymous"
    key_id: str | None = None
    name: str | None = None
    grants: frozenset[Grant] = field(default_factory=frozenset)

    @property
    def anonymous(self) -> bool:
        return self.via == "anonymous"

    @property
    def label(self) -> str:
        """How the caller appears in the audit trail."""
        return self.subject or "anonymous"


ANONYMOUS = Caller()
