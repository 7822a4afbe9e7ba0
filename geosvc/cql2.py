"""CQL2 filters (text and JSON) parsed by pygeofilter and evaluated vectorised on a frame.

The one CQL2 module: the OGC API items ``filter`` and the equity hazard ``filter`` both use it
(pure: no web framework, no pygeoapi). Fixes two pygeofilter gaps that made stock pygeoapi answer
500: ``BBOX(...)`` in CQL2 text parses to a function call, and CQL2 JSON ``{"bbox": [...]}`` is
read in the wrong order. Expressions longer than :data:`MAX_FILTER_CHARS` or nested deeper than
:data:`MAX_FILTER_DEPTH` are refused before parsing (the parsers recurse).
"""

from __future__ import annotations

import json
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pygeofilter import ast, values
from pygeofilter.backends.evaluator import handle
from pygeofilter.backends.geopandas.evaluate import GeoPandasEvaluator
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

from geosvc.crs import CRS84_URI, axis_order_transformer
from geosvc.errors import InvalidParameter

FILTER_LANGS = ("cql2-text", "cql2-json")
GEOMETRY_NAMES = ("geom", "geometry", "the_geom", "shape")
MAX_FILTER_CHARS = 20_000
"""Longest filter accepted (characters of CQL2 text or JSON)."""
MAX_FILTER_DEPTH = 64
"""Deepest nesting accepted (brackets in CQL2 text, objects and arrays in CQL2 JSON)."""


def _depth(text: str) -> int:
    """Deepest bracket nesting of ``text`` (string literals included: a bound, not a parse)."""
    level = deepest = 0
    for char in text:
        if char in "([{":
            level += 1
            deepest = max(deepest, level)
        elif char in ")]}":
            level -= 1
    return deepest


def _nesting(value: Any) -> int:
    """Deepest nesting of decoded JSON (objects and arrays), measured without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_FILTER_DEPTH:
                stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def check_filter(value: str | dict) -> None:
    """Refuse (400) a filter longer than :data:`MAX_FILTER_CHARS` or nested deeper than :data:`MAX_FILTER_DEPTH`.

    >>> check_filter({"op": "not", "args": [{"op": "=", "args": [{"property": "a"}, 1]}]})
    >>> check_filter("(" * 100 + "a = 1" + ")" * 100)
    Traceback (most recent call last):
    ...
    geosvc.errors.InvalidParameter: parameter 'filter': filter is nested too deeply (at most 64 levels)
    """
    if not isinstance(value, str):
        if _nesting(value) > MAX_FILTER_DEPTH:
            raise InvalidParameter(f"filter is nested too deeply (at most {MAX_FILTER_DEPTH} levels)", param="filter")
        value = json.dumps(value)
    _check_size(value)


def _check_size(text: str) -> None:
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidParameter(f"filter is too long ({len(text)} characters; at most {MAX_FILTER_CHARS})",
                               param="filter")
    if _depth(text) > MAX_FILTER_DEPTH:
        raise InvalidParameter(f"filter is nested too deeply (at most {MAX_FILTER_DEPTH} levels)", param="filter")


def _bbox4(coords: list) -> list:
    """minx, miny, maxx, maxy from a 2D or 3D bbox."""
    if len(coords) == 6:
        coords = [coords[0], coords[1], coords[3], coords[4]]
    if len(coords) != 4 or not all(isinstance(c, (int, float)) for c in coords):
        raise InvalidParameter("a bbox needs 4 or 6 numbers", param="filter")
    return list(coords)


def _fix_json_bboxes(node: Any) -> Any:
    # pygeofilter reads {"bbox": [minx, miny, maxx, maxy]} as Envelope(x1, x2, y1, y2): swap to its order.
    if isinstance(node, dict):
        if set(node) == {"bbox"} and isinstance(node["bbox"], list):
            coords = _bbox4(node["bbox"])
            return {"bbox": [coords[0], coords[2], coords[1], coords[3]]}
        return {k: _fix_json_bboxes(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_fix_json_bboxes(v) for v in node]
    return node


def parse_filter(text: str | dict, lang: str | None) -> ast.Node:
    """Parse a ``filter`` value (CQL2 JSON may come already decoded); ``lang`` defaults to cql2-text.

    Raises 400 on any syntax error, and on a filter too long or too deeply nested.

    >>> parse_filter("DM >= 2", None)
    GreaterEqual(lhs=ATTRIBUTE DM, rhs=2)
    """
    lang = lang or "cql2-text"
    if lang not in FILTER_LANGS:
        raise InvalidParameter(
            f"unsupported filter-lang '{lang}'; use one of {', '.join(FILTER_LANGS)}", param="filter-lang"
        )
    if not isinstance(text, str):
        if lang != "cql2-json":
            raise InvalidParameter("a cql2-text filter must be a string", param="filter")
        check_filter(text)
        text = json.dumps(text)
    check_filter(text)
    try:
        if lang == "cql2-json":
            return parse_cql2_json(_fix_json_bboxes(json.loads(text)))
        return parse_cql2_text(text)
    except InvalidParameter:
        raise
    except Exception as exc:  # pygeofilter/lark raise many unrelated types on bad input
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidParameter(f"cannot parse {lang} filter: {first}", param="filter") from exc


class _Evaluator(GeoPandasEvaluator):
    """pygeofilter's GeoPandas evaluator, strict about names and aware of ``filter-crs``."""

    def __init__(self, frame: gpd.GeoDataFrame, filter_crs: str):
        super().__init__(frame)
        self.filter_crs = filter_crs

    @handle(ast.Attribute)
    def attribute(self, node):
        if node.name.lower() in GEOMETRY_NAMES:
            return self.df.geometry
        if node.name not in self.df.columns or node.name == self.df.geometry.name:
            raise InvalidParameter(f"unknown queryable '{node.name}'", param="filter")
        return self.df[node.name]

    @handle(values.Geometry)
    def geometry(self, node):
        try:
            geom = shapely.geometry.shape(node.geometry)
        except Exception as exc:
            raise InvalidParameter(f"invalid geometry in filter: {exc}", param="filter") from exc
        return self._to_crs84(geom)

    def _to_crs84(self, geom):
        if self.filter_crs == CRS84_URI:
            return geom
        transformer = axis_order_transformer(self.filter_crs)
        return shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))

    def _bbox(self, coords) -> shapely.Geometry:
        if self.filter_crs == CRS84_URI:
            return shapely.box(*coords)
        return shapely.box(*axis_order_transformer(self.filter_crs).transform_bounds(*coords, densify_pts=21))

    @handle(values.Envelope)
    def envelope(self, node):
        return self._bbox((node.x1, node.y1, node.x2, node.y2))

    @handle(ast.Function)
    def function(self, node, *arguments):
        if node.name.lower() == "bbox" and len(arguments) in (4, 6):
            return self._bbox(tuple(_bbox4(list(arguments))))
        raise InvalidParameter(f"unsupported function '{node.name}' in filter", param="filter")

    @handle(ast.TemporalPredicate, subclasses=True)
    def temporal(self, node, lhs, rhs):
        raise InvalidParameter(f"temporal operator '{node.op.value}' is not supported", param="filter")

    @handle(ast.ArrayPredicate, subclasses=True)
    def array(self, node, lhs, rhs):
        raise InvalidParameter(f"array operator '{node.op.value}' is not supported", param="filter")

    def adopt(self, node, *sub_args):
        raise InvalidParameter(f"unsupported filter expression {type(node).__name__}", param="filter")


def evaluate_filter(node: ast.Node, frame: gpd.GeoDataFrame, filter_crs: str) -> np.ndarray:
    """Boolean mask of the rows of ``frame`` matching ``node``; 400 on type mismatches."""
    try:
        result = _Evaluator(frame, filter_crs).evaluate(node)
    except InvalidParameter:
        raise
    except Exception as exc:  # comparing a text field with a number, LIKE on numbers, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InvalidParameter(f"filter cannot be applied: {first}", param="filter") from exc
    if isinstance(result, (bool, np.bool_)):
        return np.full(len(frame), bool(result))
    if not isinstance(result, (pd.Series, np.ndarray)):
        raise InvalidParameter("filter is not a predicate", param="filter")
    mask = np.asarray(pd.Series(result).fillna(False), dtype=bool)
    if mask.shape != (len(frame),):
        raise InvalidParameter("filter is not a predicate", param="filter")
    return mask


def filter_frame(frame: gpd.GeoDataFrame, text: str | dict, lang: str | None = None, *,
                 layer: str | None = None) -> gpd.GeoDataFrame:
    """Rows of a CRS84 ``frame`` matching a CQL2 filter, exactly as the OGC API items ``filter``.

    >>> from shapely import box
    >>> df = gpd.GeoDataFrame({"DM": [0, 2, 3]}, geometry=[box(0, 0, 1, 1)] * 3, crs="OGC:CRS84")
    >>> filter_frame(df, "DM >= 2").DM.tolist()
    [2, 3]
    """
    try:
        return frame[evaluate_filter(parse_filter(text, lang), frame, CRS84_URI)]
    except InvalidParameter as exc:
        raise InvalidParameter(exc.message, layer=layer, param=exc.param) from exc
