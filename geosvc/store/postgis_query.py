"""The store's query seam on a PostGIS version table: the same matches, order and pages as the embedded store.

A version table holds per feature ``geosvc_fid`` (1..n in feature order), the id as text, the
pre-encoded JSON parts, the time as epoch seconds, the CRS84 geometry (GiST-indexed) and one typed
column per field (text columns in the "C" collation, so comparisons and sorting are by code point as
in SQLite). Everything is one parameterised statement; CQL2 compiles through :class:`Compiler`.
"""

from __future__ import annotations

import datetime as dt

import shapely

from geosvc.store.base import PublishedLayer
from geosvc.store.query import FeatureQuery
from geosvc.store.sqlfilter import Compiler, Dialect

FID, FID_TEXT, ID_JSON, GEOM_JSON, PROPS_JSON, TIME, GEOM = (
    "geosvc_fid", "geosvc_fid_text", "geosvc_id_json", "geosvc_geom_json", "geosvc_props_json", "geosvc_t",
    "geosvc_geom",
)
ROW_COLUMNS = f"f.{FID_TEXT}, f.{ID_JSON}, f.{GEOM_JSON}, f.{PROPS_JSON}"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_RELATE = {"intersects": "ST_Intersects", "disjoint": "ST_Disjoint", "within": "ST_Within",
           "contains": "ST_Contains", "touches": "ST_Touches", "crosses": "ST_Crosses",
           "overlaps": "ST_Overlaps", "equals": "ST_Equals"}


def quote(name: str) -> str:
    """An SQL identifier (``%`` doubled: statements go through psycopg's ``%s`` placeholders)."""
    return '"' + name.replace('"', '""').replace("%", "%%") + '"'


def table(location: str) -> str:
    """The quoted ``schema.table`` of a version's catalog location."""
    schema, _, name = location.partition(".")
    return f"{quote(schema)}.{quote(name)}"


class PostgisDialect(Dialect):
    """PostgreSQL/PostGIS: ``%s`` placeholders, ST_* predicates (GiST-indexed), timestamptz times."""

    def __init__(self):
        super().__init__(placeholder="%s")

    def column(self, name: str) -> str:
        return "f." + quote(name)

    def time_value(self, sql: str) -> str:
        return f"({sql})::timestamptz"

    def time_param(self, value: dt.datetime) -> object:
        return value.astimezone(dt.UTC)

    def like(self, lhs: str, rhs: str, nocase: bool) -> str:
        return f"{lhs} {'ILIKE' if nocase else 'LIKE'} {rhs}"

    def spatial(self, op: str, geom: shapely.Geometry, params: list) -> str:
        params.append(shapely.to_wkb(geom))
        return f"{_RELATE[op]}(f.{GEOM}, ST_GeomFromWKB(%s, 4326))"


DIALECT = PostgisDialect()


def _epoch(value: dt.datetime) -> float:
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH).total_seconds()


def where(layer: PublishedLayer, query: FeatureQuery) -> tuple[str, list]:
    """`` WHERE ...`` (or empty) and its parameters."""
    clauses: list[str] = []
    params: list = []
    if query.bbox is not None:
        clauses.append(f"ST_Intersects(f.{GEOM}, ST_MakeEnvelope(%s, %s, %s, %s, 4326))")
        params += [float(v) for v in query.bbox]
    for name, value in query.equals:
        column = DIALECT.column(name)
        if value is None:
            clauses.append(f"{column} IS NULL")
        elif layer.fields.get(name, "string") in ("date", "datetime"):
            stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
            clauses.append(f"{DIALECT.time_value(column)} = %s::timestamptz")
            params.append(DIALECT.time_param(stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)))
        else:
            clauses.append(f"{column} = %s")
            params.append(value)
    if query.interval is not None:
        start, end = query.interval
        clauses.append(f"f.{TIME} IS NOT NULL")
        if start is not None:
            clauses.append(f"f.{TIME} >= %s")
            params.append(_epoch(start))
        if end is not None:
            clauses.append(f"f.{TIME} <= %s")
            params.append(_epoch(end))
    if query.filter is not None:
        sql, filter_params = Compiler(dict(layer.fields), DIALECT).compile(query.filter)
        clauses.append(sql)
        params += filter_params
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


def count_sql(layer: PublishedLayer, query: FeatureQuery) -> tuple[str, list] | None:
    """The exact count of matches, or None when it is the version's feature count."""
    condition, params = where(layer, query)
    if not condition:
        return None
    return f"SELECT COUNT(*) FROM {table(layer.location)} f{condition}", params


def page_sql(layer: PublishedLayer, query: FeatureQuery) -> tuple[str, list]:
    """One page of matches: sort keys (NULLs last), then feature order; LIMIT/OFFSET."""
    condition, params = where(layer, query)
    order = [f"({DIALECT.column(n)} IS NULL), {DIALECT.column(n)}{'' if asc else ' DESC'}" for n, asc in query.sortby]
    columns = ROW_COLUMNS + (f", ST_AsBinary(f.{GEOM})" if query.wkb else "")
    sql = (f"SELECT {columns} FROM {table(layer.location)} f{condition} "
           f"ORDER BY {', '.join([*order, f'f.{FID}'])} LIMIT %s OFFSET %s")
    return sql, [*params, query.limit, query.offset]


def feature_sql(layer: PublishedLayer, fid: str, wkb: bool) -> tuple[str, list]:
    """One feature by its id text."""
    columns = ROW_COLUMNS + (f", ST_AsBinary(f.{GEOM})" if wkb else "")
    return (f"SELECT {columns} FROM {table(layer.location)} f WHERE f.{FID_TEXT} = %s ORDER BY f.{FID} LIMIT 1",
            [fid])


def frame_sql(layer: PublishedLayer, query: FeatureQuery | None, columns: list[str] | None) -> tuple[str, list]:
    """Fields (all or ``columns``) and WKB geometry of every match, in feature order."""
    names = [n for n in layer.fields if columns is None or n in columns]
    condition, params = where(layer, query) if query is not None else ("", [])
    select = ", ".join([*(DIALECT.column(n) for n in names), f"ST_AsBinary(f.{GEOM})"])
    return f"SELECT {select} FROM {table(layer.location)} f{condition} ORDER BY f.{FID}", params
