"""Metadata exports and the plan's metrics over HTTP.

``GET /data.json`` (DCAT-US 1.1 catalog), ``GET /registry/{id}/iso19139.xml`` (ISO 19139),
``GET /metrics`` (Prometheus text) and ``GET /report`` (the portfolio report as HTML, ``?f=json`` for
JSON). Everything lists only :func:`~geosvc.api.served.served_layers` of the request, so a restricted
layer never shows to a caller who may not see it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily

from geosvc.api.metrics import RequestMetrics, ServiceMetrics
from geosvc.api.served import served_layer, served_layers
from geosvc.metadata.dcat import catalog
from geosvc.metadata.iso import iso19139
from geosvc.plan_metrics import by_layer, parse_traffic
from geosvc.report import Portfolio, build_portfolio
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer


def install_metadata(app: FastAPI, layers: list[PublishedLayer], settings: Settings) -> None:
    """Installer (see :data:`geosvc.api.app.INSTALLERS`): the routes, and request metrics around the whole app.

    The metrics middleware must see every answer, including those of the OGC fast path added after the
    installers, so it wraps the finished middleware stack instead of joining it.
    """
    metrics = ServiceMetrics()
    app.state.metrics = metrics
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: RequestMetrics(build(), metrics)
    app.include_router(create_router())


def portfolio_for(request: Request) -> Portfolio:
    """The portfolio report over the layers this request may see, with the service's own traffic."""
    state = request.app.state
    layers = served_layers(request)
    visible = {layer.id for layer in layers}
    store = state.store
    return build_portfolio(
        [layer.record for layer in layers],
        [run for run in store.validations() if run.layer in visible],
        {layer.id: store.versions(layer.id) for layer in layers},
        today=dt.date.today(),
        syncs=by_layer(store.events(kind="sync"), visible),
        traffic=parse_traffic(state.metrics.exposition(visible).decode()),
    )


def _gauges(portfolio: Portfolio) -> list[Any]:
    """Per-layer plan metrics from the store, and per-route answer-time quantiles, as gauges (at scrape time)."""
    families = {
        "on_time": GaugeMetricFamily("geosvc_layer_on_time_update_rate",
                                     "Share of update intervals within the layer's cadence", labels=["layer"]),
        "sync": GaugeMetricFamily("geosvc_layer_last_successful_sync_timestamp_seconds",
                                  "Unix time of the last successful sync", labels=["layer"]),
        "failures": GaugeMetricFamily("geosvc_layer_consecutive_sync_failures",
                                      "Failed syncs since the last successful one", labels=["layer"]),
        "complete": GaugeMetricFamily("geosvc_layer_metadata_completeness",
                                      "Share of the required metadata present in the record", labels=["layer"]),
    }
    quantiles = GaugeMetricFamily("geosvc_http_request_duration_quantile_seconds",
                                  "p50 / p95 answer time per route since start, from the histogram's buckets "
                                  "(use histogram_quantile() over the histogram for a time window)",
                                  labels=["route", "quantile"])
    for route, latency in (portfolio.routes or {}).items():
        for q, value in (("0.5", latency.p50), ("0.95", latency.p95)):
            if value is not None:
                quantiles.add_metric([route, q], value)
    for row in portfolio.layers:
        if row.on_time_rate is not None:
            families["on_time"].add_metric([row.id], row.on_time_rate)
        if row.last_successful_sync is not None:
            families["sync"].add_metric([row.id], row.last_successful_sync.timestamp())
        families["failures"].add_metric([row.id], row.consecutive_sync_failures)
        families["complete"].add_metric([row.id], row.completeness)
    return [_Static([*families.values(), quantiles])]


class _Static:
    def __init__(self, families: list[Any]):
        self.families = families

    def collect(self):
        yield from self.families


def create_router() -> APIRouter:
    router = APIRouter(tags=["metadata"])

    @router.get("/data.json", operation_id="getDcatCatalog", summary="DCAT-US 1.1 catalog of the served layers")
    def data_json(request: Request) -> JSONResponse:
        base = request.app.state.settings.base_url
        return JSONResponse(catalog(served_layers(request), base))

    @router.get("/registry/{layer_id}/iso19139.xml", operation_id="getIsoMetadata",
                summary="ISO 19139 metadata of one served layer", response_class=Response,
                responses={200: {"content": {"application/xml": {}}}})
    def iso_xml(layer_id: str, request: Request) -> Response:
        layer = served_layer(request, layer_id)
        return Response(iso19139(layer, request.app.state.settings.base_url), media_type="application/xml")

    @router.get("/metrics", operation_id="getMetrics", summary="Prometheus metrics", response_class=Response,
                responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    def metrics(request: Request) -> Response:
        visible = {layer.id for layer in served_layers(request)}
        body = request.app.state.metrics.exposition(visible, extra=lambda: _gauges(portfolio_for(request)))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @router.get("/report", operation_id="getReport", summary="Portfolio report (the plan's metrics)",
                response_class=HTMLResponse)
    def report(request: Request, f: Literal["html", "json"] = Query("html", description="Output format")) -> Response:
        portfolio = portfolio_for(request)
        if f == "json":
            return JSONResponse(portfolio.as_dict())
        return HTMLResponse(_REPORT.render(p=portfolio, data=portfolio.as_dict()))

    return router


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


_ENV = Environment(autoescape=True)
_ENV.filters.update(pct=_pct, ms=_ms)
_REPORT = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>geosvc portfolio report {{ data.date }}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;
padding:.2em .5em;text-align:left}.bad{color:#b00}</style></head><body>
<h1>Portfolio report {{ data.date }}</h1>
{% set s = data.summary %}
<ul>
<li>Layers: {{ s.layers }}</li>
<li>Mean metadata completeness: {{ s.mean_completeness | pct }}</li>
<li>Mean on-time update rate: {{ s.mean_on_time_update_rate | pct }}</li>
<li>Stale: {{ s.stale | join(", ") or "none" }}</li>
<li>Failing sync: {{ s.sync_failing | join(", ") or "none" }}</li>
<li>Declaring disaggregation: {{ s.disaggregation.share_declaring | pct }}
  ({{ s.disaggregation.layers_declaring | join(", ") or "none" }})</li>
</ul>
<h2>Layers</h2>
<table id="layers"><tr><th>layer</th><th>theme</th><th>metadata</th><th>updated</th><th>on time</th>
<th>last successful sync</th><th>failed syncs</th><th>validation</th><th>requests</th><th>callers</th>
<th>disaggregation</th></tr>
{% for row in p.layers %}<tr><td>{{ row.id }}</td><td>{{ row.theme }}</td><td>{{ row.completeness | pct }}</td>
<td>{{ row.last_updated or "-" }}{% if row.stale %} <span class="bad">stale</span>{% endif %}</td>
<td>{{ row.on_time_rate | pct }}</td><td>{{ row.last_successful_sync or "-" }}</td>
<td{% if row.consecutive_sync_failures %} class="bad"{% endif %}>{{ row.consecutive_sync_failures }}</td>
<td>{{ row.validation }}</td><td>{{ row.requests }}</td><td>{{ row.distinct_callers }}</td>
<td>{{ row.disaggregation | join(", ") or "-" }}</td></tr>
{% endfor %}</table>
<h2>Disaggregation schemes</h2>
<table id="disaggregation"><tr><th>dimension</th><th>scheme</th><th>layers</th></tr>
{% for dimension, use in s.disaggregation.dimensions.items() %}{% for scheme, ids in use.schemes.items() %}
<tr><td>{{ dimension }}{% if not use.consistent %} <span class="bad">inconsistent</span>{% endif %}</td>
<td>{{ scheme }}</td><td>{{ ids | join(", ") }}</td></tr>{% endfor %}{% endfor %}</table>
<h2>Answer time per route</h2>
<table id="routes"><tr><th>route</th><th>requests</th><th>p50</th><th>p95</th></tr>
{% for route, r in (p.routes or {}).items() %}<tr><td>{{ route }}</td><td>{{ r.requests }}</td>
<td>{{ r.p50 | ms }}</td><td>{{ r.p95 | ms }}</td></tr>{% endfor %}</table>
</body></html>
""")
