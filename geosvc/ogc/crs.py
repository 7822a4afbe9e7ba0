"""CRS URIs of OGC API Features Part 2: parse the ones we serve, transform to and from CRS84."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError

from geosvc.errors import InvalidParameter

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def check_crs_uri(uri: str, supported: list[str], *, param: str) -> str:
    """Return ``uri`` if it is one of ``supported`` (URI or ``[AUTH:CODE]`` safe CURIE), else raise 400."""
    value = uri.strip()
    if value.startswith("[") and value.endswith("]"):
        auth, _, code = value[1:-1].partition(":")
        value = f"http://www.opengis.net/def/crs/{auth.upper()}/{'1.3' if auth.upper() == 'OGC' else '0'}/{code}"
    value = value.replace("https://", "http://", 1)
    if value not in supported:
        raise InvalidParameter(
            f"unsupported CRS '{uri}'; supported: {', '.join(supported)}", param=param
        )
    return value


@lru_cache(maxsize=32)
def _crs(uri: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(uri)
    except CRSError as exc:  # pragma: no cover - only URIs from settings reach here
        raise InvalidParameter(f"unknown CRS '{uri}'", param="crs") from exc


@lru_cache(maxsize=32)
def _transformer(source: str, target: str) -> pyproj.Transformer:
    # Authority axis order on purpose (no always_xy): EPSG:4326 / 4269 answer lat, lon.
    return pyproj.Transformer.from_crs(_crs(source), _crs(target))


def warm_transformers(uris: list[str]) -> None:
    """Create the CRS84 <-> ``uris`` transformers now (pyproj needs ~3 s to pick one for EPSG:4269)."""
    for uri in uris:
        if uri != CRS84:
            _transformer(CRS84, uri)
            _transformer(uri, CRS84)


def is_crs84(uri: str) -> bool:
    """True for the default lon/lat CRS (no transformation needed)."""
    return uri == CRS84


def _transform(geoms, source: str, target: str):
    if source == target:
        return geoms
    transformer = _transformer(source, target)

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, _apply)


def transform_geometries(geoms: np.ndarray, target: str) -> np.ndarray:
    """Transform CRS84 geometries to ``target`` in that CRS's own axis order."""
    return _transform(geoms, CRS84, target)


def bbox_to_crs84(bbox: tuple[float, float, float, float], source: str) -> tuple[float, ...]:
    """Transform a bbox given in ``source`` (its axis order) to CRS84 lon/lat, densifying edges."""
    if is_crs84(source):
        return bbox
    return tuple(_transformer(source, CRS84).transform_bounds(*bbox, densify_pts=21))


def geometry_to_crs84(geom: shapely.Geometry, source: str) -> shapely.Geometry:
    """Transform one geometry given in ``source`` to CRS84."""
    return _transform(geom, source, CRS84)
