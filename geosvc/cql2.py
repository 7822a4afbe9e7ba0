"""CQL2 filters (text and JSON) parsed by pygeofilter and evaluated vectorised on a frame.

The one CQL2 module: the OGC API items ``filter`` and the equity hazard ``filter`` both use it
(pure: no web framework, no pygeoapi). Fixes two pygeofilter gaps that made stock pygeoapi answer
500: ``BBOX(...)`` in CQL2 text parses to a function call, and CQL2 JSON ``{"bbox": [...]}`` is
read in the wrong order. Expressions longer than :data:`MAX_FILTER_CHARS` or nested deeper than
:data:`MAX_FILTER_DEPTH` are refused before parsing (the parsers recurse).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
from lark import Lark
from pygeofilter import ast, values
from pygeofilter.backends.evaluator import handle
from pygeofilter.backends.geopandas.evaluate import GeoPandasEvaluator
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parser as cql2_text_parser

from geosvc.crs import CRS84_URI, bbox_to_crs84, geometry_to_crs84
from geosvc.errors import InvalidParameter
from geosvc.store.query import SPATIAL_ATTRIBUTES

CRS84 = CRS84_URI

FILTER_LANGS = ("cql2-text", "cql2-json")


def _bbox4(coords: list) -> list:
    """minx, miny, maxx, maxy from a 2D or 3D bbox."""
    if len(coords) == 6:
        coords = [coords[0], coords[1], coords[3], coords[4]]
    if len(coords) != 4 or not all(isinstance(c, (int, float)) for c in coords):
        raise InvalidParameter("a bbox needs 4 or 6 numbers", param="filter")
    return list(coords)


def _fix_json_bboxes(node: Any) -> Any:
    # pygeofilter reads {"bbox": [minx, miny, maxx, maxy]} as Envelope(x1, x2, y1, y2): swap to its order;
    # and it wants CQL2's {"op": "between", "args": [a, low, high]} as [a, [low, high]].
    if isinstance(node, dict):
        if node.get("op") == "between" and isinstance(node.get("args"), list) and len(node["args"]) == 3:
            a, low, high = node["args"]
            node = {**node, "args": [a, [low, high]]}
        if set(node) == {"bbox"} and isinstance(node["bbox"], list):
            coords = _bbox4(node["bbox"])
            return {"bbox": [coords[0], coords[2], coords[1], coords[3]]}
        return {k: _fix_json_bboxes(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_fix_json_bboxes(v) for v in node]
    return node


_OLD_CONDITION = """?condition: condition_1
          | condition "AND"i condition_1                                 -> and_
          | condition "OR"i condition_1                                   -> or_"""
_CONDITION = """?condition: condition_and
          | condition "OR"i condition_and -> or_

?condition_and: condition_1
          | condition_and "AND"i condition_1 -> and_"""


def _text_parser() -> Lark:
    """pygeofilter's CQL2-text parser with AND binding tighter than OR (its grammar gives them one precedence)."""
    folder = Path(cql2_text_parser.__file__).parent
    grammar = (folder / "grammar.lark").read_text()
    if _OLD_CONDITION not in grammar:
        raise RuntimeError("pygeofilter's CQL2-text grammar changed; review geosvc.cql2")
    return Lark(grammar.replace(_OLD_CONDITION, _CONDITION), parser="lalr", maybe_placeholders=False,
                transformer=cql2_text_parser.CQLTransformer(), import_paths=[str(folder.parent), str(folder)])


_TEXT_PARSER = _text_parser()


def parse_cql2_text(text: str) -> ast.Node:
    """CQL2 text -> pygeofilter AST (with CQL2's operator precedence)."""
    return _TEXT_PARSER.parse(text)


_BOOLEAN = re.compile(r"(?<![\w'])(TRUE|FALSE)(?![\w'])", re.IGNORECASE)


def _prepare_text(text: str) -> tuple[str, dict[str, str]]:
    """Work around two pygeofilter CQL2-text gaps before parsing.

    Strings with doubled quotes (``'O''Brien'``) become placeholders (the grammar has no escape), and
    ``TRUE``/``FALSE`` used as predicates become ``INCLUDE``/``EXCLUDE`` (kept where compared or listed).
    """
    out: list[str] = []
    literals: dict[str, str] = {}
    i = 0
    while i < len(text):
        if text[i] != "'":
            j = text.find("'", i)
            j = len(text) if j < 0 else j
            out.append(_BOOLEAN.sub(lambda m: _boolean_predicate(m, text[i:j]), text[i:j]))
            i = j
            continue
        j, value = i + 1, []
        while j < len(text):
            if text[j] == "'" and text[j + 1 : j + 2] == "'":
                value.append("'")
                j += 2
            elif text[j] == "'":
                break
            else:
                value.append(text[j])
                j += 1
        raw = text[i : j + 1]
        if "''" in raw[1:-1]:
            key = f"__geosvc_literal_{len(literals)}__"
            literals[key] = "".join(value)
            raw = f"'{key}'"
        out.append(raw)
        i = j + 1
    return "".join(out), literals


def _boolean_predicate(match: re.Match, chunk: str) -> str:
    before = chunk[: match.start()].rstrip()[-1:]
    after = chunk[match.end():].lstrip()[:1]
    if before in ("=", "<", ">", ",") or after in ("=", "<", ">", ","):
        return match.group(0)  # a boolean value compared or listed
    return "INCLUDE" if match.group(1).upper() == "TRUE" else "EXCLUDE"


def _restore_literals(node, literals: dict[str, str]):
    if isinstance(node, str):
        return literals.get(node, node)
    if isinstance(node, list):
        return [_restore_literals(item, literals) for item in node]
    if dataclasses.is_dataclass(node) and isinstance(node, ast.Node):
        changes = {f.name: _restore_literals(getattr(node, f.name), literals) for f in dataclasses.fields(node)}
        return dataclasses.replace(node, **changes)
    return node


def _fix_like(node: ast.Node):
    """pygeofilter's parsers read LIKE's single-character wildcard as ``.``; CQL2 says ``_``."""
    if isinstance(node, ast.Like):
        return dataclasses.replace(node, singlechar="_")
    if dataclasses.is_dataclass(node) and isinstance(node, ast.Node):
        changes = {f.name: _fix_like(getattr(node, f.name)) for f in dataclasses.fields(node)
                   if isinstance(getattr(node, f.name), ast.Node)}
        return dataclasses.replace(node, **changes) if changes else node
    return node


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


def _json_int(text: str) -> int:
    number = int(text)
    if not -(2**63) <= number < 2**63:
        shown = text if len(text) <= 24 else text[:21] + "..."
        raise InvalidParameter(f"integer {shown} does not fit in 64 bits", param="filter")
    return number


def _load_json(text: str) -> Any:
    """The JSON value of ``text``; 400 on integers beyond 64 bits and on lone surrogates (``"\\ud800"``)."""
    value = json.loads(text, parse_int=_json_int)
    try:
        orjson.dumps(value)  # refuses strings that are not valid Unicode (lone surrogates)
    except orjson.JSONEncodeError as exc:
        raise InvalidParameter(f"not valid Unicode text: {exc}", param="filter") from None
    return value


MAX_COLLECTION_DEPTH = 8
"""Deepest nesting of GeometryCollections accepted in a geometry literal."""


def _collection_depth(geometry: Any) -> int:
    if not (isinstance(geometry, dict) and geometry.get("type") == "GeometryCollection"):
        return 0
    return 1 + max((_collection_depth(g) for g in geometry.get("geometries") or []), default=0)


def parse_filter(text: str | dict, lang: str | None, filter_crs: str = CRS84) -> ast.Node:
    """Parse a ``filter`` value (CQL2 JSON may come decoded; ``lang`` defaults to cql2-text) with
    geometry literals in CRS84. Raises 400 on any syntax error, on a filter too long or too deep, on
    GeometryCollections nested deeper than :data:`MAX_COLLECTION_DEPTH`, and in CQL2 JSON on integers
    beyond 64 bits and lone surrogates.

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
            node = parse_cql2_json(_fix_json_bboxes(_load_json(text)))
            node = True if node is True else False if node is False else _fix_like(node)
        else:
            prepared, literals = _prepare_text(text)
            node = _fix_like(_restore_literals(parse_cql2_text(prepared), literals))
        return to_crs84(node, filter_crs)
    except InvalidParameter:
        raise
    except RecursionError:
        raise InvalidParameter("nested too deeply", param="filter") from None
    except Exception as exc:  # pygeofilter/lark raise many unrelated types on bad input
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidParameter(f"cannot parse {lang} filter: {first}", param="filter") from exc


def _geometry_literal(geom: shapely.Geometry, filter_crs: str) -> values.Geometry:
    return values.Geometry(shapely.geometry.mapping(geometry_to_crs84(geom, filter_crs)))


def to_crs84(node, filter_crs: str):
    """The same expression with every geometry literal (incl. ``BBOX(...)``) as CRS84 GeoJSON."""
    if isinstance(node, values.Geometry):
        if _collection_depth(node.geometry) > MAX_COLLECTION_DEPTH:
            raise InvalidParameter(f"GeometryCollections nested deeper than {MAX_COLLECTION_DEPTH} levels",
                                   param="filter")
        try:
            geom = shapely.geometry.shape(node.geometry)
        except Exception as exc:
            raise InvalidParameter(f"invalid geometry in filter: {exc}", param="filter") from exc
        return _geometry_literal(geom, filter_crs)
    if isinstance(node, values.Envelope):
        return _geometry_literal(shapely.box(node.x1, node.y1, node.x2, node.y2), filter_crs)
    if isinstance(node, ast.Function) and node.name.lower() == "bbox":
        coords = _bbox4(list(node.arguments))
        box = shapely.box(*bbox_to_crs84(tuple(coords), filter_crs, param="filter"))
        return values.Geometry(shapely.geometry.mapping(box))
    if isinstance(node, ast.BBox):
        corners = (node.minx, node.miny, node.maxx, node.maxy)
        box = shapely.box(*bbox_to_crs84(corners, node.crs or filter_crs, param="filter"))
        return ast.GeometryIntersects(to_crs84(node.lhs, filter_crs), values.Geometry(shapely.geometry.mapping(box)))
    if isinstance(node, list):
        return [to_crs84(item, filter_crs) for item in node]
    if dataclasses.is_dataclass(node) and isinstance(node, ast.Node):
        changes = {f.name: to_crs84(getattr(node, f.name), filter_crs) for f in dataclasses.fields(node)
                   if isinstance(getattr(node, f.name), (ast.Node, list, values.Geometry, values.Envelope))}
        return dataclasses.replace(node, **changes) if changes else node
    return node


class _Evaluator(GeoPandasEvaluator):
    """pygeofilter's GeoPandas evaluator, strict about names and aware of ``filter-crs``."""

    def __init__(self, frame: gpd.GeoDataFrame, filter_crs: str):
        super().__init__(frame)
        self.filter_crs = filter_crs

    @handle(ast.Attribute)
    def attribute(self, node):
        if node.name.lower() in SPATIAL_ATTRIBUTES:
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
        bounds = bbox_to_crs84((node.x1, node.y1, node.x2, node.y2), self.filter_crs, param="filter")
        return shapely.box(*bounds)

    @handle(ast.Function)
    def function(self, node, *arguments):
        if node.name.lower() == "bbox" and len(arguments) in (4, 6):
            coords = _bbox4(list(arguments))
            return shapely.box(*bbox_to_crs84(tuple(coords), self.filter_crs, param="filter"))
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
