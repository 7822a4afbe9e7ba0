"""The items query engine shared by the fast items route and the pygeoapi provider.

Parameters are parsed strictly (anything we cannot honour is a 400), then evaluated vectorised
against a :class:`~geosvc.ogc.index.LayerIndex`: STRtree for ``bbox``, boolean masks for
``property=value``, ``datetime`` and CQL2 ``filter``, a stable sort for ``sortby``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from geosvc.errors import InvalidParameter
from geosvc.cql2 import evaluate_filter, parse_filter
from geosvc.ogc.crs import CRS84, bbox_to_crs84, check_crs_uri, is_crs84
from geosvc.ogc.index import LayerIndex, assemble_feature, encode_properties

DEFAULT_LIMIT = 10
MAX_LIMIT = 10000
ITEMS_PARAMS = frozenset(
    {"f", "lang", "bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "properties",
     "skipGeometry", "sortby", "filter", "filter-lang", "filter-crs", "resulttype"}
)
ITEM_PARAMS = frozenset({"f", "lang", "crs"})


@dataclass(frozen=True)
class ItemsQuery:
    """A validated items request; ``bbox`` is in CRS84, ``crs`` a supported CRS URI."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[pd.Timestamp | None, pd.Timestamp | None] | None = None
    equals: tuple[tuple[str, object], ...] = ()
    filter: object | None = None
    filter_crs: str = CRS84
    sortby: tuple[tuple[str, bool], ...] = ()
    properties: tuple[str, ...] | None = None
    skip_geometry: bool = False
    crs: str = CRS84
    hits: bool = False
    passthrough: dict[str, str] = field(default_factory=dict)  # echoed in links


def _single(params: list[tuple[str, str]]) -> dict[str, str]:
    seen: dict[str, str] = {}
    for key, value in params:
        if key in seen:
            raise InvalidParameter("given more than once", param=key)
        seen[key] = value
    return seen


def parse_int(value: str, *, param: str, minimum: int) -> int:
    """A whole number >= ``minimum``."""
    try:
        number = int(value)
    except ValueError:
        raise InvalidParameter(f"'{value}' is not an integer", param=param) from None
    if number < minimum:
        raise InvalidParameter(f"must be >= {minimum}", param=param)
    return number


def parse_limit(value: str | None) -> int:
    """``limit``: 1..; values above the maximum are lowered to it (OGC API Features 7.15.3)."""
    if value is None:
        return DEFAULT_LIMIT
    return min(parse_int(value, param="limit", minimum=1), MAX_LIMIT)


def parse_bool(value: str, *, param: str) -> bool:
    """``true`` or ``false`` (case-insensitive)."""
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise InvalidParameter(f"'{value}' is not true or false", param=param)
    return lowered == "true"


def parse_bbox(value: str, crs: str) -> tuple[float, float, float, float]:
    """``bbox`` (4 or 6 numbers, in ``crs`` axis order) -> CRS84 lon/lat bounds."""
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        raise InvalidParameter(f"'{value}' is not a list of numbers", param="bbox") from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidParameter("needs 4 (or 6) finite numbers", param="bbox")
    minx, miny, maxx, maxy = numbers
    if minx > maxx or miny > maxy:
        raise InvalidParameter("lower corner is above or right of the upper corner", param="bbox")
    if is_crs84(crs) and (miny < -90 or maxy > 90 or minx < -180 or maxx > 180):
        raise InvalidParameter("longitude/latitude out of range", param="bbox")
    try:
        bounds = bbox_to_crs84((minx, miny, maxx, maxy), crs)
    except Exception as exc:  # pyproj ProjError for coordinates outside the CRS's domain
        raise InvalidParameter(f"cannot transform to CRS84: {exc}", param="bbox") from exc
    if not all(math.isfinite(b) for b in bounds):
        raise InvalidParameter("lies outside the domain of bbox-crs", param="bbox")
    return bounds


def _parse_instant(text: str) -> pd.Timestamp | None:
    text = text.strip()
    if text in ("..", ""):
        return None
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise InvalidParameter(f"'{text}' is not an RFC 3339 date or date-time", param="datetime") from None
    if stamp is pd.NaT:
        raise InvalidParameter(f"'{text}' is not a date", param="datetime")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def parse_datetime(value: str, time_field: str | None) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``datetime`` instant or interval (``a/b``, ``../b``, ``a/..``) -> UTC bounds (inclusive)."""
    if not time_field:
        raise InvalidParameter("this collection has no time field", param="datetime")
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = _parse_instant(start_text), _parse_instant(end_text)
        if start is None and end is None:
            raise InvalidParameter("an interval needs at least one end", param="datetime")
        if start is not None and end is not None and start > end:
            raise InvalidParameter("interval start is after its end", param="datetime")
        if end is not None and len(end_text.strip()) == 10:
            end = end + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        return start, end
    instant = _parse_instant(value)
    if instant is None:
        raise InvalidParameter("an instant cannot be open", param="datetime")
    if len(value.strip()) == 10:  # a whole day
        return instant, instant + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return instant, instant


def parse_names(value: str, known: list[str], *, param: str) -> tuple[str, ...]:
    """Comma-separated property names, each one of ``known``."""
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidParameter(f"unknown properties: {', '.join(unknown)}", param=param)
    return names


def parse_sortby(value: str, known: list[str]) -> tuple[tuple[str, bool], ...]:
    """``sortby=+a,-b`` -> ((name, ascending), ...)."""
    keys = []
    for term in (t.strip() for t in value.split(",")):
        if not term:
            continue
        ascending = not term.startswith("-")
        name = term.lstrip("+-").strip()
        parse_names(name, known, param="sortby")
        keys.append((name, ascending))
    if not keys:
        raise InvalidParameter("names no property", param="sortby")
    return tuple(keys)


def coerce_value(index: LayerIndex, name: str, value: str) -> object:
    """A ``property=value`` filter value typed like the column; 400 if it cannot be."""
    column = index.frame[name]
    kind = column.dtype
    try:
        if pd.api.types.is_bool_dtype(kind):
            return parse_bool(value, param=name)
        if pd.api.types.is_integer_dtype(kind):
            return int(value)
        if pd.api.types.is_float_dtype(kind):
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(value)
            return number
        if pd.api.types.is_datetime64_any_dtype(kind):
            return pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InvalidParameter(f"'{value}' is not a valid {kind} value", param=name) from None
    return value


def parse_items_query(params: Iterable[tuple[str, str]], index: LayerIndex, serve_crs: list[str]) -> ItemsQuery:
    """Validate raw query parameters of an items request against the layer."""
    raw = _single(list(params))
    known = index.property_names
    unknown = [k for k in raw if k not in ITEMS_PARAMS and k not in known]
    if unknown:
        raise InvalidParameter(
            f"unknown query parameter(s) {', '.join(unknown)}; queryables are listed at /queryables",
            param=unknown[0],
        )
    crs = check_crs_uri(raw["crs"], serve_crs, param="crs") if "crs" in raw else CRS84
    bbox_crs = check_crs_uri(raw["bbox-crs"], serve_crs, param="bbox-crs") if "bbox-crs" in raw else CRS84
    if "bbox-crs" in raw and "bbox" not in raw:
        raise InvalidParameter("given without bbox", param="bbox-crs")
    filter_crs = check_crs_uri(raw["filter-crs"], serve_crs, param="filter-crs") if "filter-crs" in raw else CRS84
    if "filter" not in raw and ("filter-lang" in raw or "filter-crs" in raw):
        raise InvalidParameter("given without filter", param="filter-lang" if "filter-lang" in raw else "filter-crs")
    resulttype = raw.get("resulttype", "results")
    if resulttype not in ("results", "hits"):
        raise InvalidParameter("must be 'results' or 'hits'", param="resulttype")
    filter_node = parse_filter(raw["filter"], raw.get("filter-lang")) if "filter" in raw else None
    query = ItemsQuery(
        limit=parse_limit(raw.get("limit")),
        offset=parse_int(raw["offset"], param="offset", minimum=0) if "offset" in raw else 0,
        bbox=parse_bbox(raw["bbox"], bbox_crs) if "bbox" in raw else None,
        interval=parse_datetime(raw["datetime"], index.layer.record.time_field if index.times is not None else None)
        if "datetime" in raw else None,
        equals=tuple((k, coerce_value(index, k, v)) for k, v in raw.items() if k in known and k not in ITEMS_PARAMS),
        filter=filter_node,
        filter_crs=filter_crs,
        sortby=parse_sortby(raw["sortby"], known) if "sortby" in raw else (),
        properties=parse_names(raw["properties"], known, param="properties") if "properties" in raw else None,
        skip_geometry=parse_bool(raw["skipGeometry"], param="skipGeometry") if "skipGeometry" in raw else False,
        crs=crs,
        hits=resulttype == "hits",
        passthrough={k: v for k, v in raw.items() if k not in ("offset", "f")},
    )
    return query


def parse_item_params(params: Iterable[tuple[str, str]], serve_crs: list[str]) -> str:
    """Validate the parameters of a single-item request; return the output CRS."""
    raw = _single(list(params))
    unknown = [k for k in raw if k not in ITEM_PARAMS]
    if unknown:
        raise InvalidParameter(f"unknown query parameter(s) {', '.join(unknown)}", param=unknown[0])
    return check_crs_uri(raw["crs"], serve_crs, param="crs") if "crs" in raw else CRS84


def select(index: LayerIndex, query: ItemsQuery) -> tuple[np.ndarray, int]:
    """Positions of the requested page (in order) and the number of matching features."""
    n = len(index.ids)
    mask: np.ndarray | None = None
    if query.bbox is not None:
        hits = index.tree.query(shapely.box(*query.bbox), predicate="intersects")
        mask = np.zeros(n, dtype=bool)
        mask[hits] = True
    for name, value in query.equals:
        match = np.asarray(index.frame[name] == value, dtype=bool)
        mask = match if mask is None else mask & match
    if query.interval is not None and index.times is not None:
        start, end = query.interval
        match = index.times.notna().to_numpy(copy=True)
        if start is not None:
            match = match & (index.times >= start).to_numpy()
        if end is not None:
            match = match & (index.times <= end).to_numpy()
        mask = match if mask is None else mask & match
    if query.filter is not None:
        frame = index.frame if mask is None else index.frame.iloc[np.flatnonzero(mask)]
        sub = evaluate_filter(query.filter, frame, query.filter_crs)
        positions = np.flatnonzero(mask)[sub] if mask is not None else np.flatnonzero(sub)
    else:
        positions = np.arange(n) if mask is None else np.flatnonzero(mask)
    if query.sortby:
        names = [name for name, _ in query.sortby]
        order = index.frame.iloc[positions].sort_values(
            by=names, ascending=[asc for _, asc in query.sortby], kind="stable", na_position="last"
        )
        positions = order.index.to_numpy()
    matched = len(positions)
    if query.hits:
        return positions[:0], matched
    return positions[query.offset : query.offset + query.limit], matched


def is_plain(query: ItemsQuery) -> bool:
    """True when features are served exactly as pre-encoded (all properties, geometry, CRS84)."""
    return query.properties is None and not query.skip_geometry and is_crs84(query.crs)


def render_features(index: LayerIndex, positions: np.ndarray, query: ItemsQuery) -> list[bytes]:
    """Encoded GeoJSON features at ``positions`` shaped by properties / skipGeometry / crs."""
    if is_plain(query):
        return [index.features[i] for i in positions]
    if query.properties is None:
        props = [index.props_json[i] for i in positions]
    else:
        names = query.properties
        props = encode_properties([{k: index.records[i][k] for k in names} for i in positions])
    if query.skip_geometry:
        geoms = [b"null"] * len(positions)
    else:
        encoded = index.geometries_json(query.crs)
        geoms = [encoded[i] for i in positions]
    return [assemble_feature(index.id_json[i], g, p) for i, g, p in zip(positions, geoms, props)]


def render_feature(index: LayerIndex, position: int, crs: str) -> bytes:
    """One encoded feature in ``crs``."""
    if is_crs84(crs):
        return index.features[position]
    geom = index.geometries_json(crs)[position]
    return assemble_feature(index.id_json[position], geom, index.props_json[position])
