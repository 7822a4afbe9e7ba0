"""The pure tile encoder: projection to tile units, the overview rule, clipping of points."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from geosvc.tiles.grid import EXTENT, TileAddress
from geosvc.tiles.mvt import encode, to_tile_units


def test_tile_corners_map_to_tile_units():
    address = TileAddress.parse("3", "2", "1")
    west, south, east, north = address.lonlat_bounds()
    corners = to_tile_units(np.array([shapely.Point(west, north), shapely.Point(east, south)]), address)
    assert shapely.get_coordinates(corners) == pytest.approx(np.array([[0, 0], [EXTENT, EXTENT]]), abs=1e-6)


def test_points_in_one_half_pixel_cell_are_thinned_to_the_first():
    address = TileAddress(10, 300, 380)
    west, south, east, north = address.lonlat_bounds()
    rng = np.random.default_rng(7)
    span = (east - west) / 512 / 4  # well inside one half-pixel cell
    crowd = [shapely.Point(west + 0.3 * (east - west) + d, south + 0.3 * (north - south))
             for d in rng.uniform(0, span, 50)]
    apart = [shapely.Point(west + f * (east - west), south + f * (north - south)) for f in (0.6, 0.7, 0.8)]
    wkbs = [shapely.to_wkb(p) for p in [*crowd, *apart]]
    tile = encode("pts", wkbs, [{"n": i} for i in range(len(wkbs))], address)
    assert (tile.features, tile.dropped) == (4, 49)
    kept = sorted(f["properties"]["n"] for f in mapbox_vector_tile.decode(tile.data)["pts"]["features"])
    assert kept == [0, 50, 51, 52]


def test_points_outside_the_buffered_tile_are_left_out():
    address = TileAddress(10, 300, 380)
    west, south, east, north = address.lonlat_bounds()
    inside, far = shapely.Point((west + east) / 2, (south + north) / 2), shapely.Point(east + (east - west), north)
    tile = encode("pts", [shapely.to_wkb(inside), shapely.to_wkb(far)], [{}, {}], address)
    assert tile.features == 1
