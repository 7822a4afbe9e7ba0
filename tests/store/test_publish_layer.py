"""publish_layer: refusal, repair, empty geometries, clipping, reprojection, rasters and derivation."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from store_helpers import make_record, ok_report, points_frame
from support.postgis import store_settings
from rasterio.transform import from_origin

from geosvc.errors import ValidationFailed
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer, publish_order
from geosvc.validate.findings import Finding, LayerReport
from geosvc.validate.layer import validate_layer


def _store_files(settings):
    return sorted(p.relative_to(settings.store.dir) for p in settings.store.dir.rglob("*") if p.is_file() and p.suffix != ".sqlite" and "sqlite" not in p.name)


def test_refuses_report_with_errors(settings, store):
    record = make_record()
    report = LayerReport("sample", [Finding("sample", "crs.missing", "error", "no CRS")], data=points_frame())
    with pytest.raises(ValidationFailed) as exc:
        publish_layer(record, report, store, settings)
    assert "crs.missing" in str(exc.value) and exc.value.layer == "sample"
    assert store.versions("sample") == []
    assert _store_files(settings) == []


def test_repairs_invalid_and_drops_empty(settings, store):
    bowtie = shapely.from_wkt("POLYGON ((-72.7 41.7, -72.6 41.8, -72.6 41.7, -72.7 41.8, -72.7 41.7))")
    square = shapely.box(-72.5, 41.5, -72.4, 41.6)
    frame = gpd.GeoDataFrame(
        {"fid": [1, 2, 3, 4]}, geometry=[bowtie, square, shapely.Polygon(), None], crs="EPSG:4326"
    )
    record = make_record(geometry_type="Polygon")
    layer = publish_layer(record, ok_report(record, frame), store, settings)
    notes = " | ".join(layer.notes)
    assert "repaired 1 invalid geometry" in notes and "make_valid" in notes
    assert "dropped 2 feature(s) with null or empty geometry (e.g. 3, 4)" in notes
    published = store.read_features(store.get("sample"))
    assert sorted(published["fid"]) == [1, 2]
    assert published.is_valid.all()
    repaired = published.set_index("fid").geometry[1]
    assert repaired.geom_type == "MultiPolygon" and repaired.area == pytest.approx(0.005, rel=1e-6)  # both lobes kept


def test_drop_outside_state_and_reprojection(records, settings, store):
    record = records["ct-hospitals"]
    layer = publish_layer(record, validate_layer(record, settings), store, settings)
    features = store.read_features(store.get("ct-hospitals"))
    assert 30 < layer.feature_count < 100 and len(features) == layer.feature_count
    box = shapely.box(*settings.state.bbox)
    assert features.intersects(box).all()
    dropped = 7596 - layer.feature_count
    assert f"dropped {dropped} of 7596 features lying wholly outside Connecticut's extent" in " | ".join(layer.notes)
    assert f"the {layer.feature_count} inside it are kept (outside_state_extent: drop)" in " | ".join(layer.notes)
    assert layer.native_crs == "EPSG:3857"
    assert layer.fields["VAL_DATE"] == "date" and layer.fields["BEDS"] == "number" and layer.fields["NAME"] == "string"
    # lon/lat: x is longitude (negative, around -72), y latitude
    assert features.geometry.x.between(-74, -71).all() and features.geometry.y.between(40.9, 42.1).all()


def test_drop_leaving_nothing_is_refused(settings, store):
    far = gpd.GeoDataFrame({"fid": [1]}, geometry=shapely.points([[-100.0, 35.0]]), crs="EPSG:4326")
    record = make_record(outside_state_extent="drop")
    with pytest.raises(ValidationFailed):
        publish_layer(record, ok_report(record, far), store, settings)
    assert store.versions("sample") == []


def test_raster_source_becomes_cog(tmp_path):
    grid = np.arange(300 * 400, dtype="float32").reshape(300, 400)
    with rasterio.open(
        tmp_path / "striped.tif", "w", driver="GTiff", width=400, height=300, count=1, dtype="float32",
        crs="EPSG:5070", transform=from_origin(1_850_000, 2_350_000, 100, 100), nodata=-1,
    ) as dst:
        dst.write(grid, 1)
    settings = store_settings(data_root=tmp_path, store_dir=tmp_path / "store")
    store = open_store(settings)
    record = make_record("grid", kind="raster", source={"path": "striped.tif"}, id_field=None)
    layer = publish_layer(record, LayerReport("grid", []), store, settings)
    assert Path(store.raster_source(layer)).suffix == ".tif" and layer.native_crs == "EPSG:5070"
    with rasterio.open(store.raster_source(layer)) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.profile["tiled"] and src.nodata == -1
        assert np.array_equal(src.read(1), grid)
    minx, miny, maxx, maxy = layer.bbox
    assert -180 < minx < maxx < 0 and 0 < miny < maxy < 90


def test_population_density_from_published_tracts(records, settings, store):
    density = records["ct-population-density"]
    with pytest.raises(ValidationFailed, match="not published"):
        publish_layer(density, LayerReport(density.id, []), store, settings)

    tracts = publish_layer(records["ct-tracts-2010"], validate_layer(records["ct-tracts-2010"], settings), store, settings)
    layer = publish_layer(density, LayerReport(density.id, []), store, settings)
    assert layer.kind == "raster" and layer.native_crs == "EPSG:5070"
    assert f"input: ct-tracts-2010 v{tracts.version} sha256:{tracts.checksum}" in layer.notes[0]
    assert "people per km²" in layer.notes[1]
    with rasterio.open(store.raster_source(layer)) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.res == (250.0, 250.0) and src.crs.to_epsg() == 5070
        assert src.overviews(1), "COG has overviews"
        values = src.read(1, masked=True)
    total = store.read_features(store.get("ct-tracts-2010"))["Tot_Population_ACS_12_16"].sum()
    people = float(values.sum()) * 0.25 * 0.25  # density x cell area in km²
    assert people == pytest.approx(total, rel=0.01)
    assert values.max() > 5_000  # dense urban tracts
    assert values.mask.any() and values.min() >= 0


def test_density_grid_must_be_projected_metres(records, settings, store):
    spec = records["ct-population-density"].model_dump()
    spec["derived"]["crs"] = "EPSG:4326"
    record = type(records["ct-population-density"]).model_validate(spec)
    with pytest.raises(ValidationFailed, match="not a projected CRS in metres"):
        publish_layer(record, LayerReport(record.id, []), store, settings)
    assert store.versions(record.id) == []


def test_publish_order_puts_inputs_first(records):
    ordered = [r.id for r in publish_order(records.values())]
    assert ordered.index("ct-tracts-2010") < ordered.index("ct-population-density")
    assert sorted(ordered) == sorted(records)


def test_events_filter_by_layer_kind_and_time(store):
    import datetime as dt

    first = store.record_event("a", "sync", "failed", message="HTTP 503")
    store.record_event("a", "publish", "published", version=1)
    store.record_event("b", "sync", "published", version=2, detail={"etag": '"x"'})
    assert [e.event_id for e in store.events("a")][0] == first
    assert [(e.layer, e.outcome) for e in store.events(kind="sync")] == [("a", "failed"), ("b", "published")]
    assert [e.kind for e in store.events("a", kind="publish")] == ["publish"]
    assert store.events("b")[0].detail == {"etag": '"x"'} and store.events("b")[0].version == 2
    assert store.events(since=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)) == []
