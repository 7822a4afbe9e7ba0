"""One vector tile of one published version, built by its store, with a small LRU of answers.

Every store answers ``store.tile(layer, address, properties, deadline)``: PostGIS builds the tile in SQL
(``ST_AsMVT``); the embedded store reads it through ``store.query`` and encodes it here
(:func:`query_tile`, :mod:`geosvc.tiles.mvt`). Both follow one overview rule, so they give the same tile:

* candidates are the features meeting the tile plus its buffer; lines and polygons whose envelope is
  smaller than :data:`~geosvc.tiles.mvt.MIN_SIZE_UNITS` (half a pixel) both ways are left out;
* a tile holds at most :data:`MAX_FEATURES` features (tipg's default per-tile limit; pg_tileserv and
  Martin cap with a ``LIMIT`` too). Where more would show, lines and polygons are taken largest first
  (envelope size in tile units, then feature order) and points in feature order, so the subset is the
  same on every request and backend; such a tile is marked :attr:`~geosvc.tiles.mvt.VectorTile.truncated`
  (the route says so in a response header).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson

from geosvc.store.query import FeatureQuery
from geosvc.tiles.grid import BUFFER, EXTENT, TileAddress
from geosvc.tiles.mvt import EMPTY, MIN_SIZE_UNITS, VectorTile, encode

if TYPE_CHECKING:
    from geosvc.store.base import PublishedLayer, Store

CACHE_BYTES = 64 * 1024 * 1024
MAX_FEATURES = 10_000


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def is_point_layer(layer: PublishedLayer) -> bool:
    """Points are thinned per cell, never by size."""
    return "point" in (layer.geometry_type or "").lower()


def build_tile(store: Store, layer: PublishedLayer, address: TileAddress, properties: Sequence[str],
               deadline: float | None = None, max_features: int = MAX_FEATURES) -> VectorTile:
    """The tile of ``address`` for a vector version; tiles outside the version's extent cost nothing."""
    if not layer.feature_count or not _overlaps(address.lonlat_bounds(BUFFER / EXTENT), layer.bbox):
        return EMPTY
    return store.tile(layer, address, tuple(properties), deadline, max_features)


def tile_query(layer: PublishedLayer, address: TileAddress, max_features: int = MAX_FEATURES) -> FeatureQuery:
    """The candidates of a tile (one more than fit, to tell a truncated tile), in overview order."""
    points = is_point_layer(layer)
    return FeatureQuery(bbox=address.lonlat_bounds(BUFFER / EXTENT), limit=max_features + 1, count=False, wkb=True,
                        min_size=None if points else address.units_in_degrees(MIN_SIZE_UNITS),
                        largest_first=None if points else address.units_in_degrees(1))


def query_tile(store: Store, layer: PublishedLayer, address: TileAddress, properties: Sequence[str],
               deadline: float | None = None, max_features: int = MAX_FEATURES) -> VectorTile:
    """The tile read through ``store.query`` and encoded in Python (stores that do not build tiles)."""
    rows = store.query(layer, tile_query(layer, address, max_features), deadline).rows
    truncated = len(rows) > max_features
    rows = rows[:max_features]
    if not rows:
        return EMPTY
    wanted = tuple(properties)
    props = []
    for row in rows:
        values = orjson.loads(row.props_json)
        props.append({name: values[name] for name in wanted if values.get(name) is not None})
    return encode(layer.id, [row.wkb for row in rows], props, address, truncated=truncated)


class TileCache:
    """Least-recently-used encoded tiles, bounded in bytes; keys name the layer version."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[tuple, VectorTile] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> VectorTile | None:
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
            return tile

    def put(self, key: tuple, tile: VectorTile) -> None:
        if len(tile.data) > self.max_bytes // 8:
            return
        with self._lock:
            if key in self._tiles:
                return
            self._tiles[key] = tile
            self._bytes += len(tile.data)
            while self._bytes > self.max_bytes:
                _, old = self._tiles.popitem(last=False)
                self._bytes -= len(old.data)
