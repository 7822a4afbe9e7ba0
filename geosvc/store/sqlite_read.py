"""Reading published GeoPackage versions through SQLite: one read-only connection per file and thread.

Version files never change once published, so they are opened ``immutable`` (no locking) and their
connections are cached per thread, keyed by path. Spatial tests run in a registered function behind
the R-tree and exact-envelope pre-filters, so only features straddling a query edge are decoded (once per
process: decoded geometries are kept in a shared LRU bounded by their WKB size).
Every statement runs under a deadline (SQLite's progress handler interrupts it).
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

import shapely

from geosvc.errors import InvalidParameter, StoreError
from geosvc.store.sqlfilter import Dialect

ITEMS = "geosvc_items"
TOO_COMPLEX = ("parser stack overflow", "too large", "too many")  # SQLite limits a query hit, not the file
_OPEN_PER_THREAD = 64
_MMAP_BYTES = 256 << 20  # per file (shared page-cache memory; past it SQLite reads)
GEOMETRY_CACHE_BYTES = 16 << 20  # decoded geometries kept for the exact spatial tests (by WKB size)
_local = threading.local()


class VersionUnreadable(StoreError):
    """A published version's file is missing or damaged (the version is dropped from serving)."""


class QueryTimeout(StoreError):
    """A store query ran past its deadline and was stopped (503: try a narrower request)."""


def gpkg_geometry(blob: bytes | None) -> shapely.Geometry | None:
    """Shapely geometry of a GeoPackage geometry blob (header + WKB)."""
    if blob is None:
        return None
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get((flags >> 1) & 0x07, 0)
    return shapely.from_wkb(bytes(blob[8 + envelope:]))


def gpkg_wkb(blob: bytes | None) -> bytes | None:
    """The WKB part of a GeoPackage geometry blob."""
    if blob is None:
        return None
    flags = blob[3]
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}.get((flags >> 1) & 0x07, 0)
    return bytes(blob[8 + envelope:])


@functools.lru_cache(maxsize=256)
def _prepared(wkb: bytes) -> shapely.Geometry:
    geom = shapely.from_wkb(wkb)
    shapely.prepare(geom)
    return geom


# ``feature op literal`` as ``literal op' feature`` (the converse relation), so the prepared literal
# is the geometry GEOS tests against: prepared predicates only speed up calls on their first argument
_CONVERSE = {
    "intersects": shapely.intersects, "disjoint": shapely.disjoint, "within": shapely.contains,
    "contains": shapely.within, "touches": shapely.touches, "crosses": shapely.crosses,
    "overlaps": shapely.overlaps, "equals": shapely.equals,
}


class SharedLru:
    """Values read from version files, keyed by ``(path, fid)``, the least recently used dropped past a
    budget of bytes; shared by the threads (a file never changes once published)."""

    def __init__(self, budget: int):
        self.budget = budget
        self.size = 0
        self.items: OrderedDict[tuple[str, int], tuple[object, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get_many(self, path: str, fids: list[int]) -> list:
        """The cached value of each fid, or None."""
        out = []
        with self.lock:
            for fid in fids:
                hit = self.items.get((path, fid))
                if hit is not None:
                    self.items.move_to_end((path, fid))
                out.append(None if hit is None else hit[0])
        return out

    def put(self, path: str, fid: int, value: object, size: int) -> None:
        with self.lock:
            if (path, fid) in self.items:
                return
            self.items[(path, fid)] = (value, size)
            self.size += size
            while self.size > self.budget:
                _, (_, dropped) = self.items.popitem(last=False)
                self.size -= dropped


_GEOMETRIES = SharedLru(GEOMETRY_CACHE_BYTES)


def _relate(path: str, op: str, fid: int, blob: bytes | None, wkb: bytes) -> int:
    """``geosvc_relate(op, fid, geom, literal_wkb)``: the feature's geometry ``op`` the literal."""
    if blob is None:
        return 0
    geom = _GEOMETRIES.get_many(path, [fid])[0]
    if geom is None:
        geom = gpkg_geometry(blob)
        _GEOMETRIES.put(path, fid, geom, len(blob))
    return int(bool(_CONVERSE[op](_prepared(wkb), geom)))


class SqliteDialect(Dialect):
    """SQLite with the ``geosvc_relate`` function; dates compared as Julian days."""

    def time_value(self, sql: str) -> str:
        return f"julianday({sql})"

    def time_param(self, value: dt.datetime) -> object:
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def like(self, lhs: str, rhs: str, nocase: bool) -> str:
        # case_sensitive_like is on for every connection (see open_version)
        if nocase:
            return f"lower({lhs}) LIKE lower({rhs}) ESCAPE '\\'"
        return f"{lhs} LIKE {rhs} ESCAPE '\\'"

    def boolean(self, value: bool) -> object:
        return int(value)

    def spatial(self, op: str, geom: shapely.Geometry, params: list) -> str:
        params.append(op)
        params.append(shapely.to_wkb(geom))
        test = "geosvc_relate(?, i.fid, f.geom, ?)"
        if op == "disjoint":
            return test
        minx, miny, maxx, maxy = shapely.bounds(geom)
        params[-2:-2] = [minx, maxx, miny, maxy]  # envelope overlap first: cheap and exact
        return f"(i.maxx >= ? AND i.minx <= ? AND i.maxy >= ? AND i.miny <= ? AND {test})"


def _connections() -> OrderedDict:
    cache = getattr(_local, "connections", None)
    if cache is None:
        cache = _local.connections = OrderedDict()
    return cache


def open_version(path: Path) -> sqlite3.Connection:
    """This thread's read-only connection to a version file (opened on first use)."""
    key = str(path)
    cache = _connections()
    con = cache.get(key)
    if con is not None:
        cache.move_to_end(key)
        return con
    if not path.is_file():
        raise VersionUnreadable("the published file is missing from the store")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=True)
        con.execute("PRAGMA case_sensitive_like = ON")
        con.execute("PRAGMA cache_size = -256")  # 256 KiB per connection and thread: the OS caches the file
        con.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")  # pages read in place, not copied by read()
        con.execute("PRAGMA query_only = ON")
        con.create_function("geosvc_relate", 4, functools.partial(_relate, key), deterministic=True)
    except sqlite3.Error as exc:
        raise VersionUnreadable(f"the published file cannot be read: {exc}") from exc
    cache[key] = con
    while len(cache) > _OPEN_PER_THREAD:
        _, old = cache.popitem(last=False)
        old.close()
    return con


def forget(path: Path) -> None:
    """Close this thread's connection to ``path`` (after a read error)."""
    con = _connections().pop(str(path), None)
    if con is not None:
        con.close()


def run(path: Path, sql: str, params: list | tuple, deadline: float | None) -> list[tuple]:
    """Execute a read under ``deadline`` (``time.monotonic()`` value); all rows."""
    con = open_version(path)
    if deadline is not None:
        con.set_progress_handler(lambda: int(time.monotonic() > deadline), 20000)
    try:
        return con.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise QueryTimeout("the query took longer than the time budget; narrow it (bbox, filter, limit)") from exc
        if any(word in str(exc) for word in TOO_COMPLEX):
            raise InvalidParameter(f"the filter is too complex to evaluate ({exc})", param="filter") from exc
        failure = exc
    except sqlite3.DatabaseError as exc:
        failure = exc
    finally:
        if deadline is not None:
            con.set_progress_handler(None, 0)
    forget(path)
    raise VersionUnreadable(f"the published file cannot be read: {failure}") from failure
