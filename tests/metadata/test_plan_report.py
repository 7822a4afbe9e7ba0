"""The plan's metrics in the portfolio report: pure computation, ``geosvc report`` and the service's /report."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from pathlib import Path

import pytest
from support.sample_store import RESTRICTED_ID
from typer.testing import CliRunner

from geosvc.cli.main import app as cli_app
from geosvc.feeds.status import sync_status
from geosvc.plan_metrics import on_time_rate, parse_traffic
from geosvc.records.models import LayerRecord
from geosvc.report import build_portfolio
from geosvc.store.base import LayerEvent, PublishedLayer

UTC = dt.UTC
BASE = {"theme": "demographics", "source": {"path": "x.gpkg"}, "update_cadence": "P1M"}


def _record(layer_id: str, **fields) -> LayerRecord:
    return LayerRecord.model_validate({"id": layer_id, "title": layer_id} | BASE | fields)


def _version(record: LayerRecord, version: int, at: dt.datetime) -> PublishedLayer:
    return PublishedLayer(record.id, version, "vector", Path("v.gpkg"), "0" * 64, at, record, "EPSG:4326", (0, 0, 1, 1))


def _event(layer: str, outcome: str, day: int) -> LayerEvent:
    return LayerEvent(day, layer, dt.datetime(2026, 3, day, tzinfo=UTC), "sync", outcome, None, "", {})


def test_on_time_rate_counts_late_gaps_and_the_overdue_open_gap():
    times = [dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 2, 2, tzinfo=UTC),  # within P1M + 10%
             dt.datetime(2026, 5, 1, tzinfo=UTC)]  # late
    assert on_time_rate(times, "P1M", dt.datetime(2026, 5, 20, tzinfo=UTC)) == 0.5
    assert on_time_rate(times, "P1M", dt.datetime(2026, 8, 1, tzinfo=UTC)) == pytest.approx(0.333)
    assert on_time_rate(times[:1], "P1M", dt.datetime(2026, 1, 10, tzinfo=UTC)) is None  # nothing to judge yet
    assert on_time_rate(times, "static", dt.datetime(2026, 8, 1, tzinfo=UTC)) is None


def test_sync_health_from_events():
    events = [_event("a", "published", 1), _event("a", "failed", 2), _event("a", "not-modified", 3),
              _event("a", "failed", 4), _event("a", "failed", 5)]
    health = sync_status(events)
    assert health.last_success == dt.datetime(2026, 3, 3, tzinfo=UTC)
    assert health.consecutive_failures == 2 and health.last_outcome == "failed"
    assert sync_status([]).last_success is None and sync_status([]).consecutive_failures == 0


def test_portfolio_with_updates_syncs_disaggregation_and_traffic():
    omb = {"dimension": "race_ethnicity", "scheme": "OMB 1997", "categories": ["Asian", "Black"]}
    a = _record("aa", disaggregation=[omb, {"dimension": "age", "scheme": "ACS", "categories": ["65+"]}])
    b = _record("bb", disaggregation=[omb | {"scheme": "OMB 2024 (SPD 15)"}])
    c = _record("cc")
    versions = {"aa": [_version(a, 1, dt.datetime(2026, 1, 1, tzinfo=UTC)),
                       _version(a, 2, dt.datetime(2026, 2, 1, tzinfo=UTC))]}
    traffic = parse_traffic(
        '# TYPE geosvc_layer_requests counter\ngeosvc_layer_requests_total{layer="aa"} 7.0\n'
        '# TYPE geosvc_layer_distinct_callers gauge\ngeosvc_layer_distinct_callers{layer="aa"} 3.0\n'
        '# TYPE geosvc_http_request_duration_seconds histogram\n'
        'geosvc_http_request_duration_seconds_bucket{le="0.01",route="/r"} 9.0\n'
        'geosvc_http_request_duration_seconds_bucket{le="0.1",route="/r"} 10.0\n'
        'geosvc_http_request_duration_seconds_bucket{le="+Inf",route="/r"} 10.0\n'
        'geosvc_http_request_duration_seconds_count{route="/r"} 10.0\n'
        'geosvc_http_request_duration_seconds_sum{route="/r"} 0.1\n')
    portfolio = build_portfolio([a, b, c], [], versions, today=dt.date(2026, 2, 15),
                                syncs={"aa": [_event("aa", "published", 1), _event("aa", "failed", 2)]},
                                traffic=traffic)
    data = portfolio.as_dict()
    rows = {row["id"]: row for row in data["layers"]}
    assert rows["aa"]["on_time_rate"] == 1.0 and rows["cc"]["on_time_rate"] is None
    assert rows["aa"]["consecutive_sync_failures"] == 1
    assert rows["aa"]["last_successful_sync"] == "2026-03-01T00:00:00+00:00"
    assert (rows["aa"]["requests"], rows["aa"]["distinct_callers"]) == (7, 3)
    assert (rows["bb"]["requests"], rows["bb"]["distinct_callers"]) == (0, 0)
    assert rows["aa"]["disaggregation"] == ["race_ethnicity", "age"]
    summary = data["summary"]
    assert summary["sync_failing"] == ["aa"]
    dis = summary["disaggregation"]
    assert dis["layers_declaring"] == ["aa", "bb"] and dis["share_declaring"] == pytest.approx(0.667)
    assert dis["inconsistent_dimensions"] == ["race_ethnicity"]
    assert dis["dimensions"]["race_ethnicity"]["schemes"] == {"OMB 1997": ["aa"], "OMB 2024 (SPD 15)": ["bb"]}
    assert dis["dimensions"]["age"]["consistent"] is True
    route = data["routes"]["/r"]
    assert route["requests"] == 10
    assert route["p50"] == pytest.approx(0.01 * 5 / 9, abs=1e-6)  # interpolated inside the first bucket
    assert 0.01 < route["p95"] <= 0.1


def test_a_dimension_may_be_declared_once():
    entry = {"dimension": "age", "scheme": "ACS", "categories": ["65+"]}
    with pytest.raises(ValueError, match="only once"):
        _record("dd", disaggregation=[entry, entry])


@pytest.fixture
def metrics_server(client):
    """The service's real /metrics body, served from a local HTTP server (as a scrape target would be)."""
    client.get("/registry/ct-towns")
    body = client.get("/metrics").content

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()


def test_cli_report_json_has_the_plan_metrics(settings, metrics_server):
    env = {"GEOSVC_STORE_DIR": str(settings.store.dir)}
    result = CliRunner().invoke(cli_app, ["report", "-f", "json", "--metrics-url", metrics_server], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {row["id"]: row for row in data["layers"]}
    assert rows["ct-towns"]["requests"] >= 1 and rows["ct-towns"]["distinct_callers"] >= 1
    assert rows["ct-tracts-2010"]["disaggregation"] == ["race_ethnicity", "age", "income", "language"]
    assert {"on_time_rate", "last_successful_sync", "consecutive_sync_failures"} <= set(rows["ct-hospitals"])
    assert "/registry/{layer_id}" in data["routes"]
    assert data["summary"]["disaggregation"]["layers_declaring"] == ["ct-tracts-2010"]
    text = CliRunner().invoke(cli_app, ["report", "--metrics-url", metrics_server], env=env)
    assert text.exit_code == 0 and "answer time per route" in text.output and "race_ethnicity: OMB 1997" in text.output


def test_cli_report_without_a_reachable_metrics_url_is_one_line(settings):
    env = {"GEOSVC_STORE_DIR": str(settings.store.dir)}
    result = CliRunner().invoke(cli_app, ["report", "--metrics-url", "http://127.0.0.1:9/metrics"], env=env)
    assert result.exit_code == 2
    assert "--metrics-url" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_service_report_page_and_json(client):
    client.get("/ogc/collections/ct-hospitals/items", params={"limit": 1})
    data = client.get("/report", params={"f": "json"}).json()
    rows = {row["id"]: row for row in data["layers"]}
    assert RESTRICTED_ID not in rows and "ct-hospitals" in rows
    assert rows["ct-hospitals"]["requests"] >= 1
    assert "/ogc/collections/{collectionId}/items" in data["routes"]
    assert data["routes"]["/ogc/collections/{collectionId}/items"]["p95"] is not None
    page = client.get("/report")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    from lxml import html

    tree = html.fromstring(page.content)
    assert "ct-hospitals" in tree.xpath('//table[@id="layers"]//td[1]/text()')
    assert tree.xpath('//table[@id="routes"]//td/text()')
    assert client.get("/report", params={"f": "xml"}).status_code == 400
