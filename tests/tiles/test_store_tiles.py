"""Tiles built by the store (``store.tile``) on a dense generated parcel layer, on the backend under test
(PostGIS: ``ST_AsMVT``), and compared with the Python encoder over the same store."""

from __future__ import annotations

import datetime as dt
import time

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely
from shapely.geometry import shape
from support.postgis import postgis_only, store_settings

from geosvc.records.models import LayerRecord
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer
from geosvc.tiles.build import MAX_FEATURES, build_tile, query_tile
from geosvc.tiles.grid import BUFFER, EXTENT, TileAddress
from geosvc.validate.findings import LayerReport

SEED = 20261202
PARCELS = "dense-parcels"
ORIGIN = (-72.95, 41.45)  # south-west corner of the grid, inside one z8 tile
CELL = (0.004, 0.003)  # degrees: ~330 m squares, above half a pixel at z8, so the cap is what limits
SHAPE = (100, 115)  # rows, columns: 11,500 parcels > MAX_FEATURES
TMS = morecantile.tms.get("WebMercatorQuad")
PROPERTIES = ("use", "lots", "value", "vacant", "surveyed")


def parcels() -> gpd.GeoDataFrame:
    """A jittered grid of quadrilaterals sharing corners (like a cadastre), seeded, with typed fields."""
    rng = np.random.default_rng(SEED)
    rows, cols = SHAPE
    gx, gy = np.meshgrid(ORIGIN[0] + np.arange(cols + 1) * CELL[0], ORIGIN[1] + np.arange(rows + 1) * CELL[1])
    gx = gx + rng.uniform(-0.25, 0.25, gx.shape) * CELL[0]
    gy = gy + rng.uniform(-0.25, 0.25, gy.shape) * CELL[1]
    corners = [(gx[:-1, :-1], gy[:-1, :-1]), (gx[:-1, 1:], gy[:-1, 1:]), (gx[1:, 1:], gy[1:, 1:]),
               (gx[1:, :-1], gy[1:, :-1]), (gx[:-1, :-1], gy[:-1, :-1])]
    ring = np.stack([np.stack([x.ravel(), y.ravel()], axis=-1) for x, y in corners], axis=1)
    n = rows * cols
    return gpd.GeoDataFrame({
        "pid": [f"P{i:05d}" for i in range(n)],
        "use": rng.choice(["residential", "commercial", "open space"], n),
        "lots": rng.integers(1, 9, n),
        "value": np.round(rng.gamma(2.0, 150_000.0, n), 2),
        "vacant": rng.random(n) < 0.1,
        "surveyed": [dt.date(2000, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 9000, n)],
    }, geometry=shapely.polygons(ring), crs="OGC:CRS84")


@pytest.fixture(scope="module")
def dense_store(tmp_path_factory):
    settings = store_settings(store_dir=tmp_path_factory.mktemp("dense-tiles"))
    store = open_store(settings)
    frame = parcels()
    record = LayerRecord(id=PARCELS, title="Generated parcels", theme="testing", update_cadence="static",
                         source={"path": "parcels.gpkg"}, id_field="pid")
    layer = publish_layer(record, LayerReport(layer=PARCELS, data=frame), store, settings)
    return settings, store, layer, frame


@pytest.fixture(scope="module")
def dense(dense_store):
    return dense_store[1:]


def address_at(lon: float, lat: float, z: int) -> TileAddress:
    tile = TMS.tile(lon, lat, z)
    return TileAddress(z, tile.x, tile.y)


def features(data: bytes) -> list[dict]:
    return mapbox_vector_tile.decode(data)[PARCELS]["features"]


def in_tile_units(lon: float, lat: float, address: TileAddress) -> shapely.Point:
    x, y = TMS.xy(lon, lat)
    b = TMS.xy_bounds(morecantile.Tile(address.x, address.y, address.z))
    return shapely.Point((x - b.left) / (b.right - b.left) * EXTENT, (y - b.bottom) / (b.top - b.bottom) * EXTENT)


def test_dense_z8_tile_is_full_bounded_and_marked(dense):
    store, layer, frame = dense
    middle = (ORIGIN[0] + SHAPE[1] * CELL[0] / 2, ORIGIN[1] + SHAPE[0] * CELL[1] / 2)
    address = address_at(*middle, 8)
    assert frame.total_bounds[0] >= TMS.bounds(morecantile.Tile(address.x, address.y, 8)).left  # one z8 tile
    started = time.monotonic()
    tile = build_tile(store, layer, address, PROPERTIES)
    elapsed = time.monotonic() - started
    assert tile.truncated and MAX_FEATURES * 0.95 <= tile.features <= MAX_FEATURES
    assert len(tile.data) < 4_000_000 and elapsed < 20
    decoded = features(tile.data)
    assert len(decoded) == tile.features
    assert {f["properties"]["use"] for f in decoded} == {"residential", "commercial", "open space"}
    assert build_tile(store, layer, address, PROPERTIES).data == tile.data  # the same subset every time
    # the subset is the largest parcels (by envelope in tile units): no parcel left out beats one kept
    ux, uy = address.units_in_degrees(1)
    bounds = frame.geometry.bounds
    size = np.fmax((bounds.maxx - bounds.minx) / ux, (bounds.maxy - bounds.miny) / uy).to_numpy()
    threshold = np.sort(size)[::-1][MAX_FEATURES - 1]
    assert (size > threshold).sum() < MAX_FEATURES
    shown = [shape(f["geometry"]) for f in decoded]
    smallest_shown = min(max(g.bounds[2] - g.bounds[0], g.bounds[3] - g.bounds[1]) for g in shown)
    assert smallest_shown >= threshold - 2  # snapped to the integer grid: within a unit or two


def test_uncapped_tile_holds_every_parcel_it_meets(dense):
    store, layer, frame = dense
    address = address_at(ORIGIN[0] + 0.1, ORIGIN[1] + 0.1, 12)
    tile = build_tile(store, layer, address, ("pid",))
    box = shapely.box(*address.lonlat_bounds())
    inside = set(frame.loc[frame.within(box), "pid"])
    got = {f["properties"]["pid"] for f in features(tile.data)}
    assert not tile.truncated and inside <= got and len(got) < len(frame)


def test_tile_attributes_are_the_chosen_fields_typed_as_published(dense):
    store, layer, frame = dense
    lon, lat = ORIGIN[0] + 0.2013, ORIGIN[1] + 0.1507
    address = address_at(lon, lat, 14)
    tile = build_tile(store, layer, address, PROPERTIES)
    point = in_tile_units(lon, lat, address)
    hits = [f["properties"] for f in features(tile.data) if shape(f["geometry"]).contains(point)]
    row = frame[frame.contains(shapely.Point(lon, lat))].iloc[0]
    assert hits == [{"use": row["use"], "lots": int(row["lots"]), "value": pytest.approx(float(row["value"])),
                     "vacant": bool(row["vacant"]), "surveyed": row["surveyed"].isoformat()}]
    assert isinstance(hits[0]["lots"], int) and isinstance(hits[0]["vacant"], bool)
    none = build_tile(store, layer, address, ())
    assert none.features == tile.features and all(f["properties"] == {} for f in features(none.data))


@postgis_only
@pytest.mark.parametrize("z, offset", [(8, (0.23, 0.15)), (12, (0.1, 0.1)), (15, (0.2013, 0.1507))])
def test_database_tile_matches_the_python_encoder(dense, z, offset):
    """ST_AsMVT and the Python encoder over the same store: same layer, extent, features and attributes."""
    store, layer, frame = dense
    lon, lat = ORIGIN[0] + offset[0], ORIGIN[1] + offset[1]
    address = address_at(lon, lat, z)
    cap = 1500  # z8 holds more: both keep the same largest 1,500
    database = store.tile(layer, address, PROPERTIES + ("pid",), max_features=cap)
    python = query_tile(store, layer, address, PROPERTIES + ("pid",), max_features=cap)
    db_layer = mapbox_vector_tile.decode(database.data)[PARCELS]
    py_layer = mapbox_vector_tile.decode(python.data)[PARCELS]
    assert db_layer["extent"] == py_layer["extent"] == EXTENT
    assert database.truncated == python.truncated == (z == 8)
    by_pid = {f["properties"]["pid"]: f for f in py_layer["features"]}
    db_pids = {f["properties"]["pid"] for f in db_layer["features"]}
    assert len(db_pids ^ set(by_pid)) <= 0.005 * len(by_pid)  # at most a few collapse differently when snapped
    for feature in db_layer["features"]:
        if feature["properties"]["pid"] in by_pid:
            assert feature["properties"] == by_pid[feature["properties"]["pid"]]["properties"]
    # a known point: inside a parcel the Python tile holds (the largest); both tiles show it there
    parcel = frame.set_index("pid").geometry[py_layer["features"][0]["properties"]["pid"]]
    inside = parcel.intersection(shapely.box(*address.lonlat_bounds()))
    point = in_tile_units(*inside.representative_point().coords[0], address)
    at = [[f["properties"]["pid"] for f in tile["features"] if shape(f["geometry"]).buffer(1).contains(point)]
          for tile in (db_layer, py_layer)]
    assert at[0] and set(at[0]) == set(at[1])


@pytest.fixture(scope="module")
def dense_points(dense, tmp_path_factory):
    store, _, _ = dense
    rng = np.random.default_rng(SEED + 1)
    n = 3000
    frame = gpd.GeoDataFrame({"pid": [f"Q{i:04d}" for i in range(n)], "kind": rng.choice(["a", "b"], n)},
                             geometry=shapely.points(rng.normal(-72.7, 0.01, n), rng.normal(41.7, 0.008, n)),
                             crs="OGC:CRS84")
    record = LayerRecord(id="dense-points", title="Generated points", theme="testing", update_cadence="static",
                         source={"path": "points.gpkg"}, id_field="pid")
    settings = store_settings(store_dir=tmp_path_factory.mktemp("dense-points"))
    store = open_store(settings)
    return store, publish_layer(record, LayerReport(layer="dense-points", data=frame), store, settings), frame


def test_points_keep_the_first_of_each_half_pixel_cell(dense_points):
    store, layer, frame = dense_points
    address = address_at(-72.7, 41.7, 12)
    tile = build_tile(store, layer, address, ("pid",))
    shown = mapbox_vector_tile.decode(tile.data)["dense-points"]["features"]
    assert 100 < len(shown) == tile.features < 3000 and tile.dropped > 0 and not tile.truncated
    cells = [(int(f["geometry"]["coordinates"][0] // 8), int(f["geometry"]["coordinates"][1] // 8)) for f in shown]
    assert len(set(cells)) >= 0.95 * len(cells)  # one point per cell (cells of the unsnapped position)
    order = [f["properties"]["pid"] for f in shown]
    assert order == sorted(order)  # kept in feature order
    # capped: the first 50 candidates (points meeting the buffered tile) in feature order, then thinned
    buffered = shapely.box(*address.lonlat_bounds(BUFFER / EXTENT))
    first = set(frame.loc[frame.intersects(buffered), "pid"].sort_values()[:50])
    capped = build_tile(store, layer, address, ("pid",), max_features=50)
    assert capped.truncated
    assert [f["properties"]["pid"] for f in features_of(capped.data, "dense-points")] == [p for p in order if p in first]


@postgis_only
def test_database_point_tile_matches_the_python_encoder(dense_points):
    store, layer, _ = dense_points
    address = address_at(-72.7, 41.7, 12)
    database, python = store.tile(layer, address, ("pid", "kind")), query_tile(store, layer, address, ("pid", "kind"))
    assert features_of(database.data, "dense-points") == features_of(python.data, "dense-points")


def features_of(data: bytes, name: str) -> list[dict]:
    return mapbox_vector_tile.decode(data)[name]["features"]


def test_tiles_route_marks_a_truncated_tile(dense_store):
    from fastapi.testclient import TestClient

    from geosvc.api.app import create_app

    settings, store, _, _ = dense_store
    z8 = address_at(ORIGIN[0] + 0.23, ORIGIN[1] + 0.15, 8)
    z12 = address_at(ORIGIN[0] + 0.1, ORIGIN[1] + 0.1, 12)
    with TestClient(create_app(settings, store=store)) as client:
        base = f"/ogc/collections/{PARCELS}/tiles/WebMercatorQuad"
        full = client.get(f"{base}/8/{z8.y}/{z8.x}?properties=use")
        assert full.status_code == 200 and full.headers["geosvc-tile-truncated"] == str(MAX_FEATURES)
        again = client.get(f"{base}/8/{z8.y}/{z8.x}?properties=use", headers={"If-None-Match": full.headers["etag"]})
        assert again.status_code == 304
        some = client.get(f"{base}/12/{z12.y}/{z12.x}?properties=use")
        assert some.status_code == 200 and "geosvc-tile-truncated" not in some.headers
