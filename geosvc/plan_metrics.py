"""The state plan's service metrics (pure): on-time updates, sync health, and traffic read from ``/metrics``.

* on-time update rate: each gap between consecutive published versions is *on time* when the next
  version came no later than ``previous + update_cadence`` (+10% grace); the open gap since the latest
  version counts as late once it is overdue. Static layers have no rate.
* sync health from the store's ``sync`` events: last successful sync (outcome ``published``,
  ``unchanged`` or ``not-modified``) and the failures since it.
* traffic (requests and distinct callers per layer, p50/p95 answer time per route) lives in the
  service's Prometheus counters; :func:`parse_traffic` reads it back from the ``/metrics`` text.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geosvc.store.base import LayerEvent


GRACE = 0.1
"""Share of the cadence an update may be late and still count as on time."""

LAYER_REQUESTS = "geosvc_layer_requests"
LAYER_CALLERS = "geosvc_layer_distinct_callers"
REQUEST_SECONDS = "geosvc_http_request_duration_seconds"
"""Prometheus metric names (counters get ``_total`` in the text format), shared with the middleware."""


def on_time_rate(published_at: list[dt.datetime], cadence: str, now: dt.datetime) -> float | None:
    """Share of update intervals no longer than ``cadence`` (+ grace); ``None`` without any interval.

    >>> t = [dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1), dt.datetime(2024, 5, 1)]
    >>> on_time_rate(t, "P1M", dt.datetime(2024, 5, 15))  # Jan->Feb on time, Feb->May late
    0.5
    >>> on_time_rate(t, "P1M", dt.datetime(2024, 7, 1))  # ...and the open gap since May is overdue
    0.333
    >>> on_time_rate(t, "static", dt.datetime(2024, 7, 1)) is None
    True
    """
    from geosvc.validate.freshness import parse_cadence  # the package loads GeoPandas: only when needed

    step = parse_cadence(cadence)
    if step is None or not published_at:
        return None
    times = sorted(published_at)

    def on_time(start: dt.datetime, end: dt.datetime) -> bool:
        due = start + step
        return end <= due + (due - start) * GRACE

    verdicts = [on_time(a, b) for a, b in zip(times, times[1:], strict=False)]
    if not on_time(times[-1], now):
        verdicts.append(False)
    return round(sum(verdicts) / len(verdicts), 3) if verdicts else None


def by_layer(events: list[LayerEvent], layers: set[str] | None = None) -> dict[str, list[LayerEvent]]:
    """Events grouped by layer id (order kept), optionally only those of ``layers``."""
    grouped: dict[str, list[LayerEvent]] = defaultdict(list)
    for event in events:
        if layers is None or event.layer in layers:
            grouped[event.layer].append(event)
    return dict(grouped)


@dataclass(frozen=True)
class RouteLatency:
    requests: int
    p50: float | None  # seconds
    p95: float | None


@dataclass(frozen=True)
class Traffic:
    """What the service counted since its start (one process, or all workers in multiprocess mode)."""

    layer_requests: dict[str, int] = field(default_factory=dict)
    layer_callers: dict[str, int] = field(default_factory=dict)
    routes: dict[str, RouteLatency] = field(default_factory=dict)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Quantile from cumulative ``(upper_bound, count)`` buckets, interpolating inside a bucket (as PromQL).

    >>> histogram_quantile(0.5, [(0.1, 10), (0.2, 30), (math.inf, 30)])
    0.125
    """
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0
    if total == 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower  # in the open bucket: the highest finite bound is all we know
            return round(lower + (upper - lower) * (rank - below) / (count - below), 6) if count > below else upper
        lower, below = upper, count
    return lower


def parse_traffic(text: str) -> Traffic:
    """Traffic from Prometheus text exposition (the service's ``/metrics``)."""
    from prometheus_client.parser import text_string_to_metric_families

    requests: dict[str, int] = {}
    callers: dict[str, int] = {}
    buckets: dict[str, list[tuple[float, float]]] = defaultdict(list)
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{LAYER_REQUESTS}_total":
                requests[sample.labels["layer"]] = requests.get(sample.labels["layer"], 0) + int(sample.value)
            elif sample.name == LAYER_CALLERS:
                callers[sample.labels["layer"]] = int(sample.value)
            elif sample.name == f"{REQUEST_SECONDS}_bucket":
                buckets[sample.labels["route"]].append((float(sample.labels["le"]), sample.value))
            elif sample.name == f"{REQUEST_SECONDS}_count":
                counts[sample.labels["route"]] = int(sample.value)
    routes = {route: RouteLatency(counts.get(route, 0), histogram_quantile(0.5, b), histogram_quantile(0.95, b))
              for route, b in sorted(buckets.items())}
    return Traffic(dict(sorted(requests.items())), dict(sorted(callers.items())), routes)
