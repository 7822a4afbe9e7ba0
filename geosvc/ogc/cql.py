"""CQL2 filters (text and JSON) parsed by pygeofilter and evaluated vectorised on a layer frame.

Fixes two pygeofilter gaps that made stock pygeoapi answer 500: ``BBOX(...)`` in CQL2 text parses to
a function call, and CQL2 JSON ``{"bbox": [...]}`` is read in the wrong order.
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

from geosvc.errors import InvalidParameter
from geosvc.ogc.crs import bbox_to_crs84, geometry_to_crs84

FILTER_LANGS = ("cql2-text", "cql2-json")
GEOMETRY_NAMES = ("geom", "geometry", "the_geom", "shape")


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


def parse_filter(text: str, lang: str | None) -> ast.Node:
    """Parse a ``filter`` value; ``lang`` defaults to cql2-text. Raises 400 on any syntax error."""
    lang = lang or "cql2-text"
    if lang not in FILTER_LANGS:
        raise InvalidParameter(
            f"unsupported filter-lang '{lang}'; use one of {', '.join(FILTER_LANGS)}", param="filter-lang"
        )
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
        return geometry_to_crs84(geom, self.filter_crs)

    @handle(values.Envelope)
    def envelope(self, node):
        bounds = bbox_to_crs84((node.x1, node.y1, node.x2, node.y2), self.filter_crs)
        return shapely.box(*bounds)

    @handle(ast.Function)
    def function(self, node, *arguments):
        if node.name.lower() == "bbox" and len(arguments) in (4, 6):
            coords = _bbox4(list(arguments))
            return shapely.box(*bbox_to_crs84(tuple(coords), self.filter_crs))
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
