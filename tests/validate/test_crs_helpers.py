"""geosvc.crs: parsing, semantic comparison, codes/URIs and the fast lon/lat used for plausibility."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import CRS

from geosvc.crs import (
    crs_code,
    crs_label,
    crs_uri,
    find_crs,
    normalize_crs,
    parse_crs,
    same_crs,
    to_crs84,
    to_lonlat,
)
from geosvc.errors import InvalidParameter


@pytest.mark.parametrize(
    "value", ["EPSG:4269", 4269, "urn:ogc:def:crs:EPSG::4269", "http://www.opengis.net/def/crs/EPSG/0/4269"]
)
def test_normalize_accepts_codes_urns_and_uris(value):
    assert crs_code(normalize_crs(value)) == "EPSG:4269"


def test_unknown_crs_is_a_typed_error_naming_the_value():
    with pytest.raises(InvalidParameter, match="EPSG:999999"):
        normalize_crs("EPSG:999999")
    assert parse_crs("not a crs") is None


def test_esri_wkt_equals_its_epsg_code():
    esri = CRS("EPSG:2234").to_wkt("WKT1_ESRI")
    assert same_crs(esri, "EPSG:2234")
    assert find_crs(esri, ["EPSG:4326", "EPSG:2234"]) == "EPSG:2234"
    assert crs_code(esri) == "EPSG:2234"


def test_axis_order_is_ignored_but_datum_and_units_are_not():
    assert same_crs("EPSG:4326", "OGC:CRS84")
    assert not same_crs("EPSG:4326", "EPSG:4269")  # NAD83 vs WGS 84
    assert not same_crs("EPSG:6433", "EPSG:6434")  # metres vs US feet


def test_uris_and_labels():
    assert crs_uri("EPSG:4326") == "http://www.opengis.net/def/crs/EPSG/0/4326"
    assert crs_uri("OGC:CRS84") == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    custom = 'GEOGCS["Odd",DATUM["D",SPHEROID["S",6000000,300]],PRIMEM["G",0],UNIT["Degree",0.0174532925199433]]'
    assert crs_label(custom) == "Odd"
    assert crs_code(custom).startswith("GEOGCRS")
    with pytest.raises(InvalidParameter, match="no authority"):
        crs_uri(custom)


def test_fast_lonlat_agrees_with_full_transform_to_metres():
    x, y = np.array([1_000_000.0, 1_100_000.0]), np.array([600_000.0, 700_000.0])
    fast = np.column_stack(to_lonlat(x, y, "EPSG:2234"))
    full = np.column_stack(to_crs84(x, y, "EPSG:2234"))
    assert np.allclose(fast, full, atol=1e-4)  # ~10 m: datum shift NAD83 -> WGS 84 ignored
    assert 40.9 < fast[0, 1] < 42.1


def test_a_crs_without_a_usable_projection_gives_inf():
    lon, lat = to_lonlat(np.array([500_000.0]), np.array([4_600_000.0]), "EPSG:32600")  # UTM "grid system"
    assert np.isinf(lon).all() and np.isinf(lat).all()
