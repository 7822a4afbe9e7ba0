"""ArcGIS REST and Socrata kinds against local servers shaped like the real APIs (see services.py for
the documented behaviour they reproduce: paging limits, exceededTransferLimit, $limit/$offset/$order)."""

from __future__ import annotations

import datetime as dt

import pytest
from feedkit import points, record
from services import ArcGISLayer, SocrataDataset


@pytest.mark.parametrize("fmt", ["geojson", "json"])
def test_arcgis_pages_until_the_transfer_limit_is_no_longer_exceeded(fmt, sandbox, upstream):
    layer = ArcGISLayer(upstream, points(10))
    extra = {"crs": "EPSG:3857"} if fmt == "json" else {}
    sandbox.write(record("sites", {"kind": "arcgis", "url": layer.url, "format": fmt, "page_size": 50}, **extra))
    result = sandbox.sync("sites")
    assert result.outcome == "published", result.message
    served = sandbox.store.read_features(sandbox.store.get("sites")).sort_values("id")
    assert list(served["id"]) == list(range(1, 11))
    queries = [q for path, q in upstream.queries if path.endswith("/query")]
    # page_size 50 is capped at the layer's maxRecordCount (4): offsets 0, 4, 8
    assert [int(q["resultOffset"]) for q in queries] == [0, 4, 8]
    assert {q["resultRecordCount"] for q in queries} == {"4"} and {q["orderByFields"] for q in queries} == {"OBJECTID"}
    assert {q["f"] for q in queries} == {fmt}
    expected_x = sorted(round(f["geometry"]["coordinates"][0], 5) for f in points(10))
    assert sorted(served.geometry.x.round(5)) == expected_x
    event = sandbox.store.events("sites", kind="sync")[-1]
    assert event.detail["pages"] == 3 and event.detail["features"] == 10
    # last_updated follows editingInfo.lastEditDate (epoch ms)
    assert sandbox.store.get("sites").record.last_updated == dt.datetime.fromtimestamp(layer.last_edit / 1000, dt.UTC).date()


def test_arcgis_without_pagination_pages_by_object_ids(sandbox, upstream):
    layer = ArcGISLayer(upstream, points(9), paging=False)
    sandbox.write(record("sites", {"kind": "arcgis", "url": layer.url}))
    result = sandbox.sync("sites")
    assert result.outcome == "published", result.message
    assert sorted(sandbox.store.read_features(sandbox.store.get("sites"))["id"]) == list(range(1, 10))
    chunks = [q["objectIds"] for path, q in upstream.queries if "objectIds" in q]
    assert chunks == ["1,2,3,4", "5,6,7,8", "9"]
    assert sandbox.store.events("sites", kind="sync")[-1].detail["paging"] == "objectIds"


def test_arcgis_unchanged_edit_date_skips_the_download_and_a_new_one_republishes(sandbox, upstream):
    layer = ArcGISLayer(upstream, points(6))
    sandbox.write(record("sites", {"kind": "arcgis", "url": layer.url}))
    assert sandbox.sync("sites").outcome == "published"
    queries = upstream.hits[layer.path + "/query"]
    again = sandbox.sync("sites")
    assert again.outcome == "not-modified" and upstream.hits[layer.path + "/query"] == queries
    layer.features = points(7, seed=3)
    layer.last_edit += 86_400_000
    changed = sandbox.sync("sites")
    assert (changed.outcome, changed.version) == ("published", 2)
    assert len(sandbox.store.read_features(sandbox.store.get("sites"))) == 7
    # an edit date that moves while the rows stay the same is caught by the checksum
    layer.last_edit += 86_400_000
    assert sandbox.sync("sites").outcome == "unchanged"


def test_arcgis_error_body_fails_and_the_token_comes_from_the_environment(sandbox, upstream, monkeypatch):
    layer = ArcGISLayer(upstream, points(5), token="agol-token")
    sandbox.write(record("sites", {"kind": "arcgis", "url": layer.url, "credentials_env": {"token": "AGOL_TOKEN"}}))
    monkeypatch.setenv("AGOL_TOKEN", "expired")
    failed = sandbox.sync("sites")
    assert failed.outcome == "failed" and "ArcGIS error 498: Invalid Token" in failed.message
    monkeypatch.setenv("AGOL_TOKEN", "agol-token")
    assert sandbox.sync("sites").outcome == "published"


@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_socrata_pages_with_limit_offset_ordered_by_id(fmt, sandbox, upstream):
    dataset = SocrataDataset(upstream, points(11))
    source = {"kind": "socrata", "url": dataset.url, "format": fmt, "page_size": 5}
    extra = {}
    if fmt == "csv":
        source |= {"csv": {"x": "longitude", "y": "latitude"}, "assume_crs": "EPSG:4326"}
        extra = {"crs": "EPSG:4326"}
    sandbox.write(record("sites", source, **extra))
    result = sandbox.sync("sites")
    assert result.outcome == "published", result.message
    assert dataset.pages == [(0, 5), (5, 5), (10, 1)]  # stops at the short page
    served = sandbox.store.read_features(sandbox.store.get("sites"))
    assert sorted(int(v) for v in served["id"]) == list(range(1, 12))
    assert sandbox.store.get("sites").record.last_updated == dt.datetime.fromtimestamp(dataset.rows_updated_at, dt.UTC).date()
    again = sandbox.sync("sites")
    assert again.outcome == "not-modified" and len(dataset.pages) == 3  # rowsUpdatedAt unchanged: no download


def test_socrata_exact_multiple_of_the_page_and_app_token(sandbox, upstream, monkeypatch):
    dataset = SocrataDataset(upstream, points(10), app_token="app-123")
    sandbox.write(record("sites", {"kind": "socrata", "url": dataset.url + ".json", "page_size": 5,
                                   "credentials_env": {"token": "CT_APP_TOKEN"}}))
    monkeypatch.setenv("CT_APP_TOKEN", "app-123")
    assert sandbox.sync("sites").outcome == "published"
    assert dataset.pages == [(0, 5), (5, 5), (10, 0)]
    dataset.rows_updated_at += 60
    dataset.features = points(10, value=100)
    monkeypatch.setenv("CT_APP_TOKEN", "bad")
    failed = sandbox.sync("sites")
    assert failed.outcome == "failed" and "HTTP 403" in failed.message
    assert sandbox.store.get("sites").version == 1
