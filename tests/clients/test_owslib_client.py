"""OWSLib's OGC API Features client against a live server: collections, items (bbox, crs, CQL2), queryables."""

from __future__ import annotations

import pytest
from liveserver import VECTOR_IDS, expected_ids, inner_bbox
from owslib.ogcapi.features import Features

pytestmark = pytest.mark.clients

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
JSON_TYPES = {"string": "string", "date": "string", "datetime": "string", "integer": "integer",
              "number": "number", "boolean": "boolean"}


@pytest.fixture(scope="module")
def api(live_server) -> Features:
    return Features(live_server.ogc_url, timeout=60)


def _ids(page: dict) -> list[str]:
    return sorted(str(f["id"]) for f in page["features"])


def _first_position(geometry: dict) -> list[float]:
    coords = geometry["coordinates"]
    while isinstance(coords[0], list):
        coords = coords[0]
    return coords


def test_collections_list_every_published_vector_layer(api, live_server):
    listed = {c["id"]: c for c in api.collections()["collections"]}
    for layer_id in VECTOR_IDS:
        layer = live_server.layer(layer_id)
        assert layer_id in listed
        assert listed[layer_id]["title"] == layer.record.title
        assert listed[layer_id]["extent"]["spatial"]["bbox"][0] == pytest.approx(layer.bbox, abs=1e-6)


@pytest.mark.parametrize("layer_id", VECTOR_IDS)
def test_items_bbox(api, live_server, layer_id):
    bbox = inner_bbox(live_server.layer(layer_id).bbox)
    page = api.collection_items(layer_id, bbox=list(bbox), limit=10000)
    expected = live_server.ids_in_bbox(layer_id, bbox)
    assert _ids(page) == expected
    assert page["numberMatched"] == len(expected)


@pytest.mark.parametrize("layer_id", VECTOR_IDS)
def test_items_crs_epsg4326_is_lat_lon(api, layer_id):
    lonlat = api.collection_items(layer_id, limit=1, crs=CRS84)["features"][0]
    latlon = api.collection_items(layer_id, limit=1, crs=EPSG4326)["features"][0]
    assert lonlat["id"] == latlon["id"]
    x, y = _first_position(lonlat["geometry"])[:2]
    assert _first_position(latlon["geometry"])[:2] == pytest.approx([y, x], abs=1e-9)


def _cql2_case(layer, frame) -> tuple[str, list[bool]]:
    """A CQL2 text filter on a real field of the layer and which rows it selects: greater than the median
    of the first numeric field, else equal to the first feature's value of the first text field."""
    numeric = [n for n, kind in layer.fields.items() if kind in ("integer", "number")]
    field = numeric[0] if numeric else next(n for n, kind in layer.fields.items() if kind == "string")
    name = field if field.isidentifier() else f'"{field}"'  # CQL2 text quotes other identifiers
    if numeric:
        threshold = float(frame[field].median())
        return f"{name} > {threshold}", list(frame[field] > threshold)
    value = str(frame[field].iloc[0])
    return f"{name} = '{value}'", list(frame[field] == value)


@pytest.mark.parametrize("layer_id", VECTOR_IDS)
def test_items_cql2_filter(api, live_server, layer_id):
    layer = live_server.layer(layer_id)
    frame = live_server.store.read_features(live_server.store.get(layer_id))
    cql, selected = _cql2_case(layer, frame)
    page = api.collection_items(layer_id, filter=cql, **{"filter-lang": "cql2-text"}, limit=10000)
    expected = sorted(i for i, keep in zip(expected_ids(frame, layer), selected) if keep)
    assert expected, "the filter must select some features"
    assert len(expected) < len(frame), "the filter must drop some features"
    assert _ids(page) == expected, cql


@pytest.mark.parametrize("layer_id", VECTOR_IDS)
def test_queryables_list_real_fields_and_types(api, live_server, layer_id):
    layer = live_server.layer(layer_id)
    properties = api.collection_queryables(layer_id)["properties"]
    for name, kind in layer.fields.items():
        assert name in properties, f"queryable '{name}' missing"
        assert properties[name]["type"] == JSON_TYPES[kind], name
