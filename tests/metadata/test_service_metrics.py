"""/metrics: Prometheus text that prometheus_client's parser reads, counting what the service answered."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from support.sample_store import RESTRICTED_ID

from geosvc.api.metrics import CALLER_CAP, ServiceMetrics, route_template
from geosvc.validate.metadata import completeness


def _samples(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def _value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counts_increase_after_requests(client):
    items_route = "/ogc/collections/{collectionId}/items"
    before = _samples(client)
    assert client.get("/ogc/collections/ct-towns/items", params={"limit": 1}).status_code == 200  # OGC fast path
    assert client.get("/ogc/collections/ct-towns", params={"f": "html"}).status_code == 200  # pygeoapi
    assert client.get("/registry/ct-towns").status_code == 200  # FastAPI route
    after = _samples(client)
    assert _value(after, "geosvc_layer_requests_total", layer="ct-towns") == \
        _value(before, "geosvc_layer_requests_total", layer="ct-towns") + 3
    assert _value(after, "geosvc_layer_distinct_callers", layer="ct-towns") >= 1
    count = "geosvc_http_request_duration_seconds_count"
    assert _value(after, count, route=items_route) == _value(before, count, route=items_route) + 1
    assert _value(after, count, route="/registry/{layer_id}") == _value(before, count, route="/registry/{layer_id}") + 1
    p95 = _value(after, "geosvc_http_request_duration_quantile_seconds", route=items_route, quantile="0.95")
    assert 0 < p95 <= 10
    status = dict(route=items_route, method="GET", status="200")
    assert _value(after, "geosvc_http_requests_total", **status) == \
        _value(before, "geosvc_http_requests_total", **status) + 1


def test_unknown_and_restricted_layers_get_no_series(client):
    for path in (f"/registry/{RESTRICTED_ID}", f"/ogc/collections/{RESTRICTED_ID}/items", "/registry/zz-unknown",
                 "/no/such/path/at/all"):
        assert client.get(path).status_code == 404
    samples = _samples(client)
    layers = {dict(labels).get("layer") for _, labels in samples}
    assert RESTRICTED_ID not in layers and "zz-unknown" not in layers
    routes = {dict(labels).get("route") for _, labels in samples}
    assert "other" in routes and not any("no/such" in (r or "") for r in routes)


def test_distinct_callers_per_layer(app):
    """Each client address is one caller; a second address on the same layer makes two."""
    for host in ("10.0.0.1", "10.0.0.2", "10.0.0.2"):
        TestClient(app, client=(host, 40000)).get("/registry/ct-hospitals")
    samples = _samples(TestClient(app))
    assert _value(samples, "geosvc_layer_distinct_callers", layer="ct-hospitals") >= 2


def test_caller_subject_wins_over_address_and_the_set_is_capped():
    metrics = ServiceMetrics()
    metrics.observe("/r", "GET", 200, 0.01, layer="a", caller="sub:alice")
    metrics.observe("/r", "GET", 200, 0.01, layer="a", caller="sub:alice")
    metrics.observe("/r", "GET", 200, 0.01, layer="a", caller="ip:10.0.0.1")
    assert metrics.layer_callers.labels("a")._value.get() == 2
    for i in range(CALLER_CAP + 50):
        metrics.observe("/r", "GET", 200, 0.01, layer="b", caller=f"ip:{i}")
    assert metrics.layer_callers.labels("b")._value.get() == CALLER_CAP


def test_plan_gauges_per_layer(client, store):
    samples = _samples(client)
    for layer in store.published():
        value = _value(samples, "geosvc_layer_metadata_completeness", layer=layer.id)
        if layer.record.sensitivity == "public":
            assert value == pytest.approx(completeness(layer.record))
        else:
            assert (("geosvc_layer_metadata_completeness", (("layer", layer.id),)) not in samples)


def test_sync_events_feed_last_success_and_consecutive_failures(client, store):
    """Sync outcomes recorded in the store (here for ct-public-schools) show up at the next scrape."""
    for outcome in ("failed", "unchanged", "failed", "failed"):
        store.record_event("ct-public-schools", "sync", outcome)
    events = store.events("ct-public-schools", kind="sync")
    success = [e for e in events if e.outcome == "unchanged"][-1]
    samples = _samples(client)
    assert _value(samples, "geosvc_layer_consecutive_sync_failures", layer="ct-public-schools") == 2
    assert _value(samples, "geosvc_layer_last_successful_sync_timestamp_seconds", layer="ct-public-schools") == \
        pytest.approx(success.at.timestamp())


@pytest.mark.parametrize("path, template", [
    ("/ogc/collections/ct-towns/items/42", "/ogc/collections/{collectionId}/items/{featureId}"),
    ("/ogc/collections/ct-towns/queryables", "/ogc/collections/{collectionId}/queryables"),
    ("/ogc/collections/ct-population-density/cog.tif", "/ogc/collections/{collectionId}/cog.tif"),
    ("/ogc/collections/", "/ogc/collections"),
    ("/ogc/static/js/default.js", "/ogc/static/{path}"),
    ("/ogc", "/ogc"),
    ("/ogc/collections/ct-towns/zzz-random", "other"),  # unknown sub-paths do not mint new series
])
def test_route_templates_are_bounded(path, template):
    assert route_template({"path": path}) == template


def test_multiprocess_mode_merges_the_workers(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR set, two worker processes' counts add up in one exposition."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = ("from geosvc.api.metrics import ServiceMetrics\n"
              "m = ServiceMetrics()\n"
              "for caller in ('ip:1', 'ip:2'):\n"
              "    m.observe('/registry/{layer_id}', 'GET', 200, 0.02, layer='a', caller=caller)\n")
    subprocess.run([sys.executable, "-c", worker], env=env, check=True)
    reader = worker + "print(ServiceMetrics().exposition({'a'}).decode())"  # a second worker, then a scrape
    text = subprocess.run([sys.executable, "-c", reader], env=env, check=True, capture_output=True, text=True).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert _value(samples, "geosvc_layer_requests_total", layer="a") == 4
    assert _value(samples, "geosvc_layer_distinct_callers", layer="a") == 2  # per-worker sets, merged by max
    assert _value(samples, "geosvc_http_request_duration_seconds_count", route="/registry/{layer_id}") == 4


def test_an_answer_before_the_view_is_pinned_is_counted(client):
    """A bad key is refused (401) before the request's view is pinned: counted, with no layer series."""
    before = _samples(client)
    assert client.get("/registry/ct-towns", headers={"X-API-Key": "not-a-key"}).status_code == 401
    after = _samples(client)
    refused = dict(route="other", method="GET", status="401")
    assert _value(after, "geosvc_http_requests_total", **refused) == \
        _value(before, "geosvc_http_requests_total", **refused) + 1
    assert _value(after, "geosvc_layer_requests_total", layer="ct-towns") == \
        _value(before, "geosvc_layer_requests_total", layer="ct-towns")
