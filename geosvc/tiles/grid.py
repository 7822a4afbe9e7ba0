"""The WebMercatorQuad tile matrix set (OGC 17-083r4, via morecantile): tile addresses and their bounds."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import morecantile

from geosvc.errors import InvalidParameter

TMS_ID = "WebMercatorQuad"
MAX_ZOOM = 24
EXTENT = 4096  # MVT coordinate units per tile side
RADIUS = 6378137.0  # of the EPSG:3857 sphere, metres
BUFFER = 64  # units of the tile kept around it, so that strokes and labels join across tiles


@functools.cache
def web_mercator_quad() -> morecantile.TileMatrixSet:
    """The WebMercatorQuad definition (EPSG:3857, 256 px tiles, zoom 0-24)."""
    return morecantile.tms.get(TMS_ID)


def tile_matrix_set_document() -> dict[str, Any]:
    """The OGC TileMatrixSet 2.0 JSON of WebMercatorQuad."""
    return web_mercator_quad().model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True)
class TileAddress:
    """One tile: zoom, column (x) and row (y, from the top)."""

    z: int
    x: int
    y: int

    @classmethod
    def parse(cls, z: str, y: str, x: str) -> TileAddress:
        """Validate a ``{z}/{y}/{x}`` address of WebMercatorQuad; :class:`InvalidParameter` names the bad part."""
        values = {}
        for name, text in (("tileMatrix", z), ("tileRow", y), ("tileCol", x)):
            if not (text.isascii() and text.isdigit()):
                raise InvalidParameter(f"'{text}' is not a non-negative integer", param=name)
            values[name] = int(text)
        zoom = values["tileMatrix"]
        if zoom > MAX_ZOOM:
            raise InvalidParameter(f"tile matrix {zoom} is beyond {TMS_ID} (0-{MAX_ZOOM})", param="tileMatrix")
        size = 1 << zoom
        for name in ("tileRow", "tileCol"):
            if values[name] >= size:
                raise InvalidParameter(f"{values[name]} is outside tile matrix {zoom} (0-{size - 1})", param=name)
        return cls(zoom, values["tileCol"], values["tileRow"])

    def mercator_bounds(self) -> tuple[float, float, float, float]:
        """EPSG:3857 bounds ``(minx, miny, maxx, maxy)``."""
        return tuple(web_mercator_quad().xy_bounds(self.x, self.y, self.z))

    def lonlat_bounds(self, buffer: float = 0.0) -> tuple[float, float, float, float]:
        """CRS84 bounds, grown by ``buffer`` tile widths on each side (clamped to the grid's latitudes)."""
        minx, miny, maxx, maxy = self.mercator_bounds()
        pad = (maxx - minx) * buffer
        west, south = mercator_to_lonlat(minx - pad, miny - pad)
        east, north = mercator_to_lonlat(maxx + pad, maxy + pad)
        return (max(west, -180.0), max(south, -90.0), min(east, 180.0), min(north, 90.0))


    def units_in_degrees(self, units: float) -> tuple[float, float]:
        """``units`` of this tile's MVT grid as (longitude, latitude) degrees, at the tile."""
        west, south, east, north = self.lonlat_bounds()
        return (east - west) * units / EXTENT, (north - south) * units / EXTENT


def mercator_to_lonlat(x: float, y: float) -> tuple[float, float]:
    """EPSG:3857 metres -> CRS84 degrees (spherical formulas, exact for this projection)."""
    return math.degrees(x / RADIUS), math.degrees(math.atan(math.sinh(y / RADIUS)))
