"""CQL2 (a pygeofilter AST) compiled to a parameterised SQL ``WHERE`` clause, strictly typed.

Names are checked against the layer's field types and every literal against the type of what it is
compared with, so a typo or a text-vs-number comparison is a 400 naming ``filter`` instead of an empty
answer. Literals are always bound parameters. A :class:`Dialect` supplies what differs between
SQLite (the embedded store: spatial tests by a registered function behind an envelope pre-filter)
and PostGIS.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import shapely
from pygeofilter import ast, values

from geosvc.errors import InvalidParameter
from geosvc.store.query import SPATIAL_ATTRIBUTES

NUMERIC = ("integer", "number")
COMPARISONS = {ast.ComparisonOp.EQ: "=", ast.ComparisonOp.NE: "<>", ast.ComparisonOp.LT: "<",
               ast.ComparisonOp.LE: "<=", ast.ComparisonOp.GT: ">", ast.ComparisonOp.GE: ">="}
ARITHMETIC = {ast.ArithmeticOp.ADD: "+", ast.ArithmeticOp.SUB: "-", ast.ArithmeticOp.MUL: "*",
              ast.ArithmeticOp.DIV: "/"}
SPATIAL = {op: op.value.lower() for op in ast.SpatialComparisonOp}  # "intersects", "within", ...
MAX_DEPTH = 300  # left-deep AND/OR chains of CQL2 text nest one level per term
MAX_NODES = 2000


def _bad(message: str) -> InvalidParameter:
    return InvalidParameter(message, param="filter")


@dataclass
class Dialect:
    """SQL that differs between backends; ``placeholder`` is the bound-parameter marker."""

    placeholder: str = "?"

    def column(self, name: str) -> str:
        """A quoted column of the feature table (alias ``f``)."""
        return 'f."' + name.replace('"', '""') + '"'

    def time_value(self, sql: str) -> str:
        """A date/datetime column or parameter as a comparable number."""
        raise NotImplementedError

    def time_param(self, value: dt.datetime) -> object:
        """A date/datetime literal bound for :meth:`time_value`."""
        raise NotImplementedError

    def like(self, lhs: str, rhs: str, nocase: bool) -> str:
        """Case-sensitive (or, with CASEI, insensitive) LIKE with ``\\`` as escape."""
        raise NotImplementedError

    def spatial(self, op: str, geom: shapely.Geometry, params: list) -> str:
        """The feature's geometry (column of alias ``f``) related to a CRS84 literal by ``op``."""
        raise NotImplementedError

    def boolean(self, value: bool) -> object:
        """A boolean bound for comparison with a boolean column."""
        return value


@dataclass
class Compiler:
    """Compile one filter for a layer with ``fields`` (name -> geosvc field type)."""

    fields: dict[str, str]
    dialect: Dialect
    params: list = field(default_factory=list)
    _nodes: int = 0

    def compile(self, node: ast.Node) -> tuple[str, list]:
        """``(sql, params)`` for ``node`` as a condition."""
        sql = self._condition(node, 0)
        return sql, self.params

    # -- helpers -------------------------------------------------------------------------------
    def _bind(self, value: object) -> str:
        self.params.append(value)
        return self.dialect.placeholder

    def _tick(self, depth: int) -> None:
        self._nodes += 1
        if depth > MAX_DEPTH:
            raise _bad(f"nested deeper than {MAX_DEPTH} levels")
        if self._nodes > MAX_NODES:
            raise _bad(f"has more than {MAX_NODES} terms")

    def _condition(self, node, depth: int) -> str:
        self._tick(depth)
        if isinstance(node, bool):
            return "1=1" if node else "1=0"
        if isinstance(node, ast.Include):
            return "1=0" if node.not_ else "1=1"
        if isinstance(node, ast.Not):
            return f"NOT ({self._condition(node.sub_node, depth + 1)})"
        if isinstance(node, ast.Combination):
            kind = type(node)
            operands, pending = [], [node]
            while pending:  # a chain of one operator (a OR b OR c ...) as one flat list: shallow SQL
                item = pending.pop()
                if type(item) is kind:
                    self._tick(depth)
                    pending += [item.rhs, item.lhs]
                else:
                    operands.append(self._condition(item, depth + 1))
            return "(" + (" AND " if kind is ast.And else " OR ").join(operands) + ")"
        if isinstance(node, ast.Comparison):
            return self._comparison(node, depth)
        if isinstance(node, ast.Between):
            kind, lhs = self._scalar(node.lhs, depth + 1)
            low, high = self._literal(node.low, kind), self._literal(node.high, kind)
            neg = "NOT " if node.not_ else ""
            return f"{lhs} {neg}BETWEEN {low} AND {high}"
        if isinstance(node, ast.In):
            kind, lhs = self._scalar(node.lhs, depth + 1)
            if not node.sub_nodes:
                return "1=0" if not node.not_ else "1=1"
            items = ", ".join(self._literal(v, kind) for v in node.sub_nodes)
            return f"{lhs} {'NOT ' if node.not_ else ''}IN ({items})"
        if isinstance(node, ast.IsNull):
            if not isinstance(node.lhs, ast.Attribute):
                raise _bad("IS NULL needs a property name")
            _, lhs = self._attribute(node.lhs)
            return f"{lhs} IS {'NOT ' if node.not_ else ''}NULL"
        if isinstance(node, ast.Like):
            return self._like(node, depth)
        if isinstance(node, ast.SpatialComparisonPredicate):
            return self._spatial(SPATIAL[node.op], node.lhs, node.rhs)
        if isinstance(node, ast.BBox):
            box = shapely.box(node.minx, node.miny, node.maxx, node.maxy)
            return self._spatial("intersects", node.lhs, values.Geometry(shapely.geometry.mapping(box)))
        if isinstance(node, ast.TemporalPredicate):
            raise _bad(f"temporal operator '{node.op.value}' is not supported")
        if isinstance(node, ast.ArrayPredicate):
            raise _bad(f"array operator '{node.op.value}' is not supported")
        if isinstance(node, (ast.SpatialDistancePredicate, ast.Relate)):
            raise _bad(f"'{type(node).__name__}' is not supported")
        if isinstance(node, ast.Attribute):
            kind, sql = self._attribute(node)
            if kind != "boolean":
                raise _bad(f"'{node.name}' is a {kind} property, not a condition")
            return f"{sql} = {self._bind(self.dialect.boolean(True))}"
        raise _bad(f"unsupported expression {type(node).__name__}")

    def _attribute(self, node: ast.Attribute) -> tuple[str, str]:
        name = node.name
        if name not in self.fields:
            raise _bad(f"unknown queryable '{name}'")
        return self.fields[name], self.dialect.column(name)

    def _scalar(self, node, depth: int) -> tuple[str, str]:
        """(type, sql) of a property or arithmetic over properties and numbers."""
        self._tick(depth)
        if isinstance(node, ast.Attribute):
            kind, sql = self._attribute(node)
            if kind in ("date", "datetime"):
                return "time", self.dialect.time_value(sql)
            return kind, sql
        if isinstance(node, ast.Arithmetic):
            parts = []
            for side in (node.lhs, node.rhs):
                if isinstance(side, ast.Node):
                    kind, sql = self._scalar(side, depth + 1)
                    if kind not in NUMERIC:
                        raise _bad(f"arithmetic on a {kind} value")
                    parts.append(sql)
                else:
                    parts.append(self._literal(side, "number"))
            return "number", f"({parts[0]} {ARITHMETIC[node.op]} {parts[1]})"
        if isinstance(node, ast.Function):
            raise _bad(f"unsupported function '{node.name}'")
        raise _bad(f"expected a property name, got {type(node).__name__}")

    def _literal(self, value, kind: str) -> str:
        """Bind ``value`` after checking it can be compared with a ``kind`` value."""
        if isinstance(value, ast.Node):
            raise _bad("a list or range holds literal values only")
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _bad(f"cannot compare a boolean property with {value!r}")
            return self._bind(self.dialect.boolean(value))
        if kind in NUMERIC:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _bad(f"cannot compare a number with {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise _bad(f"{value!r} is not a finite number")
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise _bad(f"{value} is out of range")
            return self._bind(value)
        if kind == "time":
            return self.dialect.time_value(self._bind(self.dialect.time_param(_as_datetime(value))))
        if kind == "string":
            if not isinstance(value, str):
                raise _bad(f"cannot compare a text property with {value!r}")
            return self._bind(value)
        raise _bad(f"cannot compare a {kind} property")

    def _comparison(self, node: ast.Comparison, depth: int) -> str:
        op = COMPARISONS[node.op]
        lhs, rhs = node.lhs, node.rhs
        if not isinstance(lhs, ast.Node) and isinstance(rhs, ast.Node):  # 5 < x
            lhs, rhs = rhs, lhs
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        if not isinstance(lhs, ast.Node):  # two literals, e.g. 1 = 1
            kind = _literal_kind(lhs)
            return f"{self._literal(lhs, kind)} {op} {self._literal(rhs, kind)}"
        kind, left = self._scalar(lhs, depth + 1)
        if isinstance(rhs, ast.Node):
            other, right = self._scalar(rhs, depth + 1)
            if (kind in NUMERIC) != (other in NUMERIC) or (kind not in NUMERIC and kind != other):
                raise _bad(f"cannot compare a {kind} value with a {other} value")
            return f"{left} {op} {right}"
        return f"{left} {op} {self._literal(rhs, kind)}"

    def _like(self, node: ast.Like, depth: int) -> str:
        kind, lhs = self._scalar(node.lhs, depth + 1)
        if kind != "string" or not isinstance(node.pattern, str):
            raise _bad("LIKE needs a text property and a text pattern")
        pattern = _like_pattern(node.pattern, node.wildcard, node.singlechar, node.escapechar)
        sql = self.dialect.like(lhs, self._bind(pattern), node.nocase)
        return f"NOT ({sql})" if node.not_ else sql

    def _spatial(self, op: str, lhs, rhs) -> str:
        if isinstance(lhs, (values.Geometry, values.Envelope)) and isinstance(rhs, ast.Attribute):
            lhs, rhs = rhs, lhs
            op = {"within": "contains", "contains": "within"}.get(op, op)
        if not (isinstance(lhs, ast.Attribute) and lhs.name.lower() in SPATIAL_ATTRIBUTES):
            raise _bad(f"spatial operator '{op}' needs the geometry ({'/'.join(SPATIAL_ATTRIBUTES)}) on one side")
        return self.dialect.spatial(op, _literal_geometry(rhs), self.params)


def _literal_kind(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (dt.date, dt.datetime)):
        return "time"
    raise _bad(f"cannot compare {value!r}")


def _as_datetime(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _bad(f"'{value}' is not a date or timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    raise _bad(f"cannot compare a date with {value!r}")


def _like_pattern(pattern: str, wildcard: str, single: str, escape: str) -> str:
    """A CQL2 LIKE pattern in SQL form (``%`` / ``_`` wildcards, ``\\`` escape)."""
    out, chars, i = [], pattern, 0
    while i < len(chars):
        ch = chars[i]
        if ch == escape and i + 1 < len(chars):
            nxt = chars[i + 1]
            out.append("\\" + nxt if nxt in "%_\\" else nxt)
            i += 2
            continue
        if ch == wildcard:
            out.append("%")
        elif ch == single:
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _literal_geometry(node) -> shapely.Geometry:
    if isinstance(node, values.Envelope):
        return shapely.box(node.x1, node.y1, node.x2, node.y2)
    if isinstance(node, values.Geometry):
        try:
            geom = shapely.geometry.shape(node.geometry)
        except Exception as exc:
            raise _bad(f"invalid geometry: {exc}") from exc
        if geom.is_empty:
            raise _bad("empty geometry")
        return geom
    raise _bad("a spatial operator needs a geometry literal on one side")

