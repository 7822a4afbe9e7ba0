"""Request metrics for Prometheus: a pure ASGI middleware plus the collectors behind ``GET /metrics``.

Counted per request, after the answer is sent:

* ``geosvc_http_requests_total{route,method,status}`` and the ``geosvc_http_request_duration_seconds{route}``
  histogram (time to the last body byte) per route *template* (``/ogc/collections/{collectionId}/items``),
  never per raw path, so the label set stays bounded; paths that match no route count as ``other``;
* ``geosvc_layer_requests_total{layer}`` for paths naming a layer the caller may see
  (``/ogc/collections/{id}/...``, ``/registry/{id}/...``);
* ``geosvc_layer_distinct_callers{layer}``: distinct callers per layer, a caller being
  ``request.state.caller.subject`` when the auth layer set one, else the client IP. Callers are kept
  as 64-bit hashes (no address is held) in a set capped at :data:`CALLER_CAP` per layer; past the cap
  the gauge stays at the cap (a lower bound).

Several uvicorn workers: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable folder *before* the
workers start (prometheus-client picks its storage at import); every worker then writes its samples
there and ``/metrics`` merges them (:class:`prometheus_client.multiprocess.MultiProcessCollector`).
Counters and histograms add up across workers; distinct callers are per worker and merged with
``max`` (a lower bound: one worker's set).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from geosvc.plan_metrics import LAYER_CALLERS, LAYER_REQUESTS, REQUEST_SECONDS

LOGGER = logging.getLogger("geosvc.api.metrics")
CALLER_CAP = 10_000
CHILDREN_CAP = 4096
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_OGC = [
    (re.compile(r"^/ogc/collections/[^/]+/items/[^/]+$"), "/ogc/collections/{collectionId}/items/{featureId}"),
    (re.compile(r"^/ogc/collections/[^/]+/(items|queryables|schema|sortables|coverage|cog\.tif|tiles|map)$"),
     "/ogc/collections/{collectionId}/\\1"),
    (re.compile(r"^/ogc/collections/[^/]+$"), "/ogc/collections/{collectionId}"),
    (re.compile(r"^/ogc/processes/[^/]+(/execution)?$"), "/ogc/processes/{processId}\\1"),
    (re.compile(r"^/ogc/jobs/[^/]+(/results)?$"), "/ogc/jobs/{jobId}\\1"),
    (re.compile(r"^/ogc/static/.*$"), "/ogc/static/{path}"),
    (re.compile(r"^/ogc(/collections|/conformance|/openapi|/processes|/jobs)?/?$"), "/ogc\\1"),
]
_LAYER_PATH = re.compile(r"^/(?:ogc/collections|registry)/([^/]+)")


def route_template(scope: dict[str, Any]) -> str:
    """The route template a request matched, ``other`` when it matched none we know."""
    return _ogc_template(scope.get("path", "")) or _matched_route(scope)


def _matched_route(scope: dict[str, Any]) -> str:
    route = scope.get("route")  # set by the router on a match; a Mount (pygeoapi) has no endpoint
    return route.path if route is not None and hasattr(route, "endpoint") else "other"


@functools.lru_cache(maxsize=4096)
def _ogc_template(path: str) -> str | None:
    for pattern, template in _OGC:
        if pattern.match(path):
            return pattern.sub(template, path).rstrip("/") or "/ogc"
    return None


def _caller(scope: dict[str, Any]) -> str:
    caller = scope.get("state", {}).get("caller")
    subject = getattr(caller, "subject", None)
    if subject:
        return f"sub:{subject}"
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "unknown"


class ServiceMetrics:
    """The request counters of one app (its own registry, so several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("geosvc_http_requests", "HTTP requests answered", ["route", "method", "status"],
                                registry=self.registry)
        self.seconds = Histogram(REQUEST_SECONDS, "Time to answer, to the last body byte", ["route"],
                                 buckets=BUCKETS, registry=self.registry)
        self.layer_requests = Counter(LAYER_REQUESTS, "Requests naming a layer", ["layer"], registry=self.registry)
        self.layer_callers = Gauge(LAYER_CALLERS, "Distinct callers per layer (capped, lower bound)", ["layer"],
                                   multiprocess_mode="max", registry=self.registry)
        self._callers: dict[str, set[int]] = {}
        self._children: dict[tuple, tuple] = {}  # label values -> their samples, resolved once

    def observe(self, route: str, method: str, status: int, seconds: float,
                layer: str | None = None, caller: str | None = None) -> None:
        key = (route, method, status, layer)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(route, method, str(status)), self.seconds.labels(route),
                        *((self.layer_requests.labels(layer), self.layer_callers.labels(layer)) if layer else ()))
            if len(self._children) < CHILDREN_CAP:  # label values are bounded; the cap is a guard
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if layer is None:
            return
        children[2].inc()
        seen = self._callers.setdefault(layer, set())
        if caller is not None and len(seen) < CALLER_CAP:
            size = len(seen)
            seen.add(int.from_bytes(hashlib.blake2b(caller.encode(), digest_size=8).digest(), "big"))
            if len(seen) == size:
                return
        children[3].set(len(seen))

    def exposition(self, visible: set[str], extra: Callable[[], list] | None = None) -> bytes:
        """Prometheus text of every sample, leaving out layers outside ``visible``; ``extra`` adds collectors."""
        registry = CollectorRegistry(auto_describe=False)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client.multiprocess import MultiProcessCollector

            source: Any = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(source)
        else:
            source = self.registry
        registry.register(_Visible(source, visible))
        for collector in (extra() if extra else []):
            registry.register(collector)
        return generate_latest(registry)


class _Visible:
    """Collector view of ``source`` without samples about layers the scraper may not see."""

    def __init__(self, source: Any, visible: set[str]):
        self.source, self.visible = source, visible

    def collect(self):
        for family in self.source.collect():
            family.samples = [s for s in family.samples if s.labels.get("layer") in self.visible
                              or "layer" not in s.labels]
            yield family


class RequestMetrics:
    """Pure ASGI middleware feeding :class:`ServiceMetrics`; add it outermost so it sees every answer."""

    def __init__(self, app: Any, metrics: ServiceMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        path = scope.get("path", "")  # a mounted app (pygeoapi) replaces it

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            try:
                self._observe(scope, path, status, time.perf_counter() - start)
            except Exception:  # a counting bug must not turn an answer into an error
                LOGGER.exception("request metrics failed for %s", path)

    def _observe(self, scope, path: str, status: int, elapsed: float) -> None:
        layer = None
        match = _LAYER_PATH.match(path)
        if match:  # a layer the request's snapshot view serves (none pinned: an answer before it, e.g. 401)
            snapshot = scope.get("state", {}).get("snapshot")
            layer = match.group(1) if snapshot is not None and match.group(1) in snapshot.layers else None
        self.metrics.observe(_ogc_template(path) or _matched_route(scope), scope.get("method", ""), status, elapsed,
                             layer=layer, caller=_caller(scope) if layer else None)
