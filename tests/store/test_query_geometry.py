"""The geometry parts of the query seam on the backend under test: ``min_size``, ``largest_first`` and the
output ``crs`` (PostGIS: in SQL, ``ST_Transform``; embedded: pyproj in its reader), against values
computed here from the published features."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from store_helpers import make_record, ok_report
from support.postgis import postgis_only

from geosvc.store.publish import publish_layer
from geosvc.store.query import FeatureQuery

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
SEED = 7


@pytest.fixture
def mixed(store, settings):
    """Seeded rectangles of many sizes, and points, near Hartford (``fid`` = feature order)."""
    rng = np.random.default_rng(SEED)
    n = 300
    x, y = rng.uniform(-72.9, -72.5, n), rng.uniform(41.6, 41.9, n)
    w, h = rng.uniform(0.0001, 0.02, n), rng.uniform(0.0001, 0.02, n)
    geoms = list(shapely.box(x, y, x + w, y + h))
    geoms[::10] = shapely.points(x[::10], y[::10])
    frame = gpd.GeoDataFrame({"fid": np.arange(1, n + 1), "name": [f"f{i}" for i in range(n)]},
                             geometry=geoms, crs="OGC:CRS84")
    record = make_record("mixed", id_field="fid")
    return publish_layer(record, ok_report(record, frame), store, settings), frame


def _names(page) -> list[str]:
    import orjson

    return [orjson.loads(r.props_json)["name"] for r in page.rows]


def test_min_size_keeps_features_at_least_that_wide_or_tall_and_every_point(store, mixed):
    layer, frame = mixed
    bounds = frame.geometry.bounds
    size = (0.01, 0.005)
    expected = frame[((bounds.maxx - bounds.minx) >= size[0]) | ((bounds.maxy - bounds.miny) >= size[1])
                     | (frame.geom_type == "Point")]
    page = store.query(layer, FeatureQuery(min_size=size, limit=None))
    assert _names(page) == list(expected["name"]) and page.matched == len(expected)
    assert 0 < len(expected) < len(frame)


def test_largest_first_orders_by_envelope_size_in_units_then_feature_order(store, mixed):
    layer, frame = mixed
    units = (0.0004, 0.0003)
    bounds = frame.geometry.bounds
    size = np.fmax((bounds.maxx - bounds.minx) / units[0], (bounds.maxy - bounds.miny) / units[1])
    expected = frame.assign(size=size).sort_values(["size", "fid"], ascending=[False, True], kind="stable")
    page = store.query(layer, FeatureQuery(largest_first=units, limit=25, offset=5))
    assert _names(page) == list(expected["name"][5:30])
    assert page.matched == len(frame)
    # with a bbox: the matches of the bbox only, largest first (points, size 0, last in feature order)
    box = (-72.8, 41.65, -72.6, 41.85)
    page = store.query(layer, FeatureQuery(bbox=box, largest_first=units, limit=None))
    inside = expected[expected.intersects(shapely.box(*box))]
    assert _names(page) == list(inside["name"]) and page.matched == len(inside)


@pytest.mark.parametrize("code", ["4326", "4269", "3857", "6434", "2234"])
def test_output_crs_is_transformed_by_the_store_in_authority_axis_order(store, mixed, code):
    layer, frame = mixed
    t = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{code}")  # authority axis order (4326: lat, lon)
    expected = [shapely.transform(g, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
                for g in frame.geometry[:40]]
    page = store.query(layer, FeatureQuery(limit=40, crs=EPSG + code, wkb=True))
    import orjson

    for row, want in zip(page.rows, expected, strict=True):
        got = shapely.get_coordinates(shapely.from_wkb(row.wkb))
        assert np.abs(got - shapely.get_coordinates(want)).max() <= 1e-9  # degrees, metres or feet
        from_json = shapely.get_coordinates(shapely.geometry.shape(orjson.loads(row.geom_json)))
        assert np.abs(from_json - got).max() <= 1e-12 * np.abs(got).max()
    one = store.feature(layer, page.rows[3].fid, crs=EPSG + code)
    assert one.geom_json == page.rows[3].geom_json and one.wkb is None
    plain = store.query(layer, FeatureQuery(limit=40))
    assert [r.props_json for r in plain.rows] == [r.props_json for r in page.rows]
    assert all(r.wkb is None for r in plain.rows) and plain.rows[0].geom_json != page.rows[0].geom_json


@postgis_only
def test_postgis_transforms_in_the_database(store, mixed, monkeypatch):
    """No Python reprojection on the PostGIS path: pyproj's transform is not reached."""
    import geosvc.store.query as seam

    layer, _ = mixed
    monkeypatch.setattr(seam, "transform_geometries", lambda *a: pytest.fail("transformed in Python"))
    page = store.query(layer, FeatureQuery(limit=5, crs=EPSG + "2234"))
    assert len(page.rows) == 5 and store.feature(layer, page.rows[0].fid, crs=EPSG + "4269") is not None
