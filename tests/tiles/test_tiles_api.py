"""OGC API Tiles over the published sample catalog: MVT content, clipping, attributes, caching, errors."""

from __future__ import annotations

from urllib.parse import urlsplit

import mapbox_vector_tile
import numpy as np
import morecantile
import pytest
import shapely
from shapely.geometry import shape

from geosvc.tiles.grid import BUFFER, EXTENT

TOWNS = "ct-towns"
HARTFORD = (-72.6851, 41.7637)  # downtown Hartford
TMS = morecantile.tms.get("WebMercatorQuad")


def tile_url(z: int, x: int, y: int, layer: str = TOWNS, query: str = "") -> str:
    return f"/ogc/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}{query}"


def tile_at(lon: float, lat: float, z: int) -> morecantile.Tile:
    return TMS.tile(lon, lat, z)


def in_tile_units(lon: float, lat: float, tile: morecantile.Tile) -> tuple[float, float]:
    """The point in the tile's MVT coordinates, y up (as mapbox_vector_tile.decode returns them)."""
    x, y = TMS.xy(lon, lat)
    b = TMS.xy_bounds(tile)
    return (x - b.left) / (b.right - b.left) * EXTENT, (y - b.bottom) / (b.top - b.bottom) * EXTENT


def decode(content: bytes, layer: str = TOWNS) -> list[dict]:
    return mapbox_vector_tile.decode(content)[layer]["features"]


def expected_town(store, lon: float, lat: float) -> str:
    frame = store.read_features(store.get(TOWNS))
    return frame[frame.intersects(shapely.Point(lon, lat))]["NAME"].item()


def test_feature_at_known_point_has_the_right_name(client, store):
    tile = tile_at(*HARTFORD, 12)
    response = client.get(tile_url(12, tile.x, tile.y))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    point = shapely.Point(in_tile_units(*HARTFORD, tile))
    hits = [f["properties"]["NAME"] for f in decode(response.content) if shape(f["geometry"]).contains(point)]
    assert hits == [expected_town(store, *HARTFORD)] == ["Hartford"]


def test_geometries_are_clipped_to_the_tile_and_its_buffer(client):
    tile = tile_at(*HARTFORD, 14)
    features = decode(client.get(tile_url(14, tile.x, tile.y)).content)
    assert features
    for feature in features:
        minx, miny, maxx, maxy = shape(feature["geometry"]).bounds
        assert -BUFFER <= minx and maxx <= EXTENT + BUFFER and -BUFFER <= miny and maxy <= EXTENT + BUFFER
    # Hartford is larger than a z14 tile: its polygon is cut to (about) the buffered square
    hartford = next(f for f in features if f["properties"]["NAME"] == "Hartford")
    assert shape(hartford["geometry"]).area > (EXTENT * 0.2) ** 2


def test_properties_selects_the_attributes(client, store):
    tile = tile_at(*HARTFORD, 12)
    every = decode(client.get(tile_url(12, tile.x, tile.y)).content)
    assert set(every[0]["properties"]) == set(store.get(TOWNS).fields)
    chosen = decode(client.get(tile_url(12, tile.x, tile.y, query="?properties=NAME,GEOID")).content)
    assert {frozenset(f["properties"]) for f in chosen} == {frozenset({"NAME", "GEOID"})}
    assert sorted(f["properties"]["NAME"] for f in chosen) == sorted(f["properties"]["NAME"] for f in every)


def test_unknown_property_is_a_400_naming_it(client):
    tile = tile_at(*HARTFORD, 12)
    response = client.get(tile_url(12, tile.x, tile.y, query="?properties=NAME,POPULATION"))
    assert response.status_code == 400
    assert "POPULATION" in response.json()["description"]


def test_etag_per_version_tile_and_attributes_and_304(client, store):
    tile = tile_at(*HARTFORD, 12)
    first = client.get(tile_url(12, tile.x, tile.y))
    etag = first.headers["etag"]
    assert etag.startswith(f'"{store.get(TOWNS).etag[1:-1]}-z12-{tile.y}-{tile.x}')
    assert client.get(tile_url(12, tile.x + 1, tile.y)).headers["etag"] != etag
    assert client.get(tile_url(12, tile.x, tile.y, query="?properties=NAME")).headers["etag"] != etag
    again = client.get(tile_url(12, tile.x, tile.y), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = client.get(tile_url(12, tile.x, tile.y), headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


def test_empty_tiles_are_204_and_read_nothing(client, store, monkeypatch):
    calls = []
    original = type(store).tile
    monkeypatch.setattr(type(store), "tile", lambda self, *a, **k: calls.append(a) or original(self, *a, **k))
    pacific = tile_at(-150.0, 0.0, 12)
    response = client.get(tile_url(12, pacific.x, pacific.y))
    assert response.status_code == 204 and response.content == b"" and response.headers["etag"]
    assert calls == []  # outside the version's extent: the store is not asked
    # inside the extent's box but in Long Island Sound: asked, nothing found, still 204
    sound = tile_at(-72.9, 41.05, 14)
    assert client.get(tile_url(14, sound.x, sound.y)).status_code == 204
    assert len(calls) == 1


def test_overview_leaves_out_subpixel_polygons(client):
    # at z0 every town is far smaller than half a pixel: nothing to draw
    assert client.get(tile_url(0, 0, 0)).status_code == 204
    tile = tile_at(*HARTFORD, 8)
    assert len(decode(client.get(tile_url(8, tile.x, tile.y)).content)) > 50


@pytest.mark.parametrize("z, y, x, param", [(25, 0, 0, "tileMatrix"), (2, 4, 0, "tileRow"), (2, 0, 4, "tileCol"),
                                            ("a", 0, 0, "tileMatrix"), (3, -1, 0, "tileRow"), ("\u00b2", 0, 0, "tileMatrix")])
def test_bad_tile_address_is_a_400(client, z, y, x, param):
    response = client.get(f"/ogc/collections/{TOWNS}/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert response.status_code == 400
    assert f"'{param}'" in response.json()["description"]


@pytest.mark.parametrize("path", [
    "/ogc/collections/no-such-layer/tiles",
    "/ogc/collections/no-such-layer/tiles/WebMercatorQuad/0/0/0",
    "/ogc/collections/ct-population-density/tiles",  # a raster: no vector tiles
    "/ogc/collections/ct-towns/tiles/WorldCRS84Quad",
    "/ogc/collections/ct-towns/tiles/WorldCRS84Quad/0/0/0",
    "/ogc/tileMatrixSets/WorldCRS84Quad",
])
def test_unknown_collection_or_tileset_is_a_404(client, path):
    assert client.get(path).status_code == 404


def test_unknown_query_parameter_is_a_400(client):
    assert client.get(tile_url(0, 0, 0, query="?limit=10")).status_code == 400
    assert client.get(f"/ogc/collections/{TOWNS}/tiles?bbox=1,2,3,4").status_code == 400


def test_tileset_metadata_and_tile_matrix_set(client, store):
    layer = store.get(TOWNS)
    meta = client.get(f"/ogc/collections/{TOWNS}/tiles/WebMercatorQuad").json()
    assert meta["dataType"] == "vector" and meta["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    assert meta["tiles"] == [f"{client.app.state.settings.base_url}/ogc/collections/{TOWNS}"
                             f"/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"]
    assert meta["vector_layers"][0]["id"] == TOWNS and set(meta["vector_layers"][0]["fields"]) == set(layer.fields)
    assert meta["bounds"] == pytest.approx(list(layer.bbox))
    assert "left out" in meta["description"]
    listing = client.get(f"/ogc/collections/{TOWNS}/tiles").json()
    assert [t["dataType"] for t in listing["tilesets"]] == ["vector"]
    tms = client.get("/ogc/tileMatrixSets/WebMercatorQuad").json()
    assert tms["id"] == "WebMercatorQuad" and len(tms["tileMatrices"]) == 25
    assert tms["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    assert client.get("/ogc/TileMatrixSets").json()["tileMatrixSets"][0]["id"] == "WebMercatorQuad"


def test_collections_conformance_and_landing_page_declare_tiles(client):
    collection = client.get(f"/ogc/collections/{TOWNS}?f=json").json()
    rels = {link["rel"]: link["href"] for link in collection["links"]}
    assert rels["http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"].endswith(f"/collections/{TOWNS}/tiles")
    raster = client.get("/ogc/collections/ct-population-density?f=json").json()
    assert not any("tilesets-vector" in link["rel"] for link in raster["links"])
    conformance = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conformance
    landing = client.get("/ogc?f=json").json()
    schemes = [link["href"] for link in landing["links"] if link["rel"].endswith("/tiling-schemes")]
    assert schemes
    served = client.get(urlsplit(schemes[0]).path).json()
    assert [t["id"] for t in served["tileMatrixSets"]] == ["WebMercatorQuad"]


def test_dense_tiles_keep_the_largest_features_up_to_the_cap(store):
    from geosvc.tiles.build import build_tile
    from geosvc.tiles.grid import TileAddress

    layer = store.get(TOWNS)
    tile = tile_at(*HARTFORD, 8)
    address = TileAddress(8, tile.x, tile.y)
    full = build_tile(store, layer, address, ["NAME"])
    capped = build_tile(store, layer, address, ["NAME"], max_features=40)
    assert not full.truncated and capped.truncated and full.features > 40 >= capped.features > 30
    assert build_tile(store, layer, address, ["NAME"], max_features=40).data == capped.data  # deterministic
    frame = store.read_features(layer).set_index("NAME")
    bounds = frame.geometry.bounds
    ux, uy = address.units_in_degrees(1)
    size = np.fmax((bounds.maxx - bounds.minx) / ux, (bounds.maxy - bounds.miny) / uy)
    shown = {f["properties"]["NAME"] for f in decode(full.data)}
    kept = {f["properties"]["NAME"] for f in decode(capped.data)}
    assert kept < shown
    # the kept towns are the largest of those the tile shows: none left out is larger than one kept
    assert size[sorted(shown - kept)].max() <= size[sorted(kept)].min()
