"""The store's query seam: what serving asks of a published vector version, whatever the backend.

Parameters arrive validated and in CRS84 (the OGC layer parses requests); a store answers with the
matching count and one page of pre-encoded features, reading only what it returns, with geometries in
the query's output CRS (transformed by the backend: PostGIS in SQL, the embedded store in its reader).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import shapely
from pygeofilter import ast

from geosvc.crs import CRS84_URI, transform_geometries
from geosvc.store.encoding import encode_geometries

SPATIAL_ATTRIBUTES = ("geom", "geometry", "the_geom", "shape")
"""Names a CQL2 filter may use for a layer's geometry."""


@dataclass(frozen=True)
class FeatureQuery:
    """Which features of a version, in which order, which page.

    ``bbox`` is CRS84; ``interval`` bounds (UTC, inclusive, either open) apply to the record's time
    field; ``filter`` is a parsed CQL2 expression whose geometry literals are CRS84; ``sortby`` is
    ``((name, ascending), ...)`` and ties keep feature order; ``limit=None`` returns every match;
    ``min_size=(width, height)`` (degrees) keeps only features whose CRS84 envelope is at least that
    wide or that tall, and every point (what a map tile can show at its resolution);
    ``largest_first=(ux, uy)`` (degrees per unit) orders by envelope size in those units
    (``max(width / ux, height / uy)``) descending, then sort keys, then feature order (a capped map
    tile keeps its largest features); ``crs`` (an OGC CRS URI, validated) is the output CRS of
    ``geom_json`` and ``wkb``, in that CRS's axis order.
    """

    bbox: tuple[float, float, float, float] | None = None
    equals: tuple[tuple[str, object], ...] = ()
    interval: tuple[dt.datetime | None, dt.datetime | None] | None = None
    filter: ast.Node | None = None
    sortby: tuple[tuple[str, bool], ...] = ()
    offset: int = 0
    limit: int | None = 10
    count: bool = True  # compute numberMatched
    wkb: bool = False  # also return each geometry as WKB (for reprojection or analysis)
    min_size: tuple[float, float] | None = None
    largest_first: tuple[float, float] | None = None
    crs: str = CRS84_URI


@dataclass(frozen=True)
class FeatureRow:
    """One feature as served: id as text and its pre-encoded JSON parts (geometry in the query's CRS)."""

    fid: str
    id_json: bytes
    geom_json: bytes
    props_json: bytes
    wkb: bytes | None = None


@dataclass(frozen=True)
class FeaturePage:
    """The answer to a :class:`FeatureQuery`: matches in all (``None`` if not counted) and the page."""

    matched: int | None
    rows: list[FeatureRow]


def with_geometries(rows: list[FeatureRow], geoms: np.ndarray, wkb: bool) -> list[FeatureRow]:
    """``rows`` with their geometries replaced by ``geoms`` (output CRS), encoded once here."""
    texts = encode_geometries(geoms)
    blobs = shapely.to_wkb(geoms) if wkb else [None] * len(rows)
    return [FeatureRow(r.fid, r.id_json, g, r.props_json, b) for r, g, b in zip(rows, texts, blobs)]


def reproject(rows: list[FeatureRow], crs: str, wkb: bool) -> list[FeatureRow]:
    """CRS84 ``rows`` (read with their WKB) in the output CRS ``crs`` (pyproj, :mod:`geosvc.crs`)."""
    if not rows:
        return rows
    return with_geometries(rows, transform_geometries(shapely.from_wkb([r.wkb for r in rows]), crs), wkb)
