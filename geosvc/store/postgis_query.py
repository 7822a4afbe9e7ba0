"""The store's query seam on a PostGIS version table: the same matches, order and pages as the embedded store.

A version table holds per feature ``geosvc_fid`` (1..n in feature order), the id as text, the
pre-encoded JSON parts, the time as epoch seconds, the CRS84 geometry (GiST-indexed), the exact width
and height of its CRS84 envelope (the embedded store's item envelopes; GiST boxes are float-rounded)
and one typed column per field (text columns in the "C" collation, so comparisons and sorting are by
code point as in SQLite). Everything is one parameterised statement; CQL2 compiles through
:class:`Compiler`; output CRSs are transformed in SQL (``ST_Transform``, authority axis order).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import shapely

from geosvc.crs import database_crs, is_crs84
from geosvc.store.base import PublishedLayer
from geosvc.store.query import FeatureQuery
from geosvc.store.sqlfilter import Compiler, Dialect
from geosvc.tiles.build import is_point_layer, tile_query
from geosvc.tiles.grid import BUFFER, EXTENT, TileAddress
from geosvc.tiles.mvt import MIN_SIZE_UNITS, SIMPLIFY_UNITS

FID, FID_TEXT, ID_JSON, GEOM_JSON, PROPS_JSON, TIME, GEOM, WIDTH, HEIGHT = (
    "geosvc_fid", "geosvc_fid_text", "geosvc_id_json", "geosvc_geom_json", "geosvc_props_json", "geosvc_t",
    "geosvc_geom", "geosvc_w", "geosvc_h",
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
    if query.min_size is not None:
        clauses.append(f"((f.{WIDTH} = 0 AND f.{HEIGHT} = 0) OR f.{WIDTH} >= %s OR f.{HEIGHT} >= %s)")
        params += [float(v) for v in query.min_size]
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


def output_geometry(crs: str) -> str | None:
    """The geometry in the output CRS ``crs`` (an OGC URI), in its axis order; None when PostGIS cannot
    name it (no EPSG code: the caller transforms in Python)."""
    if is_crs84(crs):
        return f"f.{GEOM}"
    known = database_crs(crs)
    if known is None:
        return None
    srid, lat_first = known
    transformed = f"ST_Transform(f.{GEOM}, {int(srid)})"
    return f"ST_FlipCoordinates({transformed})" if lat_first else transformed


def _wkb_column(wkb: bool, crs: str) -> str:
    """The WKB column of a read: asked for, or the geometry transformed in SQL (encoded by the caller)."""
    expression = output_geometry(crs) or f"f.{GEOM}"
    return f", ST_AsBinary({expression})" if wkb or not is_crs84(crs) else ""


def page_sql(layer: PublishedLayer, query: FeatureQuery) -> tuple[str, list]:
    """One page of matches: size (largest first, if asked), sort keys (NULLs last), then feature order;
    LIMIT/OFFSET."""
    condition, params = where(layer, query)
    order = [f"({DIALECT.column(n)} IS NULL), {DIALECT.column(n)}{'' if asc else ' DESC'}" for n, asc in query.sortby]
    if query.largest_first is not None:
        order.insert(0, f"GREATEST(f.{WIDTH} / %s, f.{HEIGHT} / %s) DESC NULLS LAST")
        params += [float(v) for v in query.largest_first]
    columns = ROW_COLUMNS + _wkb_column(query.wkb, query.crs)
    sql = (f"SELECT {columns} FROM {table(layer.location)} f{condition} "
           f"ORDER BY {', '.join([*order, f'f.{FID}'])} LIMIT %s OFFSET %s")
    return sql, [*params, query.limit, query.offset]


def feature_sql(layer: PublishedLayer, fid: str, wkb: bool, crs: str) -> tuple[str, list]:
    """One feature by its id text."""
    columns = ROW_COLUMNS + _wkb_column(wkb, crs)
    return (f"SELECT {columns} FROM {table(layer.location)} f WHERE f.{FID_TEXT} = %s ORDER BY f.{FID} LIMIT 1",
            [fid])


def frame_sql(layer: PublishedLayer, query: FeatureQuery | None, columns: list[str] | None) -> tuple[str, list]:
    """Fields (all or ``columns``) and WKB geometry of every match, in feature order."""
    names = [n for n in layer.fields if columns is None or n in columns]
    condition, params = where(layer, query) if query is not None else ("", [])
    select = ", ".join([*(DIALECT.column(n) for n in names), f"ST_AsBinary(f.{GEOM})"])
    return f"SELECT {select} FROM {table(layer.location)} f{condition} ORDER BY f.{FID}", params


def _literal(text: str) -> str:
    """An SQL string literal (``%`` doubled for psycopg)."""
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def _attribute(layer: PublishedLayer, name: str) -> str:
    """A tile attribute as the embedded store's encoder gives it: typed columns, and dates / times as the
    text of the pre-encoded properties."""
    if layer.fields.get(name) in ("date", "datetime"):
        return f"(convert_from(f.{PROPS_JSON}, 'UTF8')::jsonb ->> {_literal(name)}) AS {quote(name)}"
    return f"{DIALECT.column(name)} AS {quote(name)}"


def tile_sql(layer: PublishedLayer, address: TileAddress, properties: Sequence[str],
             max_features: int) -> tuple[str, list]:
    """``(candidates, features, MVT bytes)`` of one tile, by the overview rule of :mod:`geosvc.tiles.build`:
    the candidates of :func:`~geosvc.tiles.build.tile_query` (largest first, one more than fit), each
    projected (``ST_Transform`` to EPSG:3857), clipped to the tile plus its buffer, left out below half a
    pixel (lines, polygons) or after the first point of its cell, simplified to the tile's resolution
    and snapped to its grid (``ST_AsMVTGeom`` on ``ST_TileEnvelope``), encoded by ``ST_AsMVT``."""
    query = tile_query(layer, address, max_features)
    condition, params = where(layer, query)
    order = f"f.{FID}"
    if query.largest_first is not None:
        order = f"GREATEST(f.{WIDTH} / %s, f.{HEIGHT} / %s) DESC NULLS LAST, f.{FID}"
        params += [float(v) for v in query.largest_first]
    minx, miny, maxx, maxy = address.mercator_bounds()
    unit = (maxx - minx) / EXTENT
    pad = BUFFER * unit
    names = [quote(n) for n in properties]
    attrs = "".join(f", {_attribute(layer, n)}" for n in properties)
    if is_point_layer(layer):  # the first point of each half-pixel cell (cells of the unsnapped position)
        cell = MIN_SIZE_UNITS * unit
        cells = f"floor((ST_XMin(geosvc_m) - {minx!r}) / {cell!r}), floor(({maxy!r} - ST_YMax(geosvc_m)) / {cell!r})"
        keep = (f"SELECT DISTINCT ON ({cells}) * FROM p WHERE NOT ST_IsEmpty(geosvc_m) "
                f"ORDER BY {cells}, geosvc_ord")
        geometry = "geosvc_m"
    else:  # lines and polygons at least half a pixel wide or tall once clipped
        keep = (f"SELECT * FROM p WHERE NOT ST_IsEmpty(geosvc_m) AND GREATEST(ST_XMax(geosvc_m) - "
                f"ST_XMin(geosvc_m), ST_YMax(geosvc_m) - ST_YMin(geosvc_m)) >= {MIN_SIZE_UNITS * unit!r}")
        geometry = f"ST_SimplifyPreserveTopology(geosvc_m, {SIMPLIFY_UNITS * unit!r})"
    sql = (
        f"WITH c AS (SELECT s.*, row_number() OVER () AS geosvc_ord FROM ("
        f"SELECT f.{GEOM} AS geosvc_g{attrs} FROM {table(layer.location)} f{condition} ORDER BY {order} LIMIT %s) s), "
        f"p AS MATERIALIZED (SELECT c.*, ST_ClipByBox2D(ST_Transform(geosvc_g, 3857), "
        f"ST_MakeEnvelope({minx - pad!r}, {miny - pad!r}, {maxx + pad!r}, {maxy + pad!r}, 3857)) AS geosvc_m "
        f"FROM c WHERE geosvc_ord <= %s), k AS ({keep}), "
        f"t AS (SELECT *, ST_AsMVTGeom({geometry}, ST_TileEnvelope(%s, %s, %s), {EXTENT}, {BUFFER}, true) "
        f"AS geosvc_tile FROM k) "
        f"SELECT (SELECT COUNT(*) FROM c), (SELECT COUNT(*) FROM t WHERE geosvc_tile IS NOT NULL), "
        f"(SELECT ST_AsMVT(v, %s, {EXTENT}, 'geosvc_tile') FROM (SELECT {', '.join([*names, 'geosvc_tile'])} FROM t "
        f"WHERE geosvc_tile IS NOT NULL ORDER BY geosvc_ord) v)"
    )
    return sql, [*params, max_features + 1, max_features, address.z, address.x, address.y, layer.id]
