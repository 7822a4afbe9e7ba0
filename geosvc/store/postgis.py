"""The PostGIS store: each vector version a table with a GiST index, the catalog in the same database.

Layout (database named by ``store.dsn``)::

    geosvc.layer_versions, withdrawn, catalog_state, validation_runs, layer_events,
    privacy_releases   (the catalog)
    geosvc_layers."<id>_v<N>"   one table per vector version (see geosvc.store.postgis_query)
    store_dir/layers/<id>/v<N>.tif   rasters stay COG files, referenced from the catalog

A publish is one transaction under an advisory lock of the layer: create the version table, COPY the
features (binary, pre-encoded JSON parts included), index, insert the catalog row, bump the
generation, commit. A killed publisher's transaction is rolled back by the server, so the previous
version stays served and nothing is left behind; a second publish of the same layer waits for the
first and becomes the next version. Every statement runs under ``statement_timeout``; a database that
cannot be reached or is too slow is a :class:`StoreError` (503) within the time budget.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import errors as pgerrors
from psycopg_pool import ConnectionPool, PoolTimeout

from geosvc.crs import CRS84_URI, is_crs84
from geosvc.errors import NotPublished, StoreError
from geosvc.records.models import LayerRecord
from geosvc.settings import Settings
from geosvc.store.base import (
    LayerEvent, PrivacyRelease, PublishedLayer, RasterVersion, ValidationRun, VectorVersion,
)
from geosvc.store.catalog import (
    RELEASE_COLUMNS, dumps, event_filter, ledger_release, privacy_arguments, release_of, utcnow,
)
from geosvc.store.encoding import encode_features
from geosvc.store.files import fsync_path, sha256_file, staging_file
from geosvc.store.gpkg import CHUNK, promote_to_multi
from geosvc.store.postgis_query import (
    FID, FID_TEXT, GEOM, GEOM_JSON, HEIGHT, ID_JSON, PROPS_JSON, TIME, WIDTH, count_sql, feature_sql, frame_sql,
    output_geometry, page_sql, quote, table, tile_sql,
)
from geosvc.store.query import FeaturePage, FeatureQuery, FeatureRow, reproject, with_geometries
from geosvc.store.sqlite_read import QueryTimeout, VersionUnreadable
from geosvc.tiles.build import MAX_FEATURES
from geosvc.tiles.grid import TileAddress
from geosvc.tiles.mvt import EMPTY, VectorTile

if TYPE_CHECKING:
    from geosvc.validate.findings import LayerReport

DATA_SCHEMA = "geosvc_layers"
SCHEMA = """
CREATE SCHEMA IF NOT EXISTS geosvc;
CREATE SCHEMA IF NOT EXISTS geosvc_layers;
CREATE TABLE IF NOT EXISTS geosvc.layer_versions (
    layer_id      TEXT COLLATE "C"    NOT NULL,
    version       INTEGER NOT NULL,
    kind          TEXT COLLATE "C"    NOT NULL,
    path          TEXT COLLATE "C"    NOT NULL,  -- vector: schema.table; raster: COG path relative to the store folder
    checksum      TEXT COLLATE "C"    NOT NULL,  -- sha256 of the stored content
    published_at  TEXT COLLATE "C"    NOT NULL,  -- ISO 8601, UTC
    native_crs    TEXT COLLATE "C"    NOT NULL,
    bbox          TEXT COLLATE "C"    NOT NULL,  -- JSON [minx, miny, maxx, maxy], CRS84
    feature_count INTEGER,
    geometry_type TEXT COLLATE "C",
    fields        TEXT COLLATE "C"    NOT NULL,  -- JSON {name: type}
    record        TEXT COLLATE "C"    NOT NULL,  -- JSON of the layer record at publish time
    notes         TEXT COLLATE "C"    NOT NULL,  -- JSON list of what publish did
    content_hash  TEXT COLLATE "C"    NOT NULL DEFAULT '',
    PRIMARY KEY (layer_id, version)
);
CREATE TABLE IF NOT EXISTS geosvc.withdrawn (layer_id TEXT COLLATE "C" PRIMARY KEY, at TEXT COLLATE "C" NOT NULL);
CREATE TABLE IF NOT EXISTS geosvc.catalog_state (key TEXT COLLATE "C" PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS geosvc.validation_runs (
    run_id        BIGSERIAL PRIMARY KEY,
    layer_id      TEXT COLLATE "C"    NOT NULL,
    run_at        TEXT COLLATE "C"    NOT NULL,
    ok            BOOLEAN NOT NULL,
    errors        INTEGER NOT NULL,
    warnings      INTEGER NOT NULL,
    completeness  DOUBLE PRECISION NOT NULL,
    stale         BOOLEAN NOT NULL,
    findings      TEXT COLLATE "C"    NOT NULL
);
CREATE INDEX IF NOT EXISTS validation_runs_layer ON geosvc.validation_runs (layer_id, run_id);
CREATE TABLE IF NOT EXISTS geosvc.layer_events (
    event_id      BIGSERIAL PRIMARY KEY,
    layer_id      TEXT COLLATE "C"    NOT NULL,
    at            TEXT COLLATE "C"    NOT NULL,
    kind          TEXT COLLATE "C"    NOT NULL,
    outcome       TEXT COLLATE "C"    NOT NULL,
    version       INTEGER,
    message       TEXT COLLATE "C"    NOT NULL,
    detail        TEXT COLLATE "C"    NOT NULL
);
CREATE INDEX IF NOT EXISTS layer_events_layer ON geosvc.layer_events (layer_id, event_id);
CREATE TABLE IF NOT EXISTS geosvc.privacy_releases (
    release_id    BIGSERIAL,
    layer_id      TEXT COLLATE "C"    NOT NULL,
    version       INTEGER NOT NULL,
    key           TEXT COLLATE "C"    NOT NULL,
    epsilon       DOUBLE PRECISION NOT NULL,
    spent_after   DOUBLE PRECISION NOT NULL,
    created       TEXT COLLATE "C"    NOT NULL,
    payload       BYTEA   NOT NULL,
    PRIMARY KEY (layer_id, version, key)
);
"""
SCHEMA_LOCK = 0x6765_6F73  # advisory lock key serialising schema creation ("geos")
COLUMN_TYPES = {"string": 'text COLLATE "C"', "integer": "bigint", "number": "double precision",
                "boolean": "boolean", "date": "date", "datetime": "timestamptz"}
COPY_TYPES = {"string": "text", "integer": "int8", "number": "float8", "boolean": "bool", "date": "date",
              "datetime": "timestamptz"}
INT4_OID = 23
POOL_WAIT_S = 2.0  # longest wait for a connection: a database that is down fails requests fast
DOWN_S = 1.0  # after a failed wait, requests fail at once for this long (then one waits again)
LEDGER_WAIT_S = 60  # longest wait for another process's privacy release of the same version
_pools: dict[tuple[int, str], ConnectionPool] = {}
_pools_lock = threading.Lock()
_budgets: dict[int, int] = {}  # id(connection) -> its statement_timeout in ms
_ready: set[str] = set()  # DSNs whose catalog tables this process has ensured
_down_until: dict[str, float] = {}  # dsn -> monotonic time until which the database counts as down


def _pool(dsn: str, timeout_s: float) -> ConnectionPool:
    """This process's connection pool for ``dsn`` (created, and the catalog ensured, on first use)."""
    key = (os.getpid(), dsn)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            timeout_ms = int(timeout_s * 1000)

            def configure(con: psycopg.Connection) -> None:
                # no JIT: compiling a tile's or a page's statement costs more than running it (~1.4 s of 2)
                con.execute(f"SET TimeZone = 'UTC'; SET statement_timeout = {timeout_ms}; SET jit = off")
                _budgets[id(con)] = timeout_ms

            pool = ConnectionPool(dsn, min_size=1, max_size=8, open=False, configure=configure,
                                  timeout=min(POOL_WAIT_S, timeout_s), reconnect_timeout=0,
                                  kwargs={"autocommit": True, "connect_timeout": max(1, int(min(POOL_WAIT_S, timeout_s)))})
            pool.open(wait=False)
            _pools[key] = pool
        return pool


def version_table(layer_id: str, version: int) -> str:
    """``geosvc_layers.<name>`` of a version (PostgreSQL names are at most 63 bytes)."""
    name = f"{layer_id}_v{version}"
    if len(name.encode()) > 63:
        name = f"{layer_id.encode()[:40].decode(errors='ignore')}_{hashlib.sha1(layer_id.encode()).hexdigest()[:10]}_v{version}"
    return f"{DATA_SCHEMA}.{name}"


def _layer_lock(layer_id: str) -> int:
    """Advisory lock key of one layer's publishes (64-bit)."""
    return int.from_bytes(hashlib.sha256(f"geosvc:{layer_id}".encode()).digest()[:8], "big", signed=True)


def _privacy_lock(layer_id: str, version: int) -> int:
    """Advisory lock key of one layer version's privacy ledger (64-bit)."""
    return int.from_bytes(hashlib.sha256(f"geosvc:privacy:{layer_id}:v{version}".encode()).digest()[:8], "big",
                          signed=True)


def _int32(series: pd.Series, kind: str) -> bool:
    """An integer field of at most 32 bits (GDAL writes it as Integer, and reads it back as int32)."""
    return kind == "integer" and pd.api.types.is_integer_dtype(series.dtype) and series.dtype.itemsize <= 4


def _column_type(series: pd.Series, kind: str) -> str:
    return "integer" if _int32(series, kind) else COLUMN_TYPES[kind]


def _copy_type(series: pd.Series, kind: str) -> str:
    return "int4" if _int32(series, kind) else COPY_TYPES[kind]


def _column_values(series: pd.Series, kind: str) -> list:
    """A frame column as Python values for COPY (missing values as None)."""
    if kind == "datetime":
        stamps = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
        return [None if pd.isna(v) else v.to_pydatetime() for v in stamps]
    if kind == "date":
        return [None if pd.isna(v) else (v.date() if isinstance(v, dt.datetime) else v) for v in series.astype(object)]
    values = series.astype(object).where(series.notna(), None).tolist()
    if kind == "integer":
        return [None if v is None else int(v) for v in values]
    if kind == "number":
        return [None if v is None else float(v) for v in values]
    if kind == "boolean":
        return [None if v is None else bool(v) for v in values]
    return [None if v is None else str(v) for v in values]


def _frame_dtypes(frame: pd.DataFrame, fields: dict[str, str], int32: set[str]) -> pd.DataFrame:
    """Column dtypes as reading the version's GeoPackage gives them (``int32``: 32-bit integer columns)."""
    for name in frame.columns:
        kind = fields.get(name)
        if kind == "datetime":
            frame[name] = pd.to_datetime(frame[name], utc=True).dt.tz_localize(None).astype("datetime64[ms]")
        elif kind == "integer" and frame[name].notna().all():
            frame[name] = frame[name].astype("int32" if name in int32 else "int64")
        elif kind == "number":
            frame[name] = frame[name].astype("float64")
        elif kind == "boolean" and frame[name].notna().all():
            frame[name] = frame[name].astype(bool)
        elif kind == "string":
            frame[name] = frame[name].astype(pd.StringDtype(na_value=np.nan))
    return frame


class PostgisStore:
    """:class:`geosvc.store.base.Store` on PostgreSQL/PostGIS (rasters as COG files in ``store.dir``)."""

    inline_budget_s = 0.0  # reads wait on the database: never on the event loop

    def __init__(self, settings: Settings):
        if settings.store.dsn is None:
            raise StoreError("store.backend is postgis but store.dsn (GEOSVC_STORE_DSN) is not set")
        self.root = settings.store.dir
        self.dsn = settings.store.dsn.get_secret_value()
        self.timeout_s = settings.server.query_timeout_s

    # -- connections ---------------------------------------------------------------------------
    @contextmanager
    def _connect(self, layer: str | None = None, deadline: float | None = None) -> Iterator[psycopg.Connection]:
        """A pooled connection; database failures become :class:`StoreError` (timeouts: QueryTimeout)."""
        if time.monotonic() < _down_until.get(self.dsn, 0.0):
            raise StoreError("the database is not reachable (retrying in a moment)", layer=layer)
        pool = _pool(self.dsn, self.timeout_s)
        try:
            with pool.connection() as con:
                if self.dsn not in _ready:
                    self._ensure_schema(con)
                self._time_budget(con, deadline)
                yield con
        except pgerrors.QueryCanceled as exc:
            raise QueryTimeout("the query took longer than the time budget; narrow it (bbox, filter, limit)",
                               layer=layer) from exc
        except PoolTimeout as exc:
            _down_until[self.dsn] = time.monotonic() + DOWN_S
            raise StoreError("the database is not reachable (no connection within the time budget)",
                             layer=layer) from exc
        except psycopg.OperationalError as exc:
            raise StoreError(f"the database is not reachable: {str(exc).strip().splitlines()[0]}", layer=layer) from exc
        except pgerrors.UndefinedTable as exc:  # a version's table is gone: that version is dropped from serving
            raise VersionUnreadable(f"cannot be read: {str(exc).strip().splitlines()[0]}", layer=layer) from exc
        except psycopg.Error as exc:
            raise StoreError(f"the database failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}",
                             layer=layer) from exc

    def _time_budget(self, con: psycopg.Connection, deadline: float | None) -> None:
        """``statement_timeout`` of the connection: what is left of ``deadline``, at most the default
        (set only when the connection's current value does not fit, to within 100 ms)."""
        default = int(self.timeout_s * 1000)
        want = default if deadline is None else max(1, min(default, int((deadline - time.monotonic()) * 1000)))
        current = _budgets.get(id(con))
        if current is None or current > want + 100 or (deadline is None and current != default):
            con.execute(f"SET statement_timeout = {want}")
            _budgets[id(con)] = want

    def _ensure_schema(self, con: psycopg.Connection) -> None:
        with con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            con.execute(SCHEMA)
        _ready.add(self.dsn)

    def _read(self, sql: str, params: list | tuple = (), *, layer: str | None = None,
              deadline: float | None = None, binary: bool = False) -> list[tuple]:
        """All rows of one read; retried once on a fresh connection when a pooled one had gone stale."""
        try:
            with self._connect(layer, deadline) as con:
                return con.cursor(binary=binary).execute(sql, params).fetchall()
        except StoreError as exc:
            cause = exc.__cause__
            if not isinstance(cause, psycopg.OperationalError) or isinstance(cause, PoolTimeout):
                raise
        with self._connect(layer, deadline) as con:  # the pool has dropped the broken connection
            return con.cursor(binary=binary).execute(sql, params).fetchall()

    # -- catalog -------------------------------------------------------------------------------
    _COLUMNS = ("layer_id, version, kind, path, checksum, published_at, native_crs, bbox, feature_count, "
                "geometry_type, fields, record, notes, content_hash")

    def _layer(self, row: tuple) -> PublishedLayer:
        (layer_id, version, kind, path, checksum, published_at, native_crs, bbox, feature_count, geometry_type,
         fields, record, notes, content_hash) = row
        return PublishedLayer(
            id=layer_id, version=version, kind=kind, location=path, checksum=checksum,
            published_at=dt.datetime.fromisoformat(published_at), record=LayerRecord.model_validate_json(record),
            native_crs=native_crs, bbox=tuple(json.loads(bbox)), feature_count=feature_count,
            geometry_type=geometry_type, fields=json.loads(fields), notes=json.loads(notes), content_hash=content_hash,
        )

    def published(self) -> list[PublishedLayer]:
        """Latest version of every layer that is not withdrawn, sorted by id."""
        rows = self._read(
            f"SELECT DISTINCT ON (layer_id) {self._COLUMNS} FROM geosvc.layer_versions "
            "WHERE layer_id NOT IN (SELECT layer_id FROM geosvc.withdrawn) "
            "ORDER BY layer_id, version DESC"
        )
        return [self._layer(r) for r in rows]

    def versions(self, layer_id: str) -> list[PublishedLayer]:
        """Every published version of a layer, oldest first."""
        rows = self._read(f"SELECT {self._COLUMNS} FROM geosvc.layer_versions WHERE layer_id = %s ORDER BY version",
                          (layer_id,), layer=layer_id)
        return [self._layer(r) for r in rows]

    def get(self, layer_id: str, version: int | None = None) -> PublishedLayer:
        """Latest (or the given) published version; raises :class:`NotPublished`."""
        sql = f"SELECT {self._COLUMNS} FROM geosvc.layer_versions WHERE layer_id = %s"
        args: tuple = (layer_id,)
        if version is not None:
            sql, args = sql + " AND version = %s", (layer_id, version)
        rows = self._read(sql + " ORDER BY version DESC LIMIT 1", args, layer=layer_id)
        if not rows:
            raise NotPublished(f"version {version} in the store" if version is not None else "no published version",
                               layer=layer_id)
        return self._layer(rows[0])

    def withdrawn(self) -> set[str]:
        """Ids of layers withdrawn from serving."""
        return {r[0] for r in self._read("SELECT layer_id FROM geosvc.withdrawn")}

    def generation(self) -> int:
        """Changes whenever what is served changes (every instance on the database sees it)."""
        rows = self._read("SELECT value FROM geosvc.catalog_state WHERE key = 'generation'")
        return int(rows[0][0]) if rows else 0

    @staticmethod
    def _bump(con: psycopg.Connection) -> None:
        con.execute("INSERT INTO geosvc.catalog_state VALUES ('generation', 1) "
                    "ON CONFLICT (key) DO UPDATE SET value = geosvc.catalog_state.value + 1")

    def withdraw(self, layer_id: str) -> PublishedLayer:
        """Stop serving a layer (its versions stay)."""
        layer = self.get(layer_id)
        with self._connect(layer_id) as con, con.transaction():
            con.execute("INSERT INTO geosvc.withdrawn VALUES (%s, %s) ON CONFLICT (layer_id) DO UPDATE SET at = "
                        "EXCLUDED.at", (layer_id, utcnow().isoformat()))
            self._bump(con)
        return layer

    def restore(self, layer_id: str) -> bool:
        """Serve a withdrawn layer again."""
        with self._connect(layer_id) as con, con.transaction():
            gone = con.execute("DELETE FROM geosvc.withdrawn WHERE layer_id = %s", (layer_id,)).rowcount
            if gone:
                self._bump(con)
        return bool(gone)

    # -- writing -------------------------------------------------------------------------------
    def staging(self, suffix: str) -> Path:
        """A fresh staging file name for a raster being written (see :func:`staging_file`)."""
        return staging_file(self.root, suffix)

    @contextmanager
    def _publishing(self, record: LayerRecord) -> Iterator[tuple[psycopg.Connection, int]]:
        """One transaction holding the layer's advisory lock; yields it and the next version number.

        Publishing is not bound by the serving time budget (``statement_timeout`` off for it).
        """
        with self._connect(record.id) as con, con.transaction():
            con.execute("SET LOCAL statement_timeout = 0")
            con.execute("SELECT pg_advisory_xact_lock(%s)", (_layer_lock(record.id),))
            (latest,) = con.execute("SELECT COALESCE(MAX(version), 0) FROM geosvc.layer_versions WHERE layer_id = %s",
                                    (record.id,)).fetchone()
            yield con, latest + 1

    def _insert_version(self, con: psycopg.Connection, record: LayerRecord, version: int, location: str,
                        checksum: str, **meta: Any) -> None:
        con.execute(
            f"INSERT INTO geosvc.layer_versions ({self._COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (record.id, version, record.kind, location, checksum, utcnow().isoformat(), meta["native_crs"],
             dumps([float(v) for v in meta["bbox"]]), meta["feature_count"], meta["geometry_type"],
             dumps(meta["fields"]), record.model_dump_json(), dumps(meta["notes"]), meta["content_hash"]),
        )
        con.execute("DELETE FROM geosvc.withdrawn WHERE layer_id = %s", (record.id,))
        self._bump(con)

    def publish_vector(self, record: LayerRecord, version: VectorVersion) -> PublishedLayer:
        """COPY the features into a new version table, index it and record it, in one transaction."""
        frame = promote_to_multi(version.frame.reset_index(drop=True), version.geometry_type)
        fields = {n: k for n, k in version.fields.items() if n in frame.columns}
        with self._publishing(record) as (con, number):
            location = version_table(record.id, number)
            target = table(location)
            columns = [f"{FID} bigint NOT NULL", f"{FID_TEXT} text NOT NULL", f"{ID_JSON} bytea NOT NULL",
                       f"{GEOM_JSON} bytea NOT NULL", f"{PROPS_JSON} bytea NOT NULL", f"{TIME} double precision",
                       f"{GEOM} geometry(Geometry, 4326)", f"{WIDTH} double precision", f"{HEIGHT} double precision",
                       *(f"{quote(n)} {_column_type(frame[n], k)}" for n, k in fields.items())]
            con.execute(f"DROP TABLE IF EXISTS {target}")
            con.execute(f"CREATE TABLE {target} ({', '.join(columns)})")
            digest = hashlib.sha256()
            names = [FID, FID_TEXT, ID_JSON, GEOM_JSON, PROPS_JSON, TIME, GEOM, WIDTH, HEIGHT, *(quote(n) for n in fields)]
            types = ["int8", "text", "bytea", "bytea", "bytea", "float8", "bytea", "float8", "float8",
                     *(_copy_type(frame[n], k) for n, k in fields.items())]
            with con.cursor().copy(f"COPY {target} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for start in range(0, len(frame), CHUNK):
                    part = frame.iloc[start : start + CHUNK]
                    enc = encode_features(part, record.id_field, record.time_field)
                    geoms = shapely.set_srid(np.asarray(part.geometry.array), 4326)
                    wkb = shapely.to_wkb(geoms, include_srid=True, flavor="extended")
                    bounds = shapely.bounds(geoms)
                    sizes = [[None if v != v else float(v) for v in col]
                             for col in (bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])]
                    times = enc.times.tolist() if enc.times is not None else [None] * len(part)
                    attrs = [_column_values(part[n], k) for n, k in fields.items()]
                    for k in range(len(part)):
                        digest.update(enc.props_json[k])
                        digest.update(enc.geom_json[k])
                        t = times[k]
                        copy.write_row((start + k + 1, enc.fids[k], enc.id_json[k], enc.geom_json[k],
                                        enc.props_json[k], None if t is None or t != t else t, wkb[k],
                                        sizes[0][k], sizes[1][k],
                                        *(col[k] for col in attrs)))
            name = location.partition(".")[2]
            con.execute(f"ALTER TABLE {target} ADD PRIMARY KEY ({FID})")
            con.execute(f"CREATE INDEX {quote(name + '_geom')} ON {target} USING gist ({GEOM})")
            con.execute(f"CREATE INDEX {quote(name + '_fid_text')} ON {target} ({FID_TEXT})")
            con.execute(f"ANALYZE {target}")
            self._insert_version(con, record, number, location, digest.hexdigest(), native_crs=version.native_crs,
                                 bbox=tuple(frame.total_bounds), feature_count=len(frame),
                                 geometry_type=version.geometry_type, fields=version.fields, notes=version.notes,
                                 content_hash=version.content_hash)
        return self.get(record.id, number)

    def publish_raster(self, record: LayerRecord, version: RasterVersion) -> PublishedLayer:
        """Move the COG into ``store.dir`` (shared by every instance) and record it as the next version."""
        try:
            fsync_path(version.cog)
            checksum = sha256_file(version.cog)
        except OSError as exc:
            raise StoreError(f"could not publish: {exc}", layer=record.id) from exc
        target_dir = self.root / "layers" / record.id
        target_dir.mkdir(parents=True, exist_ok=True)
        with self._publishing(record) as (con, number):
            target = target_dir / f"v{number}.tif"
            self._insert_version(con, record, number, str(target.relative_to(self.root)), checksum,
                                 native_crs=version.native_crs, bbox=version.bbox, feature_count=None,
                                 geometry_type=None, fields=version.fields, notes=version.notes,
                                 content_hash=version.content_hash)
            try:
                os.replace(version.cog, target)
                fsync_path(target_dir)
            except OSError as exc:
                raise StoreError(f"could not publish: {exc}", layer=record.id) from exc
        return self.get(record.id, number)

    # -- reading a version ---------------------------------------------------------------------
    def _vector(self, layer: PublishedLayer) -> None:
        if layer.kind != "vector":
            raise NotPublished(f"is a {layer.kind} layer, it has no features", layer=layer.id)

    def check(self, layer: PublishedLayer) -> None:
        """Read the version's first and last feature (rasters: open the COG with GDAL)."""
        if layer.kind == "raster":
            path = self.root / layer.location
            if not path.is_file():
                raise StoreError(f"v{layer.version} is missing from the store", layer=layer.id)
            try:
                import rasterio

                with rasterio.open(path) as src:
                    src.read(1, window=((0, 1), (0, 1)))
            except Exception as exc:
                raise StoreError(f"v{layer.version} cannot be read: {type(exc).__name__}", layer=layer.id) from exc
            return
        try:
            rows = self._read(f"SELECT {PROPS_JSON} FROM {table(layer.location)} WHERE {FID} IN (1, %s)",
                              (layer.feature_count,), layer=layer.id, binary=True)
        except StoreError as exc:
            raise StoreError(f"v{layer.version} cannot be read: {exc.message}", layer=layer.id) from exc
        if layer.feature_count and len(rows) != min(2, layer.feature_count):
            raise StoreError(f"v{layer.version} cannot be read: items are missing", layer=layer.id)

    def query(self, layer: PublishedLayer, query: FeatureQuery, deadline: float | None = None) -> FeaturePage:
        """Count and one page of matching features (geometries transformed in SQL to the output CRS)."""
        self._vector(layer)
        matched = None
        if query.count:
            counting = count_sql(layer, query)
            matched = (self._read(*counting, layer=layer.id, deadline=deadline)[0][0] if counting
                       else layer.feature_count or 0)
        rows: list[FeatureRow] = []
        if query.limit is None or query.limit > 0:
            sql, params = page_sql(layer, query)
            rows = self._rows(self._read(sql, params, layer=layer.id, deadline=deadline, binary=True),
                              query.wkb, query.crs)
        return FeaturePage(matched=matched, rows=rows)

    @staticmethod
    def _rows(found: list[tuple], wkb: bool, crs: str) -> list[FeatureRow]:
        """Rows of a read; outside CRS84 their WKB is the geometry in ``crs`` (encoded here), or CRS84
        WKB when PostGIS cannot name ``crs`` (transformed here)."""
        rows = [FeatureRow(r[0], r[1], r[2], r[3], r[4] if len(r) > 4 else None) for r in found]
        if is_crs84(crs) or not rows:
            return rows
        if output_geometry(crs) is None:
            return reproject(rows, crs, wkb)
        return with_geometries(rows, shapely.from_wkb([r.wkb for r in rows]), wkb)

    def feature(self, layer: PublishedLayer, fid: str, *, wkb: bool = False, crs: str = CRS84_URI,
                deadline: float | None = None) -> FeatureRow | None:
        """One feature by id (geometry in ``crs``, transformed in SQL)."""
        self._vector(layer)
        found = self._read(*feature_sql(layer, fid, wkb, crs), layer=layer.id, deadline=deadline, binary=True)
        rows = self._rows(found, wkb, crs)
        return rows[0] if rows else None

    def tile(self, layer: PublishedLayer, address: TileAddress, properties: Sequence[str],
             deadline: float | None = None, max_features: int = MAX_FEATURES) -> VectorTile:
        """One vector tile built by the database (``ST_AsMVT``; see :func:`tile_sql`)."""
        self._vector(layer)
        sql, params = tile_sql(layer, address, properties, max_features)
        candidates, features, data = self._read(sql, params, layer=layer.id, deadline=deadline, binary=True)[0]
        if not features:
            return EMPTY
        return VectorTile(data=bytes(data), features=features, dropped=min(candidates, max_features) - features,
                          truncated=candidates > max_features)

    def read_features(self, layer: PublishedLayer, query: FeatureQuery | None = None,
                      columns: list[str] | None = None) -> gpd.GeoDataFrame:
        """Features in CRS84 (all, or those matching ``query``), in feature order."""
        self._vector(layer)
        sql, params = frame_sql(layer, query, columns)
        with self._connect(layer.id) as con:
            cursor = con.cursor(binary=True).execute(sql, params)
            rows = cursor.fetchall()
            int32 = {c.name for c in cursor.description if c.type_code == INT4_OID}
        names = [n for n in layer.fields if columns is None or n in columns]
        attrs = pd.DataFrame([r[:-1] for r in rows], columns=names) if rows else pd.DataFrame(columns=names)
        geometry = shapely.from_wkb([r[-1] for r in rows]) if rows else np.array([], dtype=object)
        return gpd.GeoDataFrame(_frame_dtypes(attrs, layer.fields, int32), geometry=geometry, crs="OGC:CRS84")

    def raster_source(self, layer: PublishedLayer) -> str:
        """The COG's path (a folder every instance shares)."""
        return str(self.root / layer.location)

    # -- validation runs -----------------------------------------------------------------------
    def record_validation(self, report: LayerReport) -> int:
        """Store one validation run of a layer; returns its run id."""
        findings = [f.as_dict() for f in report.findings]
        count = {sev: sum(f["severity"] == sev for f in findings) for sev in ("error", "warning")}
        with self._connect(report.layer) as con:
            return int(con.execute(
                "INSERT INTO geosvc.validation_runs (layer_id, run_at, ok, errors, warnings, completeness, stale,"
                " findings) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) RETURNING run_id",
                (report.layer, utcnow().isoformat(), bool(report.ok), count["error"], count["warning"],
                 float(report.completeness), bool(report.stale), dumps(findings)),
            ).fetchone()[0])

    def validations(self, layer_id: str | None = None, latest: bool = True) -> list[ValidationRun]:
        """Validation runs (by default only the latest per layer), sorted by layer then run."""
        where = "WHERE layer_id = %s" if layer_id else ""
        args = (layer_id,) if layer_id else ()
        columns = "run_id, layer_id, run_at, ok, errors, warnings, completeness, stale, findings"
        sql = f"SELECT {columns} FROM geosvc.validation_runs {where}"
        if latest:
            sql = (f"SELECT {columns} FROM geosvc.validation_runs WHERE run_id IN "
                   f"(SELECT MAX(run_id) FROM geosvc.validation_runs {where} GROUP BY layer_id)")
        rows = self._read(sql + " ORDER BY layer_id, run_id", args, layer=layer_id)
        return [
            ValidationRun(run_id=r[0], layer=r[1], run_at=dt.datetime.fromisoformat(r[2]), ok=r[3], errors=r[4],
                          warnings=r[5], completeness=r[6], stale=r[7], findings=json.loads(r[8]))
            for r in rows
        ]

    # -- events --------------------------------------------------------------------------------
    def record_event(self, layer_id: str, kind: str, outcome: str, *, version: int | None = None,
                     message: str = "", detail: dict | None = None) -> int:
        """Append one event of a layer; returns its id."""
        with self._connect(layer_id) as con:
            return int(con.execute(
                "INSERT INTO geosvc.layer_events (layer_id, at, kind, outcome, version, message, detail)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s) RETURNING event_id",
                (layer_id, utcnow().isoformat(), kind, outcome, version, message, dumps(detail or {})),
            ).fetchone()[0])

    def events(self, layer_id: str | None = None, kind: str | None = None,
               since: dt.datetime | None = None) -> list[LayerEvent]:
        """Recorded events, oldest first."""
        where, args = event_filter(layer_id, kind, since, "%s")
        rows = self._read("SELECT event_id, layer_id, at, kind, outcome, version, message, detail "
                          f"FROM geosvc.layer_events {where} ORDER BY event_id", args, layer=layer_id)
        return [
            LayerEvent(event_id=r[0], layer=r[1], at=dt.datetime.fromisoformat(r[2]), kind=r[3], outcome=r[4],
                       version=r[5], message=r[6], detail=json.loads(r[7]))
            for r in rows
        ]

    # -- privacy ledger ------------------------------------------------------------------------
    def privacy_release(self, layer_id: str, version: int, key: str, epsilon: float, budget: float,
                        make: Callable[[], bytes]) -> PrivacyRelease:
        """The release ``key`` of a layer version, made once in a transaction holding the version's
        advisory lock (every instance on the database waits for it; not bound by the serving time budget)."""
        version, epsilon, budget = privacy_arguments(version, key, epsilon, budget)
        with self._connect(layer_id) as con:
            try:
                with con.transaction():
                    con.execute(f"SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = {LEDGER_WAIT_S * 1000}")
                    con.execute("SELECT pg_advisory_xact_lock(%s)", (_privacy_lock(layer_id, version),))
                    return ledger_release(con, layer_id, version, key, epsilon, budget, make, schema="geosvc.",
                                          placeholder="%s")
            except pgerrors.LockNotAvailable as exc:
                raise StoreError(f"v{version}: another privacy release was still being made after "
                                 f"{LEDGER_WAIT_S} s; retry in a moment", layer=layer_id) from exc

    def privacy_spent(self, layer_id: str, version: int) -> float:
        """Total ε of the releases of a layer version."""
        rows = self._read("SELECT COALESCE(SUM(epsilon), 0) FROM geosvc.privacy_releases "
                          "WHERE layer_id = %s AND version = %s", (layer_id, version), layer=layer_id)
        return float(rows[0][0])

    def privacy_releases(self, layer_id: str) -> list[PrivacyRelease]:
        """Every release of a layer, by version then creation (``payload`` empty)."""
        rows = self._read(f"SELECT {RELEASE_COLUMNS} FROM geosvc.privacy_releases WHERE layer_id = %s "
                          "ORDER BY version, release_id", (layer_id,), layer=layer_id)
        return [release_of(r, payload=False) for r in rows]
