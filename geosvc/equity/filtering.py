"""CQL2 filters (text or JSON) evaluated on a GeoDataFrame with pygeofilter's geopandas backend.

Attribute names are checked against the frame before evaluation, so a typo is a clear
:class:`~geosvc.errors.InvalidParameter` instead of a ``KeyError`` deep inside pygeofilter.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

import shapely
from pygeofilter import ast
from pygeofilter.backends.geopandas.evaluate import to_filter
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

from geosvc.errors import InvalidParameter

if TYPE_CHECKING:
    import geopandas as gpd

FilterLang = Literal["cql2-text", "cql2-json"]

# pygeofilter's CQL2-text grammar reads BBOX(...) as a function call
_FUNCTIONS = {"bbox": lambda minx, miny, maxx, maxy, *_: shapely.box(minx, miny, maxx, maxy)}


def parse_filter(text: str | dict, lang: FilterLang = "cql2-text") -> ast.Node:
    """Parse a CQL2 expression; raise :class:`InvalidParameter` naming ``filter`` when malformed.

    Examples
    --------
    >>> parse_filter("DM >= 2")
    GreaterEqual(lhs=ATTRIBUTE DM, rhs=2)
    """
    try:
        if lang == "cql2-json":
            return parse_cql2_json(json.dumps(text) if isinstance(text, dict) else text)
        if not isinstance(text, str):
            raise InvalidParameter("cql2-text filter must be a string", param="filter")
        return parse_cql2_text(text)
    except InvalidParameter:
        raise
    except Exception as exc:  # pygeofilter raises lark / json / value errors of many kinds
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidParameter(f"cannot parse {lang} expression: {cause}", param="filter") from exc


def _names(node, kind: type) -> set[str]:
    """Names of the attributes (or functions) used anywhere in the expression."""
    found: set[str] = {node.name} if isinstance(node, kind) else set()
    if isinstance(node, ast.Function):
        subs = node.arguments
    elif isinstance(node, ast.Node):
        subs = node.get_sub_nodes()
    else:
        subs = node if isinstance(node, (list, tuple)) else []
    for sub in subs:
        found |= _names(sub, kind)
    return found


def filter_frame(
    frame: gpd.GeoDataFrame, text: str | dict, lang: FilterLang = "cql2-text", *, layer: str | None = None
) -> gpd.GeoDataFrame:
    """Rows of ``frame`` matching the CQL2 expression (geometry column is ``geometry``).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> df = gpd.GeoDataFrame({"DM": [0, 2, 3]}, geometry=[box(0, 0, 1, 1)] * 3, crs="OGC:CRS84")
    >>> filter_frame(df, "DM >= 2").DM.tolist()
    [2, 3]
    """
    node = parse_filter(text, lang)
    known = set(frame.columns)
    functions = sorted(_names(node, ast.Function) - set(_FUNCTIONS))
    if functions:
        raise InvalidParameter(f"unsupported function {', '.join(functions)} in filter", layer=layer, param="filter")
    unknown = sorted(_names(node, ast.Attribute) - known)
    if unknown:
        fields = ", ".join(sorted(c for c in known if c != frame.geometry.name))
        raise InvalidParameter(
            f"unknown field {', '.join(unknown)} in filter (fields: {fields})", layer=layer, param="filter"
        )
    try:
        mask = to_filter(frame, node, {c: c for c in frame.columns}, _FUNCTIONS)
    except Exception as exc:  # type mismatches (e.g. comparing text to a number)
        raise InvalidParameter(f"cannot evaluate filter: {exc}", layer=layer, param="filter") from exc
    if mask is None or not hasattr(mask, "dtype") or mask.dtype != bool:
        raise InvalidParameter("filter does not evaluate to true/false per feature", layer=layer, param="filter")
    return frame[mask.to_numpy()]
