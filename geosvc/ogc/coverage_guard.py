"""Check query parameters before pygeoapi sees them: coverage queries, and (via :class:`QueryGuard`) records.

Stock pygeoapi 0.24 answers 500 to a coverage bbox with 3 values, ``bbox=0,0,0,0``, ``miny > maxy``,
a bbox outside the raster and ``bbox-crs`` given as a URI; it silently ignores ``datetime``, a subset
on one axis only and unknown parameters; and a subset or bbox tens of thousands of pixels wide kills
the process (stack overflow in rasterio's mask). :func:`check_coverage_query` refuses all of these with
a 400 naming the parameter, bounding the requested window (``MAX_WINDOW_SIDE`` native pixels a side)
and the decoded output (``MAX_OUTPUT_CELLS``); :class:`QueryGuard` runs such checks ahead of the
pygeoapi mount, and valid requests pass through unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import rasterio
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from geosvc.crs import CRS84_URI, bbox_to_crs, bbox_to_crs84, check_crs_uri, crs_uri
from geosvc.errors import InvalidParameter
from geosvc.ogc.exceptions import error_response_parts
from geosvc.store.base import Store

ALLOWED = {"f", "bbox", "bbox-crs", "subset", "properties", "lang"}
_SUBSET = re.compile(r"^\s*(\w+)\(\s*([^:()]+?)\s*:\s*([^:()]+?)\s*\)\s*$")

MAX_WINDOW_SIDE = 4096
"""Most native pixels a subset or bbox may span along each axis (even where it leaves the raster)."""
MAX_OUTPUT_CELLS = 4096 * 4096
"""Most cells (pixels x bands) a coverage request may decode."""

Bounds = tuple[float, float, float, float]


class Grid(NamedTuple):
    """What the checks need of a raster: native CRS URI, axis names (as pygeoapi's rasterio provider
    names them), native bounds, pixel size and band count."""

    crs: str
    axes: tuple[str, str]
    bounds: Bounds
    res: tuple[float, float]
    bands: int


@lru_cache(maxsize=64)
def raster_grid(path: Path) -> Grid:
    """The :class:`Grid` of the raster file at ``path``."""
    with rasterio.open(path) as src:
        axes = ("x", "y") if src.crs.is_projected else ("Long", "Lat")
        return Grid(crs_uri(src.crs.to_wkt()), axes, tuple(src.bounds), tuple(src.res), src.count)


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


def _check_window(window: Bounds, grid: Grid, bands: int, param: str, given: str) -> None:
    """Refuse a native-CRS ``window`` that misses the raster or spans / decodes too many cells."""
    if not all(math.isfinite(v) for v in window):
        raise InvalidParameter(f"'{given}' lies outside the domain of the coverage's CRS", param=param)
    if not _overlaps(window, grid.bounds):
        raise InvalidParameter(
            f"'{given}' is outside the coverage extent {list(grid.bounds)} ({grid.crs})", param=param
        )
    (x0, y0, x1, y1), (rx, ry) = window, grid.res
    wide, high = (x1 - x0) / rx, (y1 - y0) / ry
    if max(wide, high) > MAX_WINDOW_SIDE:
        raise InvalidParameter(
            f"'{given}' spans {wide:.0f} x {high:.0f} pixels; at most {MAX_WINDOW_SIDE} per axis", param=param
        )
    b = grid.bounds
    clipped = (max(x0, b[0]), max(y0, b[1]), min(x1, b[2]), min(y1, b[3]))
    _check_cells(math.ceil((clipped[2] - clipped[0]) / rx) * math.ceil((clipped[3] - clipped[1]) / ry), bands, param)


def _check_cells(pixels: int, bands: int, param: str) -> None:
    if pixels * bands > MAX_OUTPUT_CELLS:
        raise InvalidParameter(
            f"the request decodes {pixels * bands} cells; at most {MAX_OUTPUT_CELLS} (ask for a smaller area)",
            param=param,
        )


def _band_count(params: QueryParams, grid: Grid) -> int:
    names = {n.strip() for n in params.get("properties", "").split(",") if n.strip()}
    return len(names) or grid.bands


def check_coverage_query(params: QueryParams, source: Path, serve_crs: Iterable[str]) -> None:
    """Raise :class:`InvalidParameter` for any coverage query pygeoapi would mishandle or that is too big."""
    for key in params:
        if len(params.getlist(key)) > 1:
            raise InvalidParameter("given more than once", param=key)
        if key == "datetime":
            raise InvalidParameter("the coverage has no time axis", param=key)
        if key not in ALLOWED:
            raise InvalidParameter(
                f"unknown parameter; the coverage accepts {', '.join(sorted(ALLOWED))}", param=key
            )
    grid = raster_grid(source)
    bands = _band_count(params, grid)
    if "bbox-crs" in params and "bbox" not in params:
        raise InvalidParameter("given without bbox", param="bbox-crs")
    if "bbox" in params:
        if "subset" in params:
            raise InvalidParameter("bbox and subset cannot be combined", param="subset")
        box = _check_box(_numbers(params["bbox"], "bbox"), "bbox")
        box_crs = check_crs_uri(params.get("bbox-crs", CRS84_URI), [*serve_crs, grid.crs], param="bbox-crs")
        bbox_to_crs84(box, box_crs)  # 400 outside the area of use of bbox-crs
        _check_window(bbox_to_crs(box, box_crs, grid.crs), grid, bands, "bbox", params["bbox"])
    elif "subset" in params:
        _check_window(_subset_window(params["subset"], grid.axes), grid, bands, "subset", params["subset"])
    elif params.get("f", "json").lower() != "gtiff" or "properties" in params:
        # the whole raster is decoded (CoverageJSON, or a band selection); a plain GeoTIFF is sent as is
        b, (rx, ry) = grid.bounds, grid.res
        _check_cells(round((b[2] - b[0]) / rx) * round((b[3] - b[1]) / ry), bands,
                     "properties" if "properties" in params else "f")


def _subset_window(text: str, axes: tuple[str, str]) -> Bounds:
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
    return x0, y0, x1, y1


Check = Callable[[QueryParams, re.Match, Scope], None]
"""Raises :class:`InvalidParameter` for a query it refuses; gets the query, the path match and the scope."""


def coverage_check(store: Store, serve_crs: Iterable[str]) -> Check:
    """The :data:`Check` of ``/collections/{id}/coverage`` for the rasters of the request's snapshot."""
    supported = list(serve_crs)

    def check(params: QueryParams, match: re.Match, scope: Scope) -> None:
        layer = scope["state"]["snapshot"].layers.get(match.group(1))
        if layer is not None and layer.kind == "raster":
            check_coverage_query(params, Path(store.raster_source(layer)), supported)

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
