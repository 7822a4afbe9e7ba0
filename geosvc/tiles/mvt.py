"""Features (CRS84 WKB + properties) -> one Mapbox Vector Tile: projected, clipped, simplified, thinned.

Geometry work is vectorised with shapely; the protobuf encoding is mapbox-vector-tile's. In tile units
(:data:`~geosvc.tiles.grid.EXTENT` per side, y down):

* each geometry is clipped to the tile grown by :data:`~geosvc.tiles.grid.BUFFER` units;
* lines and polygons are simplified with a tolerance of :data:`SIMPLIFY_UNITS` (an eighth of a pixel of
  a 256 px tile, whatever the zoom: the tolerance is the tile's resolution);
* overview rule: a line or polygon whose clipped bounding box is smaller than :data:`MIN_SIZE_UNITS`
  (half a pixel) both ways is left out, and of points falling in the same half-pixel cell only the
  first is kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import mapbox_vector_tile
import numpy as np
import shapely

from geosvc.tiles.grid import BUFFER, EXTENT, RADIUS, TileAddress

PIXEL_UNITS = EXTENT / 256
MIN_SIZE_UNITS = PIXEL_UNITS / 2
SIMPLIFY_UNITS = PIXEL_UNITS / 8
MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
# Geometries arrive on the integer grid, valid and oriented (exterior rings of positive area in tile
# coordinates, as the MVT spec says): the encoder's per-vertex Python checks are not needed.
ENCODE_OPTIONS = {"extents": EXTENT, "y_coord_down": True, "quantize_bounds": None, "check_winding_order": False}


@dataclass(frozen=True)
class VectorTile:
    """An encoded tile and what went into it (``dropped``: candidates read but left out by the overview
    rule; ``truncated``: more features met the tile than it may hold, see :mod:`geosvc.tiles.build`)."""

    data: bytes
    features: int
    dropped: int
    truncated: bool = False

    @property
    def empty(self) -> bool:
        return self.features == 0


EMPTY = VectorTile(b"", 0, 0)


def to_tile_units(geometries: np.ndarray, address: TileAddress) -> np.ndarray:
    """CRS84 geometries -> this tile's MVT coordinates (EPSG:3857 scaled to ``EXTENT``, y down)."""
    minx, miny, maxx, maxy = address.mercator_bounds()
    scale = EXTENT / (maxx - minx)

    def project(coords: np.ndarray) -> np.ndarray:
        lon, lat = np.radians(coords[:, 0]), np.radians(np.clip(coords[:, 1], -85.0511287798, 85.0511287798))
        mx = RADIUS * lon
        my = RADIUS * np.log(np.tan(math.pi / 4 + lat / 2))
        return np.column_stack(((mx - minx) * scale, (maxy - my) * scale))

    return shapely.transform(geometries, project)


def encode(layer_name: str, wkbs: Sequence[bytes], properties: Sequence[dict], address: TileAddress,
           truncated: bool = False) -> VectorTile:
    """The tile of ``address`` holding these features (``wkbs`` CRS84, ``properties`` already selected)."""
    if not wkbs:
        return EMPTY
    geoms = to_tile_units(shapely.from_wkb(np.asarray(wkbs, dtype=object)), address)
    geoms = shapely.clip_by_rect(geoms, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    kinds = shapely.get_type_id(geoms)
    points = (kinds == 0) | (kinds == 4)
    bounds = shapely.bounds(geoms)
    size = np.fmax(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
    keep = ~shapely.is_empty(geoms) & (points | (size >= MIN_SIZE_UNITS))
    if points.any():
        keep &= _first_per_cell(bounds, points)
    geoms = np.where(points, geoms, shapely.simplify(geoms, SIMPLIFY_UNITS, preserve_topology=True))
    geoms = shapely.set_precision(geoms, 1.0)  # snapped to the tile's integer grid, kept valid by GEOS
    polygons = (kinds == 3) | (kinds == 6)
    geoms[polygons] = shapely.orient_polygons(geoms[polygons], exterior_cw=False)
    keep &= ~shapely.is_empty(geoms)
    chosen = np.flatnonzero(keep)
    features = [{"geometry": geoms[i], "properties": properties[i]} for i in chosen]
    data = mapbox_vector_tile.encode([{"name": layer_name, "features": features}], default_options=ENCODE_OPTIONS)
    return VectorTile(data=data, features=len(chosen), dropped=len(wkbs) - len(chosen), truncated=truncated)


def _first_per_cell(bounds: np.ndarray, points: np.ndarray) -> np.ndarray:
    """True for every non-point, and for the first point of each ``MIN_SIZE_UNITS`` cell."""
    cells = np.floor(np.nan_to_num(bounds[:, :2], nan=-1e9) / MIN_SIZE_UNITS).astype(np.int64)
    key = cells[:, 0] * 1_000_003 + cells[:, 1]
    key = np.where(points, key, np.iinfo(np.int64).min + np.arange(len(key)))  # non-points never collide
    _, first = np.unique(key, return_index=True)
    keep = np.zeros(len(key), dtype=bool)
    keep[first] = True
    return keep | ~points
