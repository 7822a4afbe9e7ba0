"""GpkgStore: versions, catalog rows, reading back, validation runs; failures leave the store unchanged."""

from __future__ import annotations

import sqlite3

import pyogrio
import pytest
from store_helpers import make_record, ok_report, points_frame
from support.postgis import gpkg_only

from geosvc.errors import NotPublished, StoreError
from geosvc.store.base import RasterVersion
from geosvc.store.files import sha256_file
from geosvc.store.publish import publish_layer
from geosvc.validate.findings import Finding, LayerReport
from geosvc.validate.layer import validate_layer


@gpkg_only
def test_publish_real_layer_twice(records, settings, store):
    record = records["ct-towns"]
    report = validate_layer(record, settings)
    assert report.ok
    first = publish_layer(record, report, store, settings)
    assert publish_layer(record, report, store, settings) == first  # unchanged: still v1
    changed = record.model_copy(update={"description": record.description + " (revised)"})
    second = publish_layer(changed, report, store, settings)

    assert (first.version, second.version) == (1, 2)
    assert store.get("ct-towns").version == 2
    assert store.get("ct-towns", 1).checksum == first.checksum
    assert [v.version for v in store.versions("ct-towns")] == [1, 2]
    assert store.file(first).exists() and store.file(second).exists() and store.file(first) != store.file(second)
    assert store.file(first).name == "v1.gpkg" and store.file(first).parent.name == "ct-towns"
    assert sha256_file(store.file(second)) == second.checksum
    assert second.native_crs == "EPSG:4269"
    assert second.feature_count == 169 and second.geometry_type == "MultiPolygon"
    assert second.fields["NAME"] == "string"
    minx, miny, maxx, maxy = second.bbox
    assert -74 < minx < maxx < -71.5 and 40.9 < miny < maxy < 42.1  # lon/lat order

    features = store.read_features(store.get("ct-towns"))
    assert len(features) == 169 and features.crs.to_authority() == ("OGC", "CRS84")
    assert [name for name, _ in pyogrio.list_layers(store.file(second))] == ["ct-towns", "geosvc_items"]
    with sqlite3.connect(store.file(second)) as con:  # spatial index present
        assert con.execute("SELECT count(*) FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index'").fetchone()[0] == 1
    assert [p.id for p in store.published()] == ["ct-towns"]


def test_not_published(store):
    with pytest.raises(NotPublished) as exc:
        store.get("nothing")
    assert exc.value.layer == "nothing"
    assert store.published() == [] and store.versions("nothing") == []
    with pytest.raises(NotPublished):
        store.read_features(store.get("nothing"))


@gpkg_only
def test_failed_store_publish_keeps_previous(settings, store, tmp_path):
    record = make_record()
    first = publish_layer(record, ok_report(record, points_frame()), store, settings)
    with pytest.raises(StoreError):
        store.publish_raster(record, RasterVersion(cog=tmp_path / "missing.tif", native_crs="EPSG:4326",
                                                   bbox=(0, 0, 1, 1), fields={}, notes=[], content_hash="x"))
    assert store.get("sample") == first
    assert [v.version for v in store.versions("sample")] == [1]
    assert sha256_file(store.file(first)) == first.checksum


def test_validation_runs(store):
    bad = LayerReport("a", [Finding("a", "crs.missing", "error", "no CRS"), Finding("a", "metadata.missing", "warning", "x")], 0.5)
    good = LayerReport("a", [], 1.0)
    other = LayerReport("b", [Finding("b", "freshness.stale", "warning", "old")], 0.8, stale=True)
    for report in (bad, good, other):
        store.record_validation(report)
    latest = {run.layer: run for run in store.validations()}
    assert latest["a"].ok and latest["a"].errors == 0 and latest["a"].completeness == 1.0
    assert latest["b"].ok and latest["b"].warnings == 1 and latest["b"].stale
    history = store.validations("a", latest=False)
    assert [run.ok for run in history] == [False, True]
    assert history[0].findings[0]["code"] == "crs.missing" and history[0].errors == 1
