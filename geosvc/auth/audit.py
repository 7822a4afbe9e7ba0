"""The audit trail: append-only entries, each chained to the previous one by SHA-256, so an edited, inserted
or deleted entry breaks the chain at that point (:func:`verify`).

Entries record restricted reads, equity requests and every step of an access request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One audited event. ``at`` is ISO 8601 UTC text, exactly as hashed."""

    seq: int
    at: str
    subject: str
    via: str
    action: str  # "read", "equity", "access.request", "access.approve", "access.deny"
    route: str
    layers: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    answer_hash: str | None = None
    withheld: int | None = None  # cells suppressed (equity answers)
    prev_hash: str = GENESIS
    hash: str = ""

    def content(self) -> dict[str, Any]:
        """The hashed fields (everything but ``hash``)."""
        data = asdict(self)
        data.pop("hash")
        data["layers"] = list(self.layers)
        return data


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 of the entry's canonical JSON (which includes the previous entry's hash)."""
    text = json.dumps(entry.content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def answer_hash(body: bytes) -> str:
    """What the audit trail records of an answer: the SHA-256 of its bytes."""
    return hashlib.sha256(body).hexdigest()


def verify(entries: Iterable[AuditEntry]) -> AuditEntry | None:
    """The first entry that breaks the chain (edited, or not following its predecessor), or None if intact."""
    prev = GENESIS
    for entry in entries:
        if entry.prev_hash != prev or entry_hash(entry) != entry.hash:
            return entry
        prev = entry.hash
    return None
