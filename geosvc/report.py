"""Portfolio report: the state plan's metrics ("consistency of updates and metadata") over all layers.

Pure computation from records, the latest validation runs and the published versions; the CLI
(``geosvc report``) gathers the inputs and prints the result.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from geosvc.feeds.status import sync_status
from geosvc.records.models import LayerRecord
from geosvc.validate.freshness import due_date
from geosvc.validate.metadata import completeness, missing_metadata

if TYPE_CHECKING:
    from geosvc.store.base import LayerEvent, PublishedLayer, ValidationRun


@dataclass(frozen=True)
class LayerStatus:
    """One layer's line in the portfolio."""

    id: str
    title: str
    theme: str
    sensitivity: str
    kind: str
    completeness: float
    missing_metadata: list[str]
    last_updated: dt.date | None
    update_cadence: str
    update_due: dt.date | None
    stale: bool
    validation: str  # "ok" | "failed" | "not validated"
    validated_at: dt.datetime | None
    errors: int
    warnings: int
    published_version: int | None
    published_at: dt.datetime | None
    versions: int
    synced_at: dt.datetime | None = None  # last successful sync (published / unchanged / not-modified)
    sync_failures: int = 0  # failed syncs since then
    sync_error: str | None = None  # the latest of those failures


@dataclass(frozen=True)
class Portfolio:
    """Portfolio metrics over every layer record."""

    date: dt.date
    layers: list[LayerStatus]
    invalid_records: dict[str, str] = field(default_factory=dict)  # id -> why the record does not parse

    @property
    def by_theme(self) -> dict[str, int]:
        return dict(sorted(Counter(s.theme for s in self.layers).items()))

    @property
    def by_sensitivity(self) -> dict[str, int]:
        return dict(sorted(Counter(s.sensitivity for s in self.layers).items()))

    @property
    def stale(self) -> list[str]:
        return [s.id for s in self.layers if s.stale]

    @property
    def failing(self) -> list[str]:
        return sorted([s.id for s in self.layers if s.validation == "failed"] + list(self.invalid_records))

    @property
    def not_validated(self) -> list[str]:
        return [s.id for s in self.layers if s.validation == "not validated"]

    @property
    def unpublished(self) -> list[str]:
        return [s.id for s in self.layers if s.published_version is None]

    @property
    def sync_failing(self) -> list[str]:
        return [s.id for s in self.layers if s.sync_failures]

    @property
    def mean_completeness(self) -> float | None:
        return sum(s.completeness for s in self.layers) / len(self.layers) if self.layers else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary and per-layer rows."""
        mean = self.mean_completeness
        return {
            "date": self.date.isoformat(),
            "summary": {
                "layers": len(self.layers) + len(self.invalid_records),
                "by_theme": self.by_theme,
                "by_sensitivity": self.by_sensitivity,
                "mean_completeness": None if mean is None else round(mean, 3),
                "stale": self.stale,
                "failing_validation": self.failing,
                "not_validated": self.not_validated,
                "unpublished": self.unpublished,
                "sync_failing": self.sync_failing,
                "invalid_records": self.invalid_records,
            },
            "layers": [
                {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(s).items()}
                for s in self.layers
            ],
        }


def build_portfolio(
    records: list[LayerRecord],
    runs: list[ValidationRun],
    versions: dict[str, list[PublishedLayer]],
    today: dt.date,
    invalid_records: dict[str, str] | None = None,
    sync_events: dict[str, list[LayerEvent]] | None = None,
) -> Portfolio:
    """Portfolio metrics from records, their latest validation ``runs``, published ``versions`` and
    ``sync_events`` by id. A synced layer's ``last_updated`` is its source's, saved with the version."""
    latest_run = {run.layer: run for run in runs}
    rows = []
    for record in sorted(records, key=lambda r: r.id):
        run = latest_run.get(record.id)
        history = versions.get(record.id, [])
        served = history[-1].record.last_updated if history else None
        if served and (record.last_updated is None or served > record.last_updated):
            record = record.model_copy(update={"last_updated": served})
        sync = sync_status((sync_events or {}).get(record.id, []))
        due = due_date(record)
        rows.append(
            LayerStatus(
                id=record.id,
                title=record.title,
                theme=record.theme,
                sensitivity=record.sensitivity,
                kind=record.kind,
                completeness=round(completeness(record), 3),
                missing_metadata=missing_metadata(record),
                last_updated=record.last_updated,
                update_cadence=record.update_cadence,
                update_due=due,
                stale=due is not None and due < today,
                validation="not validated" if run is None else ("ok" if run.ok else "failed"),
                validated_at=run.run_at if run else None,
                errors=run.errors if run else 0,
                warnings=run.warnings if run else 0,
                published_version=history[-1].version if history else None,
                published_at=history[-1].published_at if history else None,
                versions=len(history),
                synced_at=sync.last_success,
                sync_failures=sync.consecutive_failures,
                sync_error=sync.last_failure,
            )
        )
    return Portfolio(date=today, layers=rows, invalid_records=dict(invalid_records or {}))
