"""Check query parameters before pygeoapi sees them: coverage queries, and (via :class:`QueryGuard`) records.

Stock pygeoapi 0.24 answers 500 to a coverage bbox with 3 values, ``bbox=0,0,0,0``, ``miny > maxy``,
a bbox outside the raster and ``bbox-crs`` given as a URI; it silently ignores ``datetime``, a subset
on one axis only and unknown parameters. :func:`check_coverage_query` refuses all of these with a
400 naming the parameter; :class:`QueryGuard` runs such checks ahead of the pygeoapi mount, and valid
requests pass through unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import rasterio
from pyproj import Transformer
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from geosvc.crs import CRS84_URI, crs_uri, parse_crs
from geosvc.errors import InvalidParameter
from geosvc.ogc.exceptions import error_response_parts
from geosvc.store.base import PublishedLayer, Store

ALLOWED = {"f", "bbox", "bbox-crs", "subset", "properties", "lang"}
_SUBSET = re.compile(r"^\s*(\w+)\(\s*([^:()]+?)\s*:\s*([^:()]+?)\s*\)\s*$")

Bounds = tuple[float, float, float, float]


@lru_cache(maxsize=64)
def raster_grid(path: Path) -> tuple[str, tuple[str, str], Bounds]:
    """Native CRS URI, axis names as pygeoapi's rasterio provider names them, and native bounds."""
    with rasterio.open(path) as src:
        crs = crs_uri(src.crs.to_wkt())
        axes = ("x", "y") if src.crs.is_projected else ("Long", "Lat")
        return crs, axes, tuple(src.bounds)


def _numbers(text: str, param: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise InvalidParameter(f"'{text}' is not a comma-separated list of numbers", param=param) from None
    if not all(math.isfinite(v) for v in values):
        raise InvalidParameter(f"'{text}' has a non-finite number", param=param)
    return values


def _check_box(box: list[float], param: str) -> Bounds:
    if len(box) == 6:
        raise InvalidParameter("the coverage is 2D: give 4 numbers, not 6", param=param)
    if len(box) != 4:
        raise InvalidParameter(f"give 4 numbers (minx,miny,maxx,maxy), not {len(box)}", param=param)
    if not (box[0] < box[2] and box[1] < box[3]):
        raise InvalidParameter(
            "the box is empty or inverted: need minx < maxx and miny < maxy", param=param
        )
    return tuple(box)


def _overlaps(a: Bounds, b: Bounds) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_bbox_crs(value: str, supported: Iterable[str]) -> str:
    """The canonical URI of ``value`` if it is one of ``supported`` CRS URIs, else 400."""
    crs = parse_crs(value.strip())
    uri = crs_uri(crs) if crs is not None and crs.to_authority() else None
    known = {crs_uri(s) for s in supported}
    if uri not in known:
        raise InvalidParameter(
            f"unsupported CRS '{value}'; supported: {', '.join(sorted(known))}", param="bbox-crs"
        )
    return uri


def bbox_to_crs(bbox: Bounds, source: str, target: str) -> Bounds:
    """Transform a box given in ``source`` axis order to ``target`` axis order (densified edges)."""
    if crs_uri(source) == crs_uri(target):
        return bbox
    transformer = Transformer.from_crs(parse_crs(source), parse_crs(target))
    return tuple(transformer.transform_bounds(*bbox, densify_pts=21))


def check_coverage_query(params: QueryParams, layer: PublishedLayer, source: Path, serve_crs: Iterable[str]) -> None:
    """Raise :class:`InvalidParameter` for any coverage query pygeoapi would mishandle."""
    for key in params:
        if len(params.getlist(key)) > 1:
            raise InvalidParameter("given more than once", param=key)
        if key == "datetime":
            raise InvalidParameter("the coverage has no time axis", param=key)
        if key not in ALLOWED:
            raise InvalidParameter(
                f"unknown parameter; the coverage accepts {', '.join(sorted(ALLOWED))}", param=key
            )
    native_crs, axes, native_bounds = raster_grid(source)
    if "bbox-crs" in params and "bbox" not in params:
        raise InvalidParameter("given without bbox", param="bbox-crs")
    if "bbox" in params:
        if "subset" in params:
            raise InvalidParameter("bbox and subset cannot be combined", param="subset")
        box = _check_box(_numbers(params["bbox"], "bbox"), "bbox")
        source = check_bbox_crs(params.get("bbox-crs", CRS84_URI), [*serve_crs, native_crs])
        lonlat = bbox_to_crs(box, source, CRS84_URI)
        if not _overlaps(lonlat, layer.bbox):
            raise InvalidParameter(
                f"{params['bbox']} is outside the coverage extent {list(layer.bbox)} (CRS84)",
                param="bbox",
            )
    if "subset" in params:
        _check_subset(params["subset"], axes, native_bounds)


def _check_subset(text: str, axes: tuple[str, str], bounds: Bounds) -> None:
    ranges: dict[str, tuple[float, float]] = {}
    for part in text.split(","):
        match = _SUBSET.match(part)
        if match is None or match.group(1) not in axes:
            raise InvalidParameter(
                f"'{part}' is not axis(low:high) with axis one of {', '.join(axes)}", param="subset"
            )
        low, high = _numbers(f"{match.group(2)},{match.group(3)}", "subset")
        if not low < high:
            raise InvalidParameter(f"'{part}': low must be below high", param="subset")
        ranges[match.group(1)] = (low, high)
    if set(ranges) != set(axes):
        raise InvalidParameter(f"give both axes {axes[0]} and {axes[1]}", param="subset")
    (x0, x1), (y0, y1) = ranges[axes[0]], ranges[axes[1]]
    if not _overlaps((x0, y0, x1, y1), bounds):
        raise InvalidParameter(f"'{text}' is outside the coverage extent {list(bounds)}", param="subset")


Check = Callable[[QueryParams, re.Match, Scope], None]
"""Raises :class:`InvalidParameter` for a query it refuses; gets the query, the path match and the scope."""


def coverage_check(store: Store, serve_crs: Iterable[str]) -> Check:
    """The :data:`Check` of ``/collections/{id}/coverage`` for the rasters of the request's snapshot."""
    supported = list(serve_crs)

    def check(params: QueryParams, match: re.Match, scope: Scope) -> None:
        layer = scope["state"]["snapshot"].layers.get(match.group(1))
        if layer is not None and layer.kind == "raster":
            check_coverage_query(params, layer, Path(store.raster_source(layer)), supported)

    return check


def coverage_path(prefix: str) -> re.Pattern:
    """Path pattern of the coverage endpoints under the OGC API mount ``prefix``."""
    return re.compile(rf"^{re.escape(prefix)}/collections/([^/]+)/coverage/?$")


class QueryGuard:
    """ASGI middleware answering 400 (OGC exception body) to queries that a path's check refuses.

    ``checks``: ``(path pattern, check)`` pairs; the first pattern matching the request path decides.
    """

    def __init__(self, app: ASGIApp, checks: Sequence[tuple[re.Pattern, Check]]):
        self.app = app
        self.checks = list(checks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for pattern, check in self.checks:
                match = pattern.match(scope["path"])
                if match is None:
                    continue
                try:
                    check(QueryParams(scope["query_string"]), match, scope)
                except InvalidParameter as err:
                    await _send_error(send, err)
                    return
                break
        await self.app(scope, receive, send)


async def _send_error(send: Send, err: InvalidParameter) -> None:
    status, body = error_response_parts(err)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
