"""``kind: http`` against a real local HTTP server whose files change between syncs and which answers
conditional requests: publish, 304 (not-modified), republish, the formats, and failures that keep the
last good version."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import geopandas as gpd
import pytest
from feedkit import collection, points, record

MODIFIED = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)


def _geojson(up, n=20, **kw):
    up.put_json("/data/sites.geojson", collection(points(n, **kw)), modified=MODIFIED)
    return up.url("/data/sites.geojson")


def test_conditional_request_takes_the_304_path_then_a_change_republishes(sandbox, upstream):
    sandbox.write(record("sites", {"url": _geojson(upstream)}))
    first = sandbox.sync("sites")
    assert (first.outcome, first.version) == ("published", 1)
    layer = sandbox.store.get("sites")
    assert layer.feature_count == 20
    assert layer.record.last_updated == MODIFIED.date()  # last_updated follows Last-Modified
    assert layer.record.source.url.endswith("/data/sites.geojson")  # the record keeps its remote source

    second = sandbox.sync("sites")
    assert (second.outcome, second.version) == ("not-modified", 1)
    assert upstream.not_modified["/data/sites.geojson"] == 1
    assert len(sandbox.store.versions("sites")) == 1

    upstream.put_json("/data/sites.geojson", collection(points(23, seed=8)), modified=MODIFIED + dt.timedelta(days=2))
    third = sandbox.sync("sites")
    assert (third.outcome, third.version) == ("published", 2)
    assert len(sandbox.store.read_features(sandbox.store.get("sites"))) == 23
    assert sandbox.store.get("sites").record.last_updated == dt.date(2026, 3, 6)
    events = sandbox.store.events("sites", kind="sync")
    assert [e.outcome for e in events] == ["published", "not-modified", "published"]
    assert events[1].detail["http_status"] == 304 and events[0].detail["etag"]


def test_same_bytes_without_validators_are_unchanged_by_checksum(sandbox, upstream):
    body = json.dumps(collection(points(12))).encode()
    upstream.routes["/api/sites"] = lambda q: (200, {"Content-Type": "application/geo+json"}, body)
    sandbox.write(record("sites", {"url": upstream.url("/api/sites")}))
    assert sandbox.sync("sites").outcome == "published"
    again = sandbox.sync("sites")
    assert (again.outcome, again.version) == ("unchanged", 1)
    assert upstream.hits["/api/sites"] == 2
    staged = list((sandbox.settings.store.dir / "staging").iterdir())
    assert staged == []  # nothing is left in staging


def _zip_of_shapefile(tmp_path, frame) -> bytes:
    folder = tmp_path / "shp"
    folder.mkdir()
    frame.to_file(folder / "sites.shp")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, path.name)
    return buffer.getvalue(), folder


@pytest.mark.parametrize("fmt", ["zip", "gpkg", "csv", "shp"])
def test_file_formats(fmt, sandbox, upstream, tmp_path):
    frame = gpd.GeoDataFrame.from_features(points(9), crs="OGC:CRS84").to_crs("EPSG:6434")
    extra = {"crs": "EPSG:6434"}
    source: dict = {}
    if fmt == "zip":
        body, _ = _zip_of_shapefile(tmp_path, frame)
        upstream.put("/f/sites.zip", body, "application/zip")
        source = {"url": upstream.url("/f/sites.zip"), "layer": "sites"}
    elif fmt == "gpkg":
        frame.to_file(tmp_path / "sites.gpkg", layer="sites", driver="GPKG")
        upstream.put("/f/sites.gpkg", (tmp_path / "sites.gpkg").read_bytes())
        source = {"url": upstream.url("/f/sites.gpkg"), "layer": "sites"}
    elif fmt == "csv":
        table = frame.to_crs("EPSG:4326")
        table = table.assign(lon=table.geometry.x, lat=table.geometry.y).drop(columns="geometry")
        upstream.put("/f/sites.csv", table.to_csv(index=False).encode(), "text/csv")
        source = {"url": upstream.url("/f/sites.csv"), "csv": {"x": "lon", "y": "lat"}, "assume_crs": "EPSG:4326"}
        extra = {"crs": "EPSG:4326"}
    else:
        _, folder = _zip_of_shapefile(tmp_path, frame)
        for path in folder.iterdir():
            upstream.put(f"/f/{path.name}", path.read_bytes())
        source = {"url": upstream.url("/f/sites.shp")}
    sandbox.write(record("sites", source, **extra))
    result = sandbox.sync("sites")
    assert result.outcome == "published", result.message
    served = sandbox.store.read_features(sandbox.store.get("sites")).sort_values("id")
    assert list(served["id"]) == list(range(1, 10))
    expected = gpd.GeoDataFrame.from_features(points(9), crs="OGC:CRS84")
    assert served.geometry.x.round(5).tolist() == expected.geometry.x.round(5).tolist()
    if fmt == "shp":
        assert upstream.hits["/f/sites.dbf"] == 1 and upstream.hits["/f/sites.prj"] == 1
    assert sandbox.sync("sites").outcome == "not-modified"


def test_a_record_edit_republishes_without_a_conditional_request(sandbox, upstream):
    url = _geojson(upstream, n=6)
    sandbox.write(record("sites", {"url": url}))
    assert sandbox.sync("sites").outcome == "published"
    sandbox.write(record("sites", {"url": url}, title="Renamed sites"))
    edited = sandbox.sync("sites")
    assert (edited.outcome, edited.version) == ("published", 2)
    assert upstream.not_modified["/data/sites.geojson"] == 0
    assert sandbox.store.get("sites").record.title == "Renamed sites"
    assert sandbox.sync("sites").outcome == "not-modified"
