"""A layer's sync status from its recorded ``sync`` events (for the report and the scheduler)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geosvc.store.base import LayerEvent

SUCCESS = ("published", "unchanged", "not-modified")
OUTCOMES = (*SUCCESS, "failed")


@dataclass(frozen=True)
class SyncStatus:
    """The last attempt, the last success and the run of failures since."""

    last_attempt: dt.datetime | None = None
    last_outcome: str | None = None
    last_success: dt.datetime | None = None
    consecutive_failures: int = 0
    last_failure: str | None = None  # message of the latest failure since the last success


def sync_status(events: list[LayerEvent]) -> SyncStatus:
    """Status from one layer's ``sync`` events, oldest first."""
    events = [e for e in events if e.kind == "sync" and e.outcome in OUTCOMES]
    if not events:
        return SyncStatus()
    failures = 0
    for event in reversed(events):
        if event.outcome != "failed":
            break
        failures += 1
    success = next((e for e in reversed(events) if e.outcome in SUCCESS), None)
    return SyncStatus(
        last_attempt=events[-1].at,
        last_outcome=events[-1].outcome,
        last_success=success.at if success else None,
        consecutive_failures=failures,
        last_failure=events[-1].message if failures else None,
    )
