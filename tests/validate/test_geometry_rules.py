"""Geometry rules and the repair publish applies."""

from __future__ import annotations

import geopandas as gpd
import shapely

from geosvc.validate.geometry import check_geometry
from geosvc.validate.repair import repair_geometries

BOWTIE = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])


def _codes(findings):
    return {f.code: f for f in findings}


def test_clean_points_have_no_findings(make_record):
    frame = gpd.GeoDataFrame({"site_id": [1, 2]}, geometry=shapely.points([0, 1], [0, 1]))
    assert check_geometry(frame, make_record()) == []


def test_invalid_geometry_is_a_warning_with_reason_and_ids(make_record):
    frame = gpd.GeoDataFrame({"site_id": ["a", "b"]}, geometry=[BOWTIE, shapely.box(0, 0, 1, 1)])
    found = _codes(check_geometry(frame, make_record(geometry_type="Polygon")))
    invalid = found["geometry.invalid"]
    assert (invalid.severity, invalid.count, invalid.examples) == ("warning", 1, ("a",))
    assert "Self-intersection" in invalid.message


def test_multi_variant_is_accepted_and_families_are_compared(make_record):
    frame = gpd.GeoDataFrame(
        {"site_id": [1, 2, 3]}, geometry=[shapely.box(0, 0, 1, 1), shapely.MultiPolygon([shapely.box(2, 2, 3, 3)]), shapely.Point(0, 0)]
    )
    found = _codes(check_geometry(frame, make_record(geometry_type="MultiPolygon")))
    assert found["geometry.unexpected_type"].count == 1
    assert found["geometry.unexpected_type"].examples == ("3",)
    assert found["geometry.mixed_types"].severity == "error"
    assert "2 polygon, 1 point" in found["geometry.mixed_types"].message


def test_null_and_empty_are_warnings_until_nothing_is_left(make_record):
    some = gpd.GeoDataFrame({"site_id": [1, 2, 3]}, geometry=[shapely.Point(0, 0), None, shapely.Point()])
    found = _codes(check_geometry(some, make_record()))
    assert found["geometry.null"].severity == found["geometry.empty"].severity == "warning"
    none = gpd.GeoDataFrame({"site_id": [1, 2]}, geometry=[None, shapely.Point()])
    found = _codes(check_geometry(none, make_record()))
    assert found["geometry.null"].severity == found["geometry.empty"].severity == "error"


def test_examples_fall_back_to_row_numbers_and_stop_at_five(make_record):
    frame = gpd.GeoDataFrame(geometry=[None] * 8 + [shapely.Point(0, 0)])
    found = _codes(check_geometry(frame, make_record(id_field="nope")))
    assert found["geometry.null"].count == 8
    assert found["geometry.null"].examples == ("row 0", "row 1", "row 2", "row 3", "row 4")


def test_repair_makes_valid_keeps_polygons_and_says_so():
    frame = gpd.GeoDataFrame({"k": [1, 2, 3]}, geometry=[BOWTIE, None, shapely.box(0, 0, 1, 1)], crs="EPSG:4326")
    done = repair_geometries(frame, "k")
    fixed, note = done.frame, " | ".join(done.notes)
    assert fixed["k"].tolist() == [1, 3]
    assert fixed.is_valid.all() and fixed.crs == frame.crs
    assert fixed.geom_type.tolist() == ["MultiPolygon", "Polygon"]
    assert abs(fixed.geometry.iloc[0].area - 0.5) < 1e-9  # both triangles of the bowtie kept
    assert "repaired 1 invalid geometry" in note and "dropped 1 feature(s) with null or empty geometry (e.g. 2)" in note
    assert frame.geometry.iloc[0].equals(BOWTIE)  # input untouched


def test_repair_of_clean_data_changes_nothing():
    frame = gpd.GeoDataFrame({"k": [1]}, geometry=[shapely.box(0, 0, 1, 1)])
    done = repair_geometries(frame)
    assert done.notes == [] and done.frame.geometry.iloc[0].equals(frame.geometry.iloc[0])
