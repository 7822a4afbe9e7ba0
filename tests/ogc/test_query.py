"""Parameter parsing of the shared query engine (pure functions)."""

from __future__ import annotations

import pandas as pd
import pytest

from geosvc.crs import CRS84_URI
from geosvc.errors import InvalidParameter
from geosvc.ogc.query import MAX_LIMIT, parse_bbox, parse_datetime, parse_limit, parse_sortby

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


def test_limit_bounds():
    assert parse_limit(None) >= 1
    assert parse_limit(str(MAX_LIMIT * 10)) == MAX_LIMIT
    with pytest.raises(InvalidParameter):
        parse_limit("0")


def test_bbox_6_values_and_axis_order():
    assert parse_bbox("-73,41,0,-72,42,10", CRS84_URI) == (-73.0, 41.0, -72.0, 42.0)
    lon_lat = parse_bbox("41,-73,42,-72", EPSG + "4326")
    assert lon_lat == pytest.approx((-73.0, 41.0, -72.0, 42.0))


def test_bbox_3857_beyond_85_degrees_is_not_clamped_away():
    bounds = parse_bbox("-8200000,5000000,-8000000,5200000", EPSG + "3857")
    assert -74 < bounds[0] < bounds[2] < -71 and 40 < bounds[1] < bounds[3] < 43


@pytest.mark.parametrize("value", ["1,2,3", "a,b,c,d", "3,0,1,1", "0,3,1,1", "-181,0,0,1", "nan,0,1,1"])
def test_bad_bboxes(value):
    with pytest.raises(InvalidParameter):
        parse_bbox(value, CRS84_URI)


def test_datetime_forms():
    day = parse_datetime("2020-01-01", "t")
    assert day[0] == pd.Timestamp("2020-01-01", tz="UTC") and day[1] > pd.Timestamp("2020-01-01T23:59:59", tz="UTC")
    assert parse_datetime("../2020-01-01T00:00:00Z", "t")[0] is None
    assert parse_datetime("2020-01-01T00:00:00Z/..", "t")[1] is None
    for bad in ("../..", "x", "2020-02-01/2020-01-01"):
        with pytest.raises(InvalidParameter):
            parse_datetime(bad, "t")
    with pytest.raises(InvalidParameter, match="time field"):
        parse_datetime("2020-01-01", None)


def test_sortby():
    assert parse_sortby("+a,-b, c", ["a", "b", "c"]) == (("a", True), ("b", False), ("c", True))
    with pytest.raises(InvalidParameter):
        parse_sortby("-z", ["a"])
