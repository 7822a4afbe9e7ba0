"""The store's query seam on a published GeoPackage version (SQL over the feature and items tables).

``geosvc_items`` holds, per feature (``fid`` = the GeoPackage FID), the pre-encoded JSON parts, the
exact CRS84 envelope and the time as epoch seconds; the feature table holds the typed attributes and
the geometry; GDAL's R-tree indexes the envelopes.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from pathlib import Path


from geosvc.store.base import PublishedLayer
from geosvc.store.query import FeaturePage, FeatureQuery, FeatureRow
from geosvc.store.sqlfilter import Compiler
from geosvc.store.sqlite_read import ITEMS, SharedLru, SqliteDialect, gpkg_wkb, run

_DIALECT = SqliteDialect()
ROW_CACHE_BYTES = 32 << 20  # encoded features kept per process (map requests keep asking for the same ones)
_ROWS = SharedLru(ROW_CACHE_BYTES)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def quote(name: str) -> str:
    """An SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _epoch(value: dt.datetime) -> float:
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return (value - _EPOCH).total_seconds()


def _equals(layer: PublishedLayer, name: str, value: object, params: list) -> str:
    column = _DIALECT.column(name)
    kind = layer.fields.get(name, "string")
    if value is None:
        return f"{column} IS NULL"
    if kind in ("date", "datetime"):
        stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        params.append(_DIALECT.time_param(stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)))
        return f"julianday({column}) = julianday(?)"
    params.append(int(value) if isinstance(value, bool) else value)
    return f"{column} = ?"


_BOX_WKB = struct.Struct("<BIII10d")  # little-endian Polygon, one ring of five points
_OVERLAPS = "minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"  # R-tree box overlaps (x1, x0, y1, y0)
_INSIDE = "minx >= ? AND maxx <= ? AND miny >= ? AND maxy <= ?"  # R-tree box inside (x0, x1, y0, y1)


def _rtree(layer: PublishedLayer) -> str:
    return quote(f"rtree_{layer.id}_geom")


def _bbox_test(bbox: tuple[float, float, float, float]) -> tuple[str, list]:
    """Exact "intersects the bbox" on an R-tree candidate: envelope inside, or a point, or the geometry test."""
    x0, y0, x1, y1 = bbox
    sql = ("((i.minx >= ? AND i.maxx <= ? AND i.miny >= ? AND i.maxy <= ?) OR "
           "(i.maxx >= ? AND i.minx <= ? AND i.maxy >= ? AND i.miny <= ? AND "
           "((i.minx = i.maxx AND i.miny = i.maxy) OR geosvc_relate('intersects', i.fid, f.geom, ?))))")
    return sql, [x0, x1, y0, y1, x0, x1, y0, y1, _box_wkb(x0, y0, x1, y1)]


def _box_wkb(x0: float, y0: float, x1: float, y1: float) -> bytes:
    """WKB of the bbox polygon (what ``shapely.to_wkb(shapely.box(...))`` gives, without two GEOS calls)."""
    return _BOX_WKB.pack(1, 3, 1, 5, x1, y0, x1, y1, x0, y1, x0, y0, x1, y0)


def _bbox_matches(layer: PublishedLayer, bbox: tuple[float, float, float, float]) -> tuple[str, list]:
    """The fids matching a bbox alone (as ``k_fid``). An R-tree box holds the envelope rounded outward, so
    an entry whose box is inside the bbox matches without reading its row; only the entries crossing the
    bbox's edges are read and tested exactly."""
    x0, y0, x1, y1 = bbox
    exact, exact_params = _bbox_test(bbox)
    sql = (f"SELECT id AS k_fid FROM {_rtree(layer)} WHERE {_INSIDE} UNION ALL "
           f"SELECT i.fid AS k_fid FROM {ITEMS} i JOIN {quote(layer.id)} f ON f.geosvc_fid = i.fid "
           f"WHERE i.fid IN (SELECT id FROM {_rtree(layer)} WHERE {_OVERLAPS} AND NOT ({_INSIDE})) AND {exact}")
    return sql, [x0, x1, y0, y1, x1, x0, y1, y0, x0, x1, y0, y1, *exact_params]


def where(layer: PublishedLayer, query: FeatureQuery) -> tuple[list[str], list, bool]:
    """``(clauses, params, needs_feature_table)`` of a query."""
    clauses: list[str] = []
    params: list = []
    joined = False
    if query.bbox is not None:
        x0, y0, x1, y1 = query.bbox
        clauses.append(f"i.fid IN (SELECT id FROM {_rtree(layer)} WHERE {_OVERLAPS})")
        params += [x1, x0, y1, y0]
        exact, exact_params = _bbox_test(query.bbox)
        clauses.append(exact)
        params += exact_params
        joined = True
    if query.min_size is not None:
        clauses.append("((i.minx = i.maxx AND i.miny = i.maxy) OR i.maxx - i.minx >= ? OR i.maxy - i.miny >= ?)")
        params += list(query.min_size)
    for name, value in query.equals:
        clauses.append(_equals(layer, name, value, params))
        joined = True
    if query.interval is not None:
        start, end = query.interval
        clauses.append("i.t IS NOT NULL")
        if start is not None:
            clauses.append("i.t >= ?")
            params.append(_epoch(start))
        if end is not None:
            clauses.append("i.t <= ?")
            params.append(_epoch(end))
    if query.filter is not None:
        sql, filter_params = Compiler(dict(layer.fields), _DIALECT).compile(query.filter)
        clauses.append(sql)
        params += filter_params
        joined = True
    return clauses, params, joined or bool(query.sortby)


def select_page(path: Path, layer: PublishedLayer, query: FeatureQuery, deadline: float | None) -> FeaturePage:
    """Count the matches (if asked) and read one page, in sort order then feature order.

    With a condition and a count, the matches are found once (their fids and sort keys, materialised)
    and both the count and the page come from them in one statement, so the R-tree and the exact
    spatial tests run once per request.
    """
    columns = "i.fid_text, i.id_json, i.geom_json, i.props_json" + (", f.geom" if query.wkb else "")
    page = [-1 if query.limit is None else query.limit, query.offset]
    reads = query.limit is None or query.limit > 0
    bbox_only = _bbox_only(query)
    if bbox_only and query.count and reads:  # the common map request: skip building the general condition
        found = _count_and_page(path, layer, query, *_bbox_matches(layer, query.bbox), columns, page, deadline)
        if found is not None:
            return found
    clauses, params, joined = where(layer, query)
    source = f"{ITEMS} i" + (f" JOIN {quote(layer.id)} f ON f.geosvc_fid = i.fid" if joined or query.wkb else "")
    condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    if query.count and clauses and reads and query.largest_first is None:
        found = None if bbox_only else _count_and_page(path, layer, query, *_match_keys(query, source, condition,
                                                                                       params), columns, page, deadline)
        if found is None:  # an empty page (offset past the end) carries no count
            matched = run(path, f"SELECT COUNT(*) FROM {source}{condition}", params, deadline)[0][0]
            return FeaturePage(matched=matched, rows=[])
        return found
    matched = None
    if query.count:
        if clauses:
            matched = run(path, f"SELECT COUNT(*) FROM {source}{condition}", params, deadline)[0][0]
        else:
            matched = layer.feature_count or 0
    rows: list[FeatureRow] = []
    if query.limit is None or query.limit > 0:
        order = [f"({_DIALECT.column(n)} IS NULL), {_DIALECT.column(n)}{'' if asc else ' DESC'}"
                 for n, asc in query.sortby]
        size = []
        if query.largest_first is not None:
            order.insert(0, "max((i.maxx - i.minx) / ?, (i.maxy - i.miny) / ?) DESC")
            size = list(query.largest_first)
        sql = f"SELECT {columns} FROM {source}{condition} ORDER BY {', '.join([*order, 'i.fid'])} LIMIT ? OFFSET ?"
        rows = [_row(r, query.wkb) for r in run(path, sql, [*params, *size, *page], deadline)]
    return FeaturePage(matched=matched, rows=rows)


def _row(r: tuple, wkb: bool) -> FeatureRow:
    return FeatureRow(r[0], r[1], r[2], r[3], gpkg_wkb(r[4]) if wkb else None)


def _bbox_only(query: FeatureQuery) -> bool:
    return query.bbox is not None and not (query.equals or query.interval or query.filter or query.sortby
                                           or query.min_size or query.largest_first is not None)


def _match_keys(query: FeatureQuery, source: str, condition: str, params: list) -> tuple[str, list]:
    """The matches of a condition as ``k_fid`` and the sort keys (``k_null<j>``, ``k<j>``)."""
    keys = ["i.fid AS k_fid"]
    for j, (name, _) in enumerate(query.sortby):
        column = _DIALECT.column(name)
        keys += [f"({column} IS NULL) AS k_null{j}", f"{column} AS k{j}"]
    return f"SELECT {', '.join(keys)} FROM {source}{condition}", params


def _count_and_page(path: Path, layer: PublishedLayer, query: FeatureQuery, matches: str, match_params: list,
                    columns: str, page: list, deadline: float | None) -> FeaturePage | None:
    """The count and the page of a conditional query from one evaluation of the condition (``matches``:
    see :func:`_match_keys`, a bbox alone :func:`_bbox_matches`); None for an empty page, which carries
    no count."""
    order = []
    for j, (_, asc) in enumerate(query.sortby):
        order += [f"k_null{j}", f"k{j}{'' if asc else ' DESC'}"]
    order.append("k_fid")
    head = f"WITH m AS MATERIALIZED ({matches}), p AS (SELECT * FROM m ORDER BY {', '.join(order)} LIMIT ? OFFSET ?) "
    tail = f"ORDER BY {', '.join(f'p.{k}' for k in order)}"
    if not query.wkb:  # the page's fids, their features from the cache
        found = run(path, f"{head}SELECT (SELECT COUNT(*) FROM m), p.k_fid FROM p {tail}",
                    [*match_params, *page], deadline)
        return FeaturePage(matched=found[0][0], rows=rows_of(path, [r[1] for r in found], deadline)) if found else None
    sql = (f"{head}SELECT (SELECT COUNT(*) FROM m), {columns} FROM p JOIN {ITEMS} i ON i.fid = p.k_fid "
           f"JOIN {quote(layer.id)} f ON f.geosvc_fid = i.fid {tail}")
    found = run(path, sql, [*match_params, *page], deadline)
    if not found:
        return None
    return FeaturePage(matched=found[0][0], rows=[_row(r[1:], query.wkb) for r in found])


def rows_of(path: Path, fids: list[int], deadline: float | None) -> list[FeatureRow]:
    """The features of ``fids`` (in that order), from the shared cache or else read in one statement."""
    key = str(path)
    rows = _ROWS.get_many(key, fids)
    missing = [fid for fid, row in zip(fids, rows) if row is None]
    if missing:
        read = {r[0]: FeatureRow(r[1], r[2], r[3], r[4]) for r in run(
            path, f"SELECT fid, fid_text, id_json, geom_json, props_json FROM {ITEMS} "
                  "WHERE fid IN (SELECT value FROM json_each(?))", [json.dumps(missing)], deadline)}
        for fid, row in read.items():
            _ROWS.put(key, fid, row, len(row.id_json) + len(row.geom_json) + len(row.props_json) + len(row.fid))
        rows = [read[fid] if row is None else row for fid, row in zip(fids, rows)]
    return rows


def select_feature(path: Path, layer: PublishedLayer, fid: str, wkb: bool, deadline: float | None) -> FeatureRow | None:
    """One feature by its id text."""
    source = f"{ITEMS} i" + (f" JOIN {quote(layer.id)} f ON f.geosvc_fid = i.fid" if wkb else "")
    columns = "i.fid_text, i.id_json, i.geom_json, i.props_json" + (", f.geom" if wkb else "")
    rows = run(path, f"SELECT {columns} FROM {source} WHERE i.fid_text = ? ORDER BY i.fid LIMIT 1", [fid], deadline)
    if not rows:
        return None
    r = rows[0]
    return FeatureRow(r[0], r[1], r[2], r[3], gpkg_wkb(r[4]) if wkb else None)


def select_fids(path: Path, layer: PublishedLayer, query: FeatureQuery, deadline: float | None) -> list[int]:
    """GeoPackage FIDs of every match, in feature order (for reading whole frames)."""
    clauses, params, joined = where(layer, query)
    source = f"{ITEMS} i" + (f" JOIN {quote(layer.id)} f ON f.geosvc_fid = i.fid" if joined else "")
    condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return [r[0] for r in run(path, f"SELECT i.fid FROM {source}{condition} ORDER BY i.fid", params, deadline)]
