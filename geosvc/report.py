"""Portfolio report: the state plan's metrics ("consistency of updates and metadata") over all layers.

Pure computation from records, the latest validation runs, the published versions, the sync events
and (optionally) the service's traffic counters; the CLI (``geosvc report``) and the service's
``/report`` page gather the inputs and show the result.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from geosvc.feeds.status import sync_status
from geosvc.metadata.disaggregation import DisaggregationSummary, summarize
from geosvc.plan_metrics import RouteLatency, Traffic, on_time_rate
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
    on_time_rate: float | None  # share of update intervals within the cadence (None: static / one version)
    last_successful_sync: dt.datetime | None
    consecutive_sync_failures: int
    disaggregation: list[str]  # dimensions declared
    requests: int | None  # None when the report was built without the service's counters
    distinct_callers: int | None
    sync_error: str | None  # the latest failure since the last successful sync
    publish_error: str | None  # why the latest publish attempt failed (None if it succeeded or none was made)


@dataclass(frozen=True)
class Portfolio:
    """Portfolio metrics over every layer record."""

    date: dt.date
    layers: list[LayerStatus]
    invalid_records: dict[str, str] = field(default_factory=dict)  # id -> why the record does not parse
    disaggregation: DisaggregationSummary | None = None
    routes: dict[str, RouteLatency] | None = None  # answer time per route (None without counters)

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
    def publish_failing(self) -> list[str]:
        return [s.id for s in self.layers if s.publish_error]

    @property
    def mean_completeness(self) -> float | None:
        return sum(s.completeness for s in self.layers) / len(self.layers) if self.layers else None

    @property
    def mean_on_time_rate(self) -> float | None:
        rates = [s.on_time_rate for s in self.layers if s.on_time_rate is not None]
        return round(sum(rates) / len(rates), 3) if rates else None

    @property
    def sync_failing(self) -> list[str]:
        return [s.id for s in self.layers if s.consecutive_sync_failures]

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
                "publish_failing": self.publish_failing,
                "invalid_records": self.invalid_records,
                "mean_on_time_update_rate": self.mean_on_time_rate,
                "sync_failing": self.sync_failing,
                "disaggregation": self.disaggregation.as_dict() if self.disaggregation else None,
            },
            "routes": None if self.routes is None else {route: asdict(r) for route, r in self.routes.items()},
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
    syncs: dict[str, list[LayerEvent]] | None = None,
    publishes: dict[str, list[LayerEvent]] | None = None,
    traffic: Traffic | None = None,
    now: dt.datetime | None = None,
) -> Portfolio:
    """Portfolio metrics from records, their latest validation ``runs``, published ``versions`` and
    ``sync`` events by id, and the service's ``traffic`` counters when given."""
    now = now or dt.datetime.combine(today, dt.time.max, tzinfo=dt.UTC)
    latest_run = {run.layer: run for run in runs}
    rows = []
    for record in sorted(records, key=lambda r: r.id):
        run = latest_run.get(record.id)
        history = versions.get(record.id, [])
        served = history[-1].record.last_updated if history else None
        if served and (record.last_updated is None or served > record.last_updated):
            record = record.model_copy(update={"last_updated": served})
        due = due_date(record)
        sync = sync_status((syncs or {}).get(record.id, []))
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
                on_time_rate=on_time_rate([v.published_at for v in history], record.update_cadence, now),
                last_successful_sync=sync.last_success,
                consecutive_sync_failures=sync.consecutive_failures,
                disaggregation=[entry.dimension for entry in record.disaggregation],
                requests=None if traffic is None else traffic.layer_requests.get(record.id, 0),
                distinct_callers=None if traffic is None else traffic.layer_callers.get(record.id, 0),
                sync_error=sync.last_failure,
                publish_error=_last_failure((publishes or {}).get(record.id, [])),
            )
        )
    return Portfolio(date=today, layers=rows, invalid_records=dict(invalid_records or {}),
                     disaggregation=summarize(records), routes=None if traffic is None else traffic.routes)


def _last_failure(events: list[LayerEvent]) -> str | None:
    """The message of the latest event if it is a failure."""
    return events[-1].message if events and events[-1].outcome == "failed" else None
