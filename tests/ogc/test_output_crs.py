"""The ``crs`` of items is applied by the store (PostGIS: ``ST_Transform`` in SQL; embedded: pyproj once in
its reader): the JSON fast path and pygeoapi's provider path (HTML pages, JSON-LD items) serve the
store's coordinates, equal to pyproj's transform of the published CRS84 features within 1e-9."""

from __future__ import annotations

import json

import numpy as np
import pyproj
import pytest
import shapely

T = "/ogc/collections/ct-tracts-2010/items"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CODES = ["4326", "4269", "3857", "6434", "2234"]


@pytest.fixture(scope="module")
def tracts(store):
    return store.read_features(store.get("ct-tracts-2010")).set_index("GEOID10")


def expected(geom: shapely.Geometry, code: str) -> np.ndarray:
    t = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{code}")  # authority axis order (4326: lat, lon)
    return shapely.get_coordinates(shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))))


def coordinates(feature: dict) -> np.ndarray:
    return shapely.get_coordinates(shapely.geometry.shape(feature["geometry"]))


def html_features(text: str) -> list[dict]:
    """The features pygeoapi's HTML page embeds for its map (``data = [...]``)."""
    start = text.index("data = [") + len("data = ")
    found, _ = json.JSONDecoder().raw_decode(text[start:])
    return found if isinstance(found, list) else [found]


@pytest.mark.parametrize("code", CODES)
def test_items_page_in_each_crs_on_the_fast_path_and_the_provider_path(client, tracts, code):
    params = {"limit": "12", "offset": "30", "crs": EPSG + code, "bbox": "-73.0,41.2,-72.5,41.6"}
    fast = client.get(T, params=params)
    assert fast.status_code == 200 and fast.headers["content-crs"] == f"<{EPSG}{code}>"
    features = fast.json()["features"]
    assert len(features) == 12
    for feature in features:
        got = coordinates(feature)
        assert np.abs(got - expected(tracts.geometry[feature["id"]], code)).max() <= 1e-9
    page = client.get(T, params={**params, "f": "html"})
    assert page.status_code == 200
    shown = html_features(page.text)
    assert [f["id"] for f in shown] == [f["id"] for f in features]
    for ours, theirs in zip(features, shown, strict=True):
        assert np.array_equal(coordinates(ours), coordinates(theirs))


@pytest.mark.parametrize("code", ["4269", "2234"])
def test_single_item_in_a_crs_on_both_paths(client, tracts, code):
    fast = client.get(f"{T}/09001010101", params={"crs": EPSG + code}).json()
    assert np.abs(coordinates(fast) - expected(tracts.geometry["09001010101"], code)).max() <= 1e-9
    linked = client.get(f"{T}/09001010101", params={"crs": EPSG + code, "f": "jsonld"})  # pygeoapi's provider
    assert linked.status_code == 200
    assert np.array_equal(coordinates(linked.json()), coordinates(fast))
