"""The service's input checks: CQL2 filters on hazard frames, caller-drawn zones (repaired or refused)."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely import box

from geosvc.cql2 import filter_frame
from geosvc.equity.zones import read_inline_zone
from geosvc.errors import InvalidParameter


@pytest.fixture
def hazards() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"DM": [0, 2, 3], "name": ["dry", "severe", "extreme"]},
                            geometry=[box(0, 0, 1, 1), box(5, 5, 6, 6), box(0, 0, 2, 2)], crs="OGC:CRS84")


@pytest.mark.parametrize(("expression", "lang", "expected"), [
    ("DM >= 2", "cql2-text", [2, 3]),
    ("DM >= 2 AND name LIKE 'ext%'", "cql2-text", [3]),
    ("DM IN (0, 3)", "cql2-text", [0, 3]),
    ("S_INTERSECTS(geometry, BBOX(4, 4, 7, 7))", "cql2-text", [2]),
    ("S_INTERSECTS(geometry, POLYGON((1.5 1.5, 1.9 1.5, 1.9 1.9, 1.5 1.5)))", "cql2-text", [3]),
    ({"op": "and", "args": [{"op": ">", "args": [{"property": "DM"}, 0]},
                            {"op": "<", "args": [{"property": "DM"}, 3]}]}, "cql2-json", [2]),
    # regressions: the equity copy read a JSON bbox as (x1, x2, y1, y2) and refused 6-number BBOX
    ({"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [4, 4, 7, 7]}]}, "cql2-json", [2]),
    ({"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [4, 4, 0, 7, 7, 10]}]}, "cql2-json", [2]),
    ("S_INTERSECTS(geometry, BBOX(4, 4, 0, 7, 7, 10))", "cql2-text", [2]),
])
def test_filters_select_the_right_features(hazards, expression, lang, expected):
    assert filter_frame(hazards, expression, lang).DM.tolist() == expected


@pytest.mark.parametrize(("expression", "words"), [
    ("XX >= 2", "unknown queryable 'XX'"),
    ("DM >=", "cannot parse"),
    ("name > 3", "cannot be applied"),
    ("nosuch(DM) > 1", "unsupported function 'nosuch'"),
    ("DM", "not a predicate|cannot parse"),
    ("(" * 200 + "DM > 1" + ")" * 200, "nested too deeply"),
    (" OR ".join(["DM = 1"] * 5000), "too long"),
])
def test_bad_filters_are_invalid_parameters(hazards, expression, words):
    with pytest.raises(InvalidParameter, match=words) as caught:
        filter_frame(hazards, expression, layer="drought")
    assert caught.value.param == "filter" and caught.value.layer in (None, "drought")


def test_hazard_filter_is_the_items_filter(hazards):
    """One CQL2 module: the hazard filter selects exactly what the OGC items filter selects."""
    from geosvc.cql2 import evaluate_filter, parse_filter
    from geosvc.crs import CRS84_URI

    for text, lang in [('{"op": "s_intersects", "args": [{"property": "geom"}, {"bbox": [0.5, 0.5, 5.5, 5.5]}]}',
                        "cql2-json"), ("S_INTERSECTS(geom, BBOX(1.5, 1.5, 0, 9, 9, 1)) AND DM > 0", "cql2-text")]:
        items = hazards[evaluate_filter(parse_filter(text, lang), hazards, CRS84_URI)]
        assert filter_frame(hazards, text, lang).index.tolist() == items.index.tolist() != []


def test_deeply_nested_cql2_json_is_refused(hazards):
    nested: dict = {"op": ">", "args": [{"property": "DM"}, 0]}
    for _ in range(500):
        nested = {"op": "not", "args": [nested]}
    with pytest.raises(InvalidParameter, match="nested too deeply"):
        filter_frame(hazards, nested, "cql2-json")


def test_zone_from_a_feature_collection_is_one_union():
    square = lambda x: {"type": "Polygon", "coordinates": [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]]}  # noqa: E731
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": square(x)}
                                                     for x in (0, 0.5, 3)]}
    zone, notes = read_inline_zone(fc)
    assert len(zone) == 1 and zone.iloc[0].area == pytest.approx(2.5) and notes == []
    assert zone.crs.to_string() == "OGC:CRS84"


@pytest.mark.parametrize(("geometry", "words"), [
    ({"type": "Point", "coordinates": [0, 0]}, "polygonal"),
    ({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [0, 0]}]}, "polygonal"),
    ({"type": "Polygon", "coordinates": []}, "empty"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [2, 0], [0, 0]]]}, "no polygon area left"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [1e300, 0], [1, 1e999], [0, 0]]]}, "non-finite"),
    ({"type": "Polygon", "coordinates": [[[0, 0], [500000, 0], [500000, 1], [0, 0]]]}, "lon/lat range"),
    ({"type": "Feature", "geometry": None}, "no geometry"),
    ({"coordinates": []}, "GeoJSON object"),
    ("POLYGON((0 0, 1 0, 1 1, 0 0))", "GeoJSON object"),
])
def test_unusable_zones_are_refused(geometry, words):
    with pytest.raises(InvalidParameter, match=words) as caught:
        read_inline_zone(geometry)
    assert caught.value.param == "hazard.geometry"


def test_projected_zone_is_reprojected_to_crs84():
    ring = [[700000, 4620000], [702000, 4620000], [702000, 4622000], [700000, 4622000], [700000, 4620000]]
    zone, _ = read_inline_zone({"type": "Polygon", "coordinates": [ring]}, "EPSG:26918")
    minx, miny, maxx, maxy = zone.total_bounds
    assert -73 < minx < maxx < -72 and 41 < miny < maxy < 42
    assert zone.to_crs("EPSG:26918").area.iloc[0] == pytest.approx(4e6, rel=1e-6)
