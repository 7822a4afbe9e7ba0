"""A source that breaks (HTTP 500, a stall past the timeout, a 404, content that turns invalid, missing
credentials) keeps the last good version served, and the failure is recorded and shown in the report."""

from __future__ import annotations

import json
import time

import pytest
from feedkit import Sandbox, collection, points, record
from typer.testing import CliRunner

from geosvc.cli.main import app

PATH = "/data/sites.geojson"


@pytest.fixture
def published(sandbox, upstream):
    """A layer synced once (v1, 20 features) from the upstream."""
    upstream.put_json(PATH, collection(points(20)))
    sandbox.write(record("sites", {"url": upstream.url(PATH)}))
    assert sandbox.sync("sites").outcome == "published"
    return sandbox


def _still_v1(sandbox) -> None:
    layer = sandbox.store.get("sites")
    assert layer.version == 1 and len(sandbox.store.read_features(sandbox.store.get("sites"))) == 20


def test_http_500_is_retried_then_fails_and_keeps_v1(published, upstream):
    upstream.fail[PATH] = 500
    result = published.sync("sites")
    assert result.outcome == "failed"
    assert "HTTP 500" in result.message and "after 2 attempt(s)" in result.message
    assert upstream.hits[PATH] == 1 + 2  # the first sync, then one try and one retry
    _still_v1(published)


def test_404_fails_without_retry(published, upstream):
    upstream.files.pop(PATH)
    result = published.sync("sites")
    assert result.outcome == "failed" and "HTTP 404" in result.message
    assert upstream.hits[PATH] == 2
    _still_v1(published)


def test_a_stall_past_the_timeout_fails_and_keeps_v1(published, upstream):
    impatient = Sandbox(published.root, same_store=published, sync_timeout=0.6)  # a shorter timeout
    upstream.stall[PATH] = 1.5
    started = time.monotonic()
    result = impatient.sync("sites")
    assert result.outcome == "failed" and "timed out" in result.message and "after 2 attempt(s)" in result.message
    assert time.monotonic() - started < 6
    _still_v1(published)


def test_source_turning_invalid_fails_validation_and_keeps_v1(published, upstream):
    broken = collection(points(20))
    for feature in broken["features"]:
        feature["properties"]["id"] = 1  # duplicate ids
    upstream.put_json(PATH, broken)
    result = published.sync("sites")
    assert result.outcome == "failed" and "validation failed [id.duplicate" in result.message
    _still_v1(published)
    event = published.store.events("sites", kind="sync")[-1]
    assert event.outcome == "failed" and "id.duplicate" in event.detail["codes"]


def test_garbage_bytes_fail_and_keep_v1(published, upstream):
    upstream.put(PATH, b"\x00\x01 not json at all", "application/geo+json")
    result = published.sync("sites")
    assert result.outcome == "failed" and "source." in result.message
    _still_v1(published)


def test_failures_show_in_the_report_until_a_sync_succeeds(published, upstream):
    upstream.fail[PATH] = 503
    for _ in range(2):
        assert published.sync("sites").outcome == "failed"
    runner = CliRunner()
    data = json.loads(runner.invoke(app, ["report", "--format", "json"], env=published.env).stdout)
    row = next(r for r in data["layers"] if r["id"] == "sites")
    assert data["summary"]["sync_failing"] == ["sites"]
    assert row["consecutive_sync_failures"] == 2 and "HTTP 503" in row["sync_error"] and row["last_successful_sync"]
    assert row["published_version"] == 1
    text = runner.invoke(app, ["report"], env=published.env).stdout
    assert "sync failed sites (2x" in text and "HTTP 503" in text

    upstream.fail.clear()
    assert published.sync("sites").outcome == "not-modified"
    data = json.loads(runner.invoke(app, ["report", "--format", "json"], env=published.env).stdout)
    assert data["summary"]["sync_failing"] == []


def test_credentials_come_from_the_environment(sandbox, upstream, monkeypatch):
    body = json.dumps(collection(points(5))).encode()

    def guarded(query):
        if upstream.last_headers.get("Authorization") != "Bearer s3cret":
            return 401, {"Content-Type": "text/plain"}, b"unauthorized"
        return 200, {"Content-Type": "application/geo+json"}, body

    upstream.routes["/private/sites"] = guarded
    sandbox.write(record("sites", {"url": upstream.url("/private/sites"), "credentials_env": {"token": "SITES_TOKEN"}}))
    monkeypatch.delenv("SITES_TOKEN", raising=False)
    missing = sandbox.sync("sites")
    assert missing.outcome == "failed" and "SITES_TOKEN" in missing.message and "not set" in missing.message
    monkeypatch.setenv("SITES_TOKEN", "wrong")
    assert "HTTP 401" in sandbox.sync("sites").message
    monkeypatch.setenv("SITES_TOKEN", "s3cret")
    assert sandbox.sync("sites").outcome == "published"
    assert all("s3cret" not in json.dumps(e.detail) + e.message for e in sandbox.store.events("sites"))
