"""One vector tile of one published version, read through the store seam, with a small LRU of answers.

A backend that can build tiles itself (PostGIS: ``ST_AsMVT``) implements :class:`TileBuilder`; every
other store is read with ``store.query`` (bbox of the tile plus its buffer, WKB, lines and polygons
smaller than half a pixel left out by the store) and the tile is encoded here (:mod:`geosvc.tiles.mvt`).

The work per tile is bounded: a read returns at most :data:`MAX_FEATURES` + 1 rows; when a tile would
hold more, the smallest size kept is doubled and the tile read again (at most :data:`MAX_DOUBLINGS`
times), so dense layers thin out at low zoom ("drop the smallest as needed") instead of growing without
bound. Points are never dropped by size: past the cap a tile holds the first points in feature order.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import orjson

from geosvc.store.base import PublishedLayer, Store
from geosvc.store.query import FeatureQuery
from geosvc.tiles.grid import BUFFER, EXTENT, TileAddress
from geosvc.tiles.mvt import EMPTY, MIN_SIZE_UNITS, VectorTile, encode

CACHE_BYTES = 64 * 1024 * 1024
MAX_FEATURES = 10_000
MAX_DOUBLINGS = 6  # up to 32 px


@runtime_checkable
class TileBuilder(Protocol):
    """A store that encodes tiles itself, with the same clipping, simplification and overview rules."""

    def tile(self, layer: PublishedLayer, address: TileAddress, properties: Sequence[str],
             deadline: float | None = None) -> VectorTile:
        """The MVT of ``address`` (one layer named ``layer.id``) with only ``properties`` as attributes."""


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def build_tile(store: Store, layer: PublishedLayer, address: TileAddress, properties: Sequence[str],
               deadline: float | None = None) -> VectorTile:
    """The tile of ``address`` for a vector version; tiles outside the version's extent cost nothing."""
    bounds = address.lonlat_bounds(BUFFER / EXTENT)
    if not layer.feature_count or not _overlaps(bounds, layer.bbox):
        return EMPTY
    if isinstance(store, TileBuilder):
        return store.tile(layer, address, properties, deadline)
    points = "point" in (layer.geometry_type or "").lower()
    min_size = MIN_SIZE_UNITS
    for _ in range(MAX_DOUBLINGS + 1):
        query = FeatureQuery(bbox=bounds, limit=MAX_FEATURES + 1, count=False, wkb=True,
                             min_size=None if points else address.units_in_degrees(min_size))
        rows = store.query(layer, query, deadline).rows
        if len(rows) <= MAX_FEATURES or points:
            break
        min_size *= 2
    rows = rows[:MAX_FEATURES]
    if not rows:
        return EMPTY
    wanted = tuple(properties)
    props = []
    for row in rows:
        values = orjson.loads(row.props_json)
        props.append({name: values[name] for name in wanted if values.get(name) is not None})
    return encode(layer.id, [row.wkb for row in rows], props, address, min_size)


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
