"""Caller-drawn hazard zones: inline GeoJSON checked, repaired where possible, refused otherwise.

Policy (stated in every answer's ``method.hazard``): a polygon that is *invalid* (self-intersecting
ring, bow-tie...) is **repaired** with :func:`shapely.make_valid` and its polygonal part kept; a
geometry that is empty, not polygonal, unparsable, or nothing but slivers after repair is
**refused** with :class:`~geosvc.errors.InvalidParameter`, as is a zone of more than
:data:`MAX_VERTICES` vertices or nested deeper than :data:`MAX_DEPTH` collections.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import shape

from geosvc.crs import CRS84, normalize_crs
from geosvc.errors import InvalidParameter

PARAM = "hazard.geometry"
_POLYGONAL = {"Polygon", "MultiPolygon"}


MAX_VERTICES = 10_000
"""Most vertices of a caller-drawn zone (all its polygons together); more is refused with a 400."""
MAX_DEPTH = 8
"""Deepest nesting of FeatureCollections, Features and GeometryCollections accepted."""


def _geometries(obj: Any, depth: int = 0) -> list[dict]:
    if depth > MAX_DEPTH:
        raise InvalidParameter(f"GeoJSON nested too deeply (at most {MAX_DEPTH} levels of collections)", param=PARAM)
    if not isinstance(obj, dict) or "type" not in obj:
        raise InvalidParameter("must be a GeoJSON object with a 'type'", param=PARAM)
    kind = obj["type"]
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list) or not features:
            raise InvalidParameter("FeatureCollection has no features", param=PARAM)
        return [g for f in features for g in _geometries(f, depth + 1)]
    if kind == "Feature":
        if not obj.get("geometry"):
            raise InvalidParameter("Feature has no geometry", param=PARAM)
        return _geometries(obj["geometry"], depth + 1)
    if kind == "GeometryCollection":
        return [g for part in obj.get("geometries") or [] for g in _geometries(part, depth + 1)]
    return [obj]


def _vertices(geojson: dict) -> int:
    """Vertices of a GeoJSON Polygon or MultiPolygon, counted before parsing (0 if malformed)."""
    coordinates = geojson.get("coordinates")
    polygons = [coordinates] if geojson.get("type") == "Polygon" else coordinates
    if not isinstance(polygons, list):
        return 0
    return sum(len(ring) for polygon in polygons if isinstance(polygon, list)
               for ring in polygon if isinstance(ring, list))


def _check_size(geojsons: list[dict]) -> None:
    vertices = sum(_vertices(g) for g in geojsons)
    if vertices > MAX_VERTICES:
        raise InvalidParameter(f"too many vertices ({vertices:,}; at most {MAX_VERTICES:,}): simplify the zone",
                               param=PARAM)


def _shape(geojson: dict):
    kind = geojson.get("type")
    if kind not in _POLYGONAL:
        raise InvalidParameter(f"hazard must be polygonal (Polygon or MultiPolygon), got {kind}", param=PARAM)
    try:
        geom = shape(geojson)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise InvalidParameter(f"malformed {kind} coordinates: {exc}", param=PARAM) from exc
    if geom.is_empty:
        raise InvalidParameter(f"{kind} is empty", param=PARAM)
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise InvalidParameter(f"{kind} has non-finite coordinates", param=PARAM)
    return geom


def read_inline_zone(obj: Any, crs: str | None = None) -> tuple[gpd.GeoSeries, list[str]]:
    """Parse an inline GeoJSON hazard into one CRS84 (Multi)Polygon; return it and repair notes.

    Parameters
    ----------
    obj : dict
        GeoJSON Polygon / MultiPolygon, a Feature of one, or a FeatureCollection of them.
    crs : str, optional
        CRS of the coordinates (default CRS84, per RFC 7946); reprojected to CRS84.

    Examples
    --------
    >>> bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    >>> zone, notes = read_inline_zone(bowtie)
    >>> round(zone.iloc[0].area, 3), notes[0].startswith("repaired")
    (0.5, True)
    """
    parts = _geometries(obj)
    _check_size(parts)
    geoms = [_shape(g) for g in parts]
    notes: list[str] = []
    invalid = [shapely.is_valid_reason(g) for g in geoms if not g.is_valid]
    if invalid:
        geoms = [shapely.make_valid(g) for g in geoms]
        notes.append(f"repaired {len(invalid)} invalid polygon(s) with shapely.make_valid ({invalid[0]})")
    polygonal = [p for g in geoms for p in shapely.get_parts(g) if p.geom_type in _POLYGONAL and p.area > 0]
    if not polygonal:
        raise InvalidParameter("no polygon area left after repair (degenerate geometry)", param=PARAM)
    zone = shapely.union_all(polygonal)
    source_crs = normalize_crs(crs) if crs else normalize_crs(CRS84)
    if source_crs.is_geographic:
        minx, miny, maxx, maxy = zone.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise InvalidParameter(
                "coordinates are outside lon/lat range: give 'hazard.crs' for projected coordinates", param=PARAM
            )
    series = gpd.GeoSeries([zone], crs=source_crs).to_crs(CRS84)
    if not series.is_valid.all():  # reprojection can bend a valid ring into an invalid one
        series = series.make_valid()
    return series, notes
