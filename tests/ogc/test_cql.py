"""CQL2 parsing/evaluation on a tiny hand-made frame: the pygeofilter gaps we fix, strictness."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geosvc.cql2 import evaluate_filter, parse_filter
from geosvc.crs import CRS84_URI
from geosvc.errors import InvalidParameter

EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"


@pytest.fixture(scope="module")
def frame():
    return gpd.GeoDataFrame(
        {"name": ["alpha", "beta", "gamma"], "pop": [10, 200, 3000], "share": [0.5, np.nan, 0.25]},
        geometry=[shapely.Point(-73.0, 41.0), shapely.Point(-72.5, 41.5), shapely.box(-72.1, 41.9, -71.9, 42.1)],
        crs="OGC:CRS84",
    )


def _mask(text, frame, lang=None, crs=CRS84_URI):
    return evaluate_filter(parse_filter(text, lang), frame, crs).tolist()


def test_bbox_function_in_cql2_text(frame):
    assert _mask("S_INTERSECTS(geom, BBOX(-73.1, 40.9, -72.4, 41.6))", frame) == [True, True, False]


def test_bbox_in_cql2_json_is_read_in_order(frame):
    text = json.dumps({"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [-72.6, 41.4, -71.95, 42.0]}]})
    assert _mask(text, frame, "cql2-json") == [False, True, True]


def test_filter_crs_transforms_literals(frame):
    polygon = shapely.box(-8_140_000, 5_000_000, -8_100_000, 5_050_000).wkt
    expected = gpd.GeoSeries.from_wkt([polygon], crs=3857).to_crs("OGC:CRS84").iloc[0]
    assert _mask(f"S_INTERSECTS(geom, {polygon})", frame, crs=EPSG3857) == frame.intersects(expected).tolist()


def test_comparisons_like_in_between_null(frame):
    assert _mask("pop > 100 AND name LIKE 'g%'", frame) == [False, False, True]
    assert _mask("name IN ('alpha', 'beta')", frame) == [True, True, False]
    assert _mask("pop BETWEEN 100 AND 1000", frame) == [False, True, False]
    assert _mask("share IS NULL", frame) == [False, True, False]


@pytest.mark.parametrize("text", ["nope = 1", "pop > 'abc'", "foo(pop) = 1", "((("])
def test_bad_filters_are_invalid_parameters(frame, text):
    with pytest.raises(InvalidParameter):
        _mask(text, frame)


def test_unknown_filter_language():
    with pytest.raises(InvalidParameter, match="filter-lang"):
        parse_filter("pop > 1", "ecql")
