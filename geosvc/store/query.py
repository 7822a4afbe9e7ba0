"""The store's query seam: what serving asks of a published vector version, whatever the backend.

Parameters arrive validated and in CRS84 (the OGC layer parses requests); a store answers with the
matching count and one page of pre-encoded features, reading only what it returns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pygeofilter import ast

SPATIAL_ATTRIBUTES = ("geom", "geometry", "the_geom", "shape")
"""Names a CQL2 filter may use for a layer's geometry."""


@dataclass(frozen=True)
class FeatureQuery:
    """Which features of a version, in which order, which page.

    ``bbox`` is CRS84; ``interval`` bounds (UTC, inclusive, either open) apply to the record's time
    field; ``filter`` is a parsed CQL2 expression whose geometry literals are CRS84; ``sortby`` is
    ``((name, ascending), ...)`` and ties keep feature order; ``limit=None`` returns every match;
    ``min_size=(width, height)`` (degrees) keeps only features whose CRS84 envelope is at least that
    wide or that tall, and every point (what a map tile can show at its resolution).
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


@dataclass(frozen=True)
class FeatureRow:
    """One feature as served: id as text and its pre-encoded JSON parts (CRS84)."""

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
