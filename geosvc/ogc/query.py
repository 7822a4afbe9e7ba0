"""The items query engine shared by the fast items route and the pygeoapi provider.

Parameters are parsed strictly against the published version (anything we cannot honour is a 400)
into a :class:`~geosvc.store.query.FeatureQuery`, which the store answers (spatial index, SQL filters,
sort, paging, count and the output CRS); pages are shaped here (properties, skipGeometry).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

import orjson
import pandas as pd

from geosvc.cql2 import parse_filter
from geosvc.crs import CRS84_URI, bbox_to_crs84, check_crs_uri
from geosvc.errors import InvalidParameter
from geosvc.store.base import PublishedLayer
from geosvc.store.encoding import assemble_feature, assemble_features
from geosvc.store.query import FeatureQuery, FeatureRow

DEFAULT_LIMIT = 10
MAX_LIMIT = 10000
MAX_OFFSET = 2**53  # beyond any layer; larger numbers are a 400, not an overflow
ITEMS_PARAMS = frozenset(
    {"f", "lang", "bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "properties",
     "skipGeometry", "sortby", "filter", "filter-lang", "filter-crs", "resulttype"}
)
ITEM_PARAMS = frozenset({"f", "lang", "crs"})


@dataclass(frozen=True)
class ItemsQuery:
    """A validated items request: what to select (``select``, for the store) and how to shape it."""

    select: FeatureQuery = FeatureQuery()
    properties: tuple[str, ...] | None = None
    skip_geometry: bool = False
    crs: str = CRS84_URI
    hits: bool = False
    limit: int = DEFAULT_LIMIT  # the page size asked for (``select.limit`` is 0 for hits)
    passthrough: dict[str, str] = field(default_factory=dict)  # echoed in links


def query_pairs(query_string: bytes) -> list[tuple[str, str]]:
    """``(key, value)`` pairs of a raw query string; 400 naming the pair whose escapes are not UTF-8."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    decoded = []
    for key, value in pairs:
        try:
            decoded.append((_utf8(key, "strict"), _utf8(value, "strict")))
        except UnicodeDecodeError:
            raise InvalidParameter(
                "is not UTF-8 text (percent-escapes must encode UTF-8)", param=_utf8(key, "replace")
            ) from None
    return decoded


def _utf8(text: str, errors: str) -> str:
    return text.encode("latin-1").decode("utf-8", errors)


def _single(params: list[tuple[str, str]]) -> dict[str, str]:
    seen: dict[str, str] = {}
    for key, value in params:
        if key in seen:
            raise InvalidParameter("given more than once", param=key)
        seen[key] = value
    return seen


def parse_int(value: str, *, param: str, minimum: int, maximum: int = MAX_OFFSET) -> int:
    """A whole number in ``minimum..maximum``."""
    text = value.strip()
    if len(text) > 20:
        raise InvalidParameter(f"'{text[:20]}...' is too long for an integer", param=param)
    try:
        number = int(text)
    except ValueError:
        raise InvalidParameter(f"'{value}' is not an integer", param=param) from None
    if number < minimum:
        raise InvalidParameter(f"must be >= {minimum}", param=param)
    if number > maximum:
        raise InvalidParameter(f"must be <= {maximum}", param=param)
    return number


def parse_limit(value: str | None) -> int:
    """``limit``: 1..; values above the maximum are lowered to it (OGC API Features 7.15.3)."""
    if value is None:
        return DEFAULT_LIMIT
    return min(parse_int(value, param="limit", minimum=1, maximum=2**63 - 1), MAX_LIMIT)


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
    return bbox_to_crs84((minx, miny, maxx, maxy), crs)  # 400 outside the area of use of bbox-crs


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


def coerce_value(layer: PublishedLayer, name: str, value: str) -> object:
    """A ``property=value`` filter value typed like the field; 400 if it cannot be."""
    kind = layer.fields.get(name, "string")
    try:
        if kind == "boolean":
            return parse_bool(value, param=name)
        if kind == "integer":
            number = parse_int(value, param=name, minimum=-(2**63), maximum=2**63 - 1)
            return number
        if kind == "number":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(value)
            return number
        if kind in ("date", "datetime"):
            stamp = pd.Timestamp(value)
            if stamp is pd.NaT:
                raise ValueError(value)
            return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()
    except (ValueError, TypeError, OverflowError):
        raise InvalidParameter(f"'{value}' is not a valid {kind} value", param=name) from None
    return value


def parse_items_query(params: Iterable[tuple[str, str]], layer: PublishedLayer, serve_crs: list[str]) -> ItemsQuery:
    """Validate raw query parameters of an items request against the published version."""
    raw = _single(list(params))
    known = list(layer.fields)
    unknown = [k for k in raw if k not in ITEMS_PARAMS and k not in known]
    if unknown:
        raise InvalidParameter(
            f"unknown query parameter(s) {', '.join(unknown)}; queryables are listed at /queryables",
            param=unknown[0],
        )
    crs = check_crs_uri(raw["crs"], serve_crs, param="crs") if "crs" in raw else CRS84_URI
    bbox_crs = check_crs_uri(raw["bbox-crs"], serve_crs, param="bbox-crs") if "bbox-crs" in raw else CRS84_URI
    if "bbox-crs" in raw and "bbox" not in raw:
        raise InvalidParameter("given without bbox", param="bbox-crs")
    filter_crs = check_crs_uri(raw["filter-crs"], serve_crs, param="filter-crs") if "filter-crs" in raw else CRS84_URI
    if "filter" not in raw and ("filter-lang" in raw or "filter-crs" in raw):
        raise InvalidParameter("given without filter", param="filter-lang" if "filter-lang" in raw else "filter-crs")
    resulttype = raw.get("resulttype", "results")
    if resulttype not in ("results", "hits"):
        raise InvalidParameter("must be 'results' or 'hits'", param="resulttype")
    limit = parse_limit(raw.get("limit"))
    select = FeatureQuery(
        bbox=parse_bbox(raw["bbox"], bbox_crs) if "bbox" in raw else None,
        equals=tuple((k, coerce_value(layer, k, v)) for k, v in raw.items() if k in known and k not in ITEMS_PARAMS),
        interval=parse_datetime(raw["datetime"], time_field(layer)) if "datetime" in raw else None,
        filter=parse_filter(raw["filter"], raw.get("filter-lang"), filter_crs) if "filter" in raw else None,
        sortby=parse_sortby(raw["sortby"], known) if "sortby" in raw else (),
        offset=parse_int(raw["offset"], param="offset", minimum=0) if "offset" in raw else 0,
        limit=0 if resulttype == "hits" else limit,
        crs=crs,
    )
    return ItemsQuery(
        select=select,
        properties=parse_names(raw["properties"], known, param="properties") if "properties" in raw else None,
        skip_geometry=parse_bool(raw["skipGeometry"], param="skipGeometry") if "skipGeometry" in raw else False,
        crs=crs,
        hits=resulttype == "hits",
        limit=limit,
        passthrough={k: v for k, v in raw.items() if k not in ("offset", "f")},
    )


def items_href(uri: str, query: ItemsQuery, offset: int, f: str | None = None) -> str:
    """``uri`` (an items URL) with every parameter of ``query``'s request but ``offset``, which is given here
    (left out when 0), and ``f`` when given."""
    qs = {k: v for k, v in query.passthrough.items() if k != "limit"}
    qs["limit"] = str(query.limit)
    if offset:
        qs["offset"] = str(offset)
    if f:
        qs["f"] = f
    return f"{uri}?{urlencode(qs)}"


def paging_links(uri: str, query: ItemsQuery, matched: int, media_type: str) -> list[dict]:
    """The next and previous page links of an items page of ``matched`` features (none for hits)."""
    if query.hits:
        return []
    offset, links = query.select.offset, []
    if offset + query.limit < matched:
        links.append({"href": items_href(uri, query, offset + query.limit), "rel": "next", "type": media_type,
                      "title": "Next page"})
    if offset > 0:
        links.append({"href": items_href(uri, query, max(offset - query.limit, 0)), "rel": "prev",
                      "type": media_type, "title": "Previous page"})
    return links


def time_field(layer: PublishedLayer) -> str | None:
    """The record's time field, if the published version has it."""
    name = layer.record.time_field
    return name if name and name in layer.fields else None


def parse_item_params(params: Iterable[tuple[str, str]], serve_crs: list[str]) -> str:
    """Validate the parameters of a single-item request; return the output CRS."""
    raw = _single(list(params))
    unknown = [k for k in raw if k not in ITEM_PARAMS]
    if unknown:
        raise InvalidParameter(f"unknown query parameter(s) {', '.join(unknown)}", param=unknown[0])
    return check_crs_uri(raw["crs"], serve_crs, param="crs") if "crs" in raw else CRS84_URI


def is_plain(query: ItemsQuery) -> bool:
    """True when features are served exactly as the store encoded them (all properties, geometry)."""
    return query.properties is None and not query.skip_geometry


def render_features(rows: list[FeatureRow], query: ItemsQuery, head: bytes = b"", tail: bytes = b"") -> bytes:
    """The encoded GeoJSON features of a page shaped by properties / skipGeometry / crs, comma-separated,
    between ``head`` and ``tail`` (one join builds the whole answer)."""
    ids = [r.id_json for r in rows]
    if is_plain(query):
        return assemble_features(ids, [r.geom_json for r in rows], [r.props_json for r in rows], head, tail)
    if query.properties is None:
        props = [r.props_json for r in rows]
    else:
        names = query.properties
        props = []
        for row in rows:
            values = orjson.loads(row.props_json)
            props.append(orjson.dumps({k: values.get(k) for k in names}))
    geoms = [b"null"] * len(rows) if query.skip_geometry else [r.geom_json for r in rows]
    return assemble_features(ids, geoms, props, head, tail)


def render_feature(row: FeatureRow) -> bytes:
    """One encoded feature (its geometry as the store gave it, in the requested CRS)."""
    return assemble_feature(row.id_json, row.geom_json, row.props_json)
