"""The validation gate: cases made from the real bundle, and the issue-7 regressions (one repair, rasters
without an EPSG code, the renamed outside_state_extent)."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from pydantic import ValidationError
from rasterio.transform import from_origin

from geosvc.records.models import LayerRecord
from geosvc.settings import load_settings
from geosvc.validate import validate_layer
from geosvc.validate.freshness import check_freshness
from geosvc.validate.geometry import check_geometry
from geosvc.validate.raster import check_raster
from geosvc.validate.repair import find_slivers, repair_geometries
from support.broken_inputs import CT_LAMBERT, _towns_encoded, record_for

TODAY = dt.date(2026, 11, 25)


def _validate(record: dict, root):
    settings = load_settings(data_root=root, store_dir=root / "store")
    return validate_layer(LayerRecord.model_validate(record), settings, today=TODAY)


def test_undecodable_text_names_field_feature_and_an_encoding_that_works(tmp_path):
    record, root = _towns_encoded("cp1252", "UTF-8")(tmp_path)
    report = _validate(record, root)
    (finding,) = [f for f in report.findings if f.code == "source.encoding"]
    assert finding.severity == "error" and report.data is None
    assert "field 'NAME'" in finding.message and "in 3 feature(s)" in finding.message
    assert "e.g. GEOID=09" in finding.message and "set source.encoding: cp1252" in finding.message


@pytest.mark.parametrize(("written", "cpg"), [("cp1252", "UTF-8"), ("UTF-8", "1252")])
def test_declared_source_encoding_that_decodes_the_text_is_used(tmp_path, written, cpg):
    record, root = _towns_encoded(written, cpg, encoding=written)(tmp_path)
    report = _validate(record, root)
    assert report.ok, report.findings
    accented = report.data["NAME"][report.data["NAME"].str.contains("é")]
    assert len(accented) == 3 and accented.str.endswith("(Comté)").all()


def test_utf8_text_under_a_cp1252_cpg_is_caught_as_mojibake(tmp_path):
    record, root = _towns_encoded("UTF-8", "1252")(tmp_path)
    (finding,) = [f for f in _validate(record, root).findings if f.code == "source.encoding"]
    assert "decoded as the encoding its .cpg declares (1252)" in finding.message
    assert "reads as 'Mansfiéld (Comté)' in UTF-8" in finding.message and "set source.encoding: UTF-8" in finding.message


def test_csv_in_another_encoding_is_source_encoding(tmp_path):
    (tmp_path / "sites.csv").write_bytes("site_id,lng,lat,name\n1,-72.6,41.5,Montréal\n".encode("cp1252"))
    source = {"path": "sites.csv", "csv": {"x": "lng", "y": "lat"}, "assume_crs": "EPSG:4326"}
    report = _validate(record_for("enc", "sites.csv", source=source, crs=None), tmp_path)
    assert [f.code for f in report.findings if f.severity == "error"] == ["source.encoding"]


def test_future_last_updated_is_an_error(make_record):
    (finding,) = check_freshness(make_record(last_updated="2026-12-01"), TODAY)
    assert (finding.code, finding.severity) == ("freshness.future", "error") and "6 days after" in finding.message
    assert check_freshness(make_record(last_updated="2026-11-25"), TODAY) == []


def test_slivers_are_thin_and_small_parts_only():
    square = shapely.box(0, 0, 1000, 1000)
    thin_but_big = shapely.box(0, 0, 100_000, 50)  # a long river polygon is thin, not small
    strip = shapely.box(0, 0, 1000, 2)
    island = shapely.MultiPolygon([square, shapely.box(5000, 0, 5400, 1)])  # a sliver part of a feature
    assert find_slivers(np.array([square, thin_but_big, strip, island, square, None])).tolist() == [
        False, False, True, True, False, False
    ]


# --- issue 7: one geometry repair -------------------------------------------------------------------------


def _frame_needing_repair() -> gpd.GeoDataFrame:
    spike = shapely.Polygon([(-72.5, 41.5), (-72.4, 41.5), (-72.45, 41.5)])  # zero area: collapses when repaired
    bowtie = shapely.Polygon([(-72.7, 41.7), (-72.6, 41.8), (-72.6, 41.7), (-72.7, 41.8)])
    repeated = shapely.Polygon([(-72.3, 41.3), (-72.3, 41.3), (-72.2, 41.3), (-72.2, 41.4), (-72.3, 41.4)])
    z = shapely.Polygon([(-72.9, 41.3, 5.0), (-72.8, 41.3, 5.0), (-72.8, 41.4, 5.0)])
    return gpd.GeoDataFrame({"site_id": [1, 2, 3, 4, 5]}, geometry=[spike, bowtie, repeated, z, None], crs="EPSG:4326")


def test_validation_reports_what_the_repair_will_do(make_record):
    found = {f.code: f for f in check_geometry(_frame_needing_repair(), make_record(geometry_type="Polygon"))}
    assert found["geometry.invalid"].count == 2 and "1 collapse to nothing and are dropped" in found["geometry.invalid"].message
    assert found["geometry.duplicate_vertices"].examples == ("3",)
    assert found["geometry.has_z"].examples == ("4",) and found["geometry.null"].examples == ("5",)


def test_publish_notes_are_the_repair_notes(tmp_path):
    from geosvc.store.gpkg import GpkgStore
    from geosvc.store.publish import publish_layer
    from geosvc.validate.findings import LayerReport

    frame = _frame_needing_repair()
    record = LayerRecord.model_validate(record_for("repair", "x.gpkg", geometry_type="Polygon"))
    settings = load_settings(data_root=tmp_path, store_dir=tmp_path / "store")
    layer = publish_layer(record, LayerReport(record.id, data=frame), GpkgStore(settings), settings)
    expected = repair_geometries(frame, "site_id").notes
    assert layer.notes[: len(expected)] == expected and len(expected) == 5
    assert "dropped 1 feature(s) that collapsed to nothing when repaired (e.g. 1)" in expected
    published = (lambda s: s.read_features(s.get(record.id)))(GpkgStore(settings))
    assert sorted(published["site_id"]) == [2, 3, 4]
    assert not shapely.has_z(np.asarray(published.geometry.array)).any() and published.is_valid.all()
    assert shapely.get_num_coordinates(published.set_index("site_id").geometry[3]) == 5


# --- issue 7: a raster CRS without an EPSG code -------------------------------------------------------------


def _raster(path, crs):
    profile = {"driver": "GTiff", "width": 32, "height": 32, "count": 1, "dtype": "uint8", "nodata": 0,
               "crs": crs, "transform": from_origin(250_000, 250_000, 1000, 1000)}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.ones((1, 32, 32), dtype="uint8"))
    return str(path)


def test_raster_crs_without_epsg_code_is_refused_not_read_as_lonlat(tmp_path):
    record = LayerRecord.model_validate(record_for("grid", "g.tif", kind="raster", id_field=None, geometry_type=None, crs=None))
    findings = check_raster(_raster(tmp_path / "g.tif", CT_LAMBERT), record, load_settings())
    (finding,) = [f for f in findings if f.severity == "error"]
    assert finding.code == "raster.crs_no_epsg" and "+proj=lcc" in finding.message


def test_raster_crs_not_allowed_or_contradicting_the_record(tmp_path):
    settings = load_settings()
    base = {"kind": "raster", "id_field": None, "geometry_type": None}
    utm = _raster(tmp_path / "utm.tif", "EPSG:32618")
    record = LayerRecord.model_validate(record_for("grid", "utm.tif", crs=None, **base))
    assert "crs.not_allowed" in {f.code for f in check_raster(utm, record, settings)}
    albers = _raster(tmp_path / "albers.tif", "EPSG:5070")
    record = LayerRecord.model_validate(record_for("grid", "albers.tif", crs="EPSG:6434", **base))
    assert "crs.mismatch" in {f.code for f in check_raster(albers, record, settings)}


# --- issue 7: clip_to_state renamed to what it does -------------------------------------------------------------


def test_clip_to_state_is_refused_with_the_new_name():
    with pytest.raises(ValidationError, match="outside_state_extent: drop"):
        LayerRecord.model_validate(record_for("old", "x.gpkg", clip_to_state=True))


def test_invalid_geometries_that_all_collapse_are_an_error(make_record):
    flat = gpd.GeoDataFrame({"site_id": [1]}, geometry=[shapely.Polygon([(0, 0), (1, 0), (0.5, 0)])])
    (finding,) = check_geometry(flat, make_record(geometry_type="Polygon"))
    assert (finding.code, finding.severity) == ("geometry.invalid", "error") and "nothing is left" in finding.message


def test_zipped_shapefile_without_dbf(tmp_path):
    import zipfile

    from support.broken_inputs import TOWNS, real_path

    with zipfile.ZipFile(tmp_path / "towns.zip", "w") as zf:
        for ext in ("shp", "shx", "prj"):
            zf.write(real_path(f"{TOWNS}.{ext}"), f"towns.{ext}")
    record = record_for("zipped", "towns.zip", id_field=None, geometry_type="Polygon", crs="EPSG:4269")
    report = _validate(record, tmp_path)
    assert [(f.code, f.severity) for f in report.findings if f.severity == "error"] == [("source.dbf_missing", "error")]


def test_truncated_raster_names_the_block_it_cannot_read(tmp_path):
    from support.broken_inputs import _grid_truncated

    record, root = _grid_truncated(tmp_path)
    (finding,) = _validate(record, root).findings
    assert finding.code == "source.corrupt" and "truncated or corrupt: cannot read band 1 block" in finding.message
    assert "IReadBlock failed" in finding.message


def test_raster_outside_the_state_is_info_when_the_record_keeps_it(tmp_path):
    from support.broken_inputs import _grid_far_away

    record, root = _grid_far_away(tmp_path)
    assert not _validate(record, root).ok
    report = _validate({**record, "outside_state_extent": "keep"}, root)
    assert report.ok and ("coords.outside_state", "info") in {(f.code, f.severity) for f in report.findings}
