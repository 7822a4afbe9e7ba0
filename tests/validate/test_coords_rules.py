"""Coordinate rules against the declared CRS and the state's extent (settings.state.bbox)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from support.broken_inputs import LAT, LON, points
from pyproj import CRS

from geosvc.settings import load_settings
from geosvc.validate.coords import best_fits, check_coordinates, share_inside


@pytest.fixture(scope="module")
def settings():
    return load_settings()


def _check(frame, record, settings, crs=None):
    return check_coordinates(
        frame, CRS(crs or frame.crs), record, settings.crs.allowed, tuple(settings.state.bbox), settings.state.name
    )


def test_points_in_state_pass_in_any_allowed_crs(make_record, settings):
    for crs in ("EPSG:4269", "EPSG:2234", "EPSG:6433", "EPSG:26918", "EPSG:3857"):
        assert _check(points(crs), make_record(crs=crs), settings) == [], crs


def test_swapped_axes_named(make_record, settings):
    (finding,) = _check(points(swap=True), make_record(), settings)
    assert (finding.code, finding.severity, finding.count) == ("coords.swapped_axes", "error", 5)


def test_feet_labelled_metres_names_the_crs_that_fits(make_record, settings):
    frame = points("EPSG:2234").set_crs("EPSG:6433", allow_override=True)
    (finding,) = _check(frame, make_record(crs="EPSG:6433"), settings)
    assert finding.code == "coords.wrong_crs"
    assert "EPSG:2234" in finding.message or "EPSG:6434" in finding.message


def test_state_plane_as_degrees_suggests_projected_crs(make_record, settings):
    frame = points("EPSG:26956").set_crs("EPSG:4269", allow_override=True)
    (finding,) = _check(frame, make_record(crs="EPSG:4269"), settings)
    assert finding.code == "coords.projected_as_geographic"
    assert "EPSG:26956" in finding.message


def test_features_outside_are_an_error_unless_the_record_drops_or_keeps_them(make_record, settings):
    frame = gpd.GeoDataFrame(
        {"site_id": range(6)},
        geometry=shapely.points(np.r_[LON[:2], -100, -90, -80, -120], np.r_[LAT[:2], 40, 35, 30, 45]),
        crs="EPSG:4326",
    )
    (error,) = _check(frame, make_record(), settings)
    assert (error.code, error.severity, error.count) == ("coords.outside_state", "error", 4)
    assert error.examples == ("2", "3", "4", "5")
    for policy in ("drop", "keep"):
        (info,) = _check(frame, make_record(outside_state_extent=policy), settings)
        assert (info.severity, info.count) == ("info", 4) and f"outside_state_extent: {policy}" in info.message


def test_polygons_touching_the_state_are_inside(make_record, settings):
    big = shapely.box(-80, 35, -72.0, 41.2)  # centre far outside, but it overlaps Connecticut
    frame = gpd.GeoDataFrame({"site_id": [1]}, geometry=[big], crs="EPSG:4326")
    assert _check(frame, make_record(), settings) == []


def test_nothing_in_state_and_nothing_fits_is_an_error(make_record, settings):
    frame = gpd.GeoDataFrame({"site_id": [1, 2]}, geometry=shapely.points([2.35, 13.4], [48.85, 52.5]), crs="EPSG:4326")
    (finding,) = _check(frame, make_record(), settings)
    assert (finding.code, finding.severity) == ("coords.outside_state", "error")


def test_null_geometries_are_ignored(make_record, settings):
    frame = gpd.GeoDataFrame({"site_id": [1, 2]}, geometry=[None, shapely.Point(LON[0], LAT[0])], crs="EPSG:4326")
    assert _check(frame, make_record(), settings) == []
    assert _check(frame.iloc[:1], make_record(), settings) == []


def test_fit_helpers():
    bbox = (-73.73, 40.95, -71.78, 42.06)
    assert share_inside(LON, LAT, "EPSG:4326", bbox) == 1.0
    assert share_inside(LAT, LON, "EPSG:4326", bbox) == 0.0
    x, y = points("EPSG:26756").geometry.x.to_numpy(), points("EPSG:26756").geometry.y.to_numpy()
    assert [f.crs for f in best_fits(x, y, ["EPSG:2234", "EPSG:26756"], bbox)] == ["EPSG:26756"]
