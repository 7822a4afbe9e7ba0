"""The embedded store: one GeoPackage (vector) or COG (raster) per layer version plus a SQLite catalog.

Layout::

    store_dir/catalog.sqlite
    store_dir/layers/<id>/v<N>.gpkg   (CRS84 lon/lat, layer name = id, R-tree index, geosvc_items table)
    store_dir/layers/<id>/v<N>.tif    (Cloud Optimized GeoTIFF)

The catalog is the source of truth: a file without a catalog row (left by a crash) is never served
and is overwritten by the next publish of that layer. Version files never change once published.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from geosvc.crs import CRS84_URI, is_crs84
from geosvc.errors import NotPublished, StoreError
from geosvc.records.models import LayerRecord
from geosvc.settings import Settings
from geosvc.store.base import (
    LayerEvent, PrivacyRelease, PublishedLayer, RasterVersion, ValidationRun, VectorVersion,
)
from geosvc.store.catalog import (
    RELEASE_COLUMNS, bump_generation, connect, dumps, event_filter, ledger_release, privacy_arguments, release_of,
    utcnow,
)
from geosvc.store.encoding import encode_features
from geosvc.store.files import fsync_path, sha256_file, staging_file
from geosvc.store.gpkg_query import select_feature, select_fids, select_page
from geosvc.store.query import FeaturePage, FeatureQuery, FeatureRow, reproject
from geosvc.store.sqlite_read import ITEMS, run
from geosvc.tiles.build import MAX_FEATURES, query_tile
from geosvc.tiles.grid import TileAddress
from geosvc.tiles.mvt import VectorTile

if TYPE_CHECKING:
    from geosvc.validate.findings import LayerReport

SUFFIX = {"vector": ".gpkg", "raster": ".tif"}
CHUNK = 50_000  # features encoded and inserted at a time (bounds publish memory)
ITEMS_SCHEMA = f"""
CREATE TABLE {ITEMS} (
    fid        INTEGER PRIMARY KEY,  -- the GeoPackage FID of the feature
    fid_text   TEXT NOT NULL,        -- the feature id as text (item URL)
    id_json    BLOB NOT NULL,
    geom_json  BLOB NOT NULL,        -- CRS84 GeoJSON geometry
    props_json BLOB NOT NULL,
    minx REAL, miny REAL, maxx REAL, maxy REAL,  -- exact CRS84 envelope
    t          REAL                  -- time field as UTC epoch seconds
);
"""


def write_items(path: Path, frame: gpd.GeoDataFrame, record: LayerRecord) -> None:
    """Add the ``geosvc_items`` table (pre-encoded features, envelopes, times) to a written GeoPackage."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        count, low, high = con.execute(
            f'SELECT COUNT(*), MIN(geosvc_fid), MAX(geosvc_fid) FROM "{record.id.replace(chr(34), chr(34) * 2)}"'
        ).fetchone()
        if (count, low, high) != (len(frame), 1 if len(frame) else None, len(frame) if len(frame) else None):
            raise StoreError(f"GeoPackage FIDs are not 1..{len(frame)} in frame order", layer=record.id)
        con.execute("BEGIN")
        con.execute(ITEMS_SCHEMA)
        for start in range(0, len(frame), CHUNK):
            part = frame.iloc[start : start + CHUNK]
            enc = encode_features(part, record.id_field, record.time_field)
            times = enc.times if enc.times is not None else np.full(len(part), np.nan)
            con.executemany(
                f"INSERT INTO {ITEMS} VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    (start + k + 1, enc.fids[k], enc.id_json[k], enc.geom_json[k], enc.props_json[k],
                     *map(float, enc.bounds[k]), None if np.isnan(times[k]) else float(times[k]))
                    for k in range(len(part))
                ),
            )
        con.execute(f"CREATE INDEX {ITEMS}_fid_text ON {ITEMS} (fid_text)")
        con.execute("COMMIT")
    finally:
        con.close()


def promote_to_multi(frame: gpd.GeoDataFrame, geometry_type: str) -> gpd.GeoDataFrame:
    """Single parts as their Multi- type when the layer is Multi- (as GDAL writes them), so the
    pre-encoded GeoJSON and the stored geometries agree."""
    if not geometry_type.startswith("Multi"):
        return frame
    geoms = np.asarray(frame.geometry.array)
    single = shapely.get_type_id(geoms) == {"MultiPoint": 0, "MultiLineString": 1, "MultiPolygon": 3}[geometry_type]
    if not single.any():
        return frame
    make = {"MultiPoint": shapely.multipoints, "MultiLineString": shapely.multilinestrings,
            "MultiPolygon": shapely.multipolygons}[geometry_type]
    promoted = geoms.copy()
    promoted[single] = [make([g]) for g in geoms[single]]
    return frame.set_geometry(gpd.GeoSeries(promoted, index=frame.index, crs=frame.crs))


class GpkgStore:
    """:class:`geosvc.store.base.Store` on the local file system."""

    inline_budget_s = 0.01  # a small page is read in well under a millisecond

    def __init__(self, settings: Settings):
        self.root = settings.store.dir
        self.catalog = settings.catalog_path
        self._ready = False  # catalog folder, WAL mode and tables ensured

    def _connect(self):
        con = connect(self.catalog, init=not self._ready)
        self._ready = True
        return con

    def file(self, layer: PublishedLayer) -> Path:
        """The version's file in this store."""
        return self.root / layer.location

    # -- catalog -------------------------------------------------------------------------------
    def _layer(self, row: sqlite3.Row) -> PublishedLayer:
        return PublishedLayer(
            id=row["layer_id"],
            version=row["version"],
            kind=row["kind"],
            location=row["path"],
            checksum=row["checksum"],
            published_at=dt.datetime.fromisoformat(row["published_at"]),
            record=LayerRecord.model_validate_json(row["record"]),
            native_crs=row["native_crs"],
            bbox=tuple(json.loads(row["bbox"])),
            feature_count=row["feature_count"],
            geometry_type=row["geometry_type"],
            fields=json.loads(row["fields"]),
            notes=json.loads(row["notes"]),
            content_hash=row["content_hash"],
        )

    def published(self) -> list[PublishedLayer]:
        """Latest version of every layer that is not withdrawn, sorted by id."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT v.* FROM layer_versions v JOIN (SELECT layer_id, MAX(version) AS version "
                "FROM layer_versions GROUP BY layer_id) m USING (layer_id, version) "
                "WHERE v.layer_id NOT IN (SELECT layer_id FROM withdrawn) ORDER BY v.layer_id"
            ).fetchall()
        return [self._layer(r) for r in rows]

    def versions(self, layer_id: str) -> list[PublishedLayer]:
        """Every published version of a layer, oldest first (empty if never published)."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT * FROM layer_versions WHERE layer_id = ? ORDER BY version", (layer_id,)
            ).fetchall()
        return [self._layer(r) for r in rows]

    def get(self, layer_id: str, version: int | None = None) -> PublishedLayer:
        """Latest (or the given) published version; raises :class:`NotPublished`."""
        sql = "SELECT * FROM layer_versions WHERE layer_id = ?"
        args: tuple = (layer_id,)
        if version is not None:
            sql, args = sql + " AND version = ?", (layer_id, version)
        with self._connect() as con:
            row = con.execute(sql + " ORDER BY version DESC LIMIT 1", args).fetchone()
        if row is None:
            raise NotPublished(f"version {version} in the store" if version is not None else "no published version",
                               layer=layer_id)
        return self._layer(row)

    def withdrawn(self) -> set[str]:
        """Ids of layers withdrawn from serving."""
        with self._connect() as con:
            return {r[0] for r in con.execute("SELECT layer_id FROM withdrawn")}

    def generation(self) -> int:
        """Changes whenever what is served changes."""
        with self._connect() as con:
            row = con.execute("SELECT value FROM catalog_state WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def withdraw(self, layer_id: str) -> PublishedLayer:
        """Stop serving a layer (its versions stay)."""
        layer = self.get(layer_id)
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT OR REPLACE INTO withdrawn VALUES (?, ?)", (layer_id, utcnow().isoformat()))
            bump_generation(con)
            con.execute("COMMIT")
        return layer

    def restore(self, layer_id: str) -> bool:
        """Serve a withdrawn layer again."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            gone = con.execute("DELETE FROM withdrawn WHERE layer_id = ?", (layer_id,)).rowcount
            if gone:
                bump_generation(con)
            con.execute("COMMIT")
        return bool(gone)

    # -- writing -------------------------------------------------------------------------------
    def staging(self, suffix: str) -> Path:
        """A fresh staging file name (see :func:`staging_file`)."""
        return staging_file(self.root, suffix)

    def publish_vector(self, record: LayerRecord, version: VectorVersion) -> PublishedLayer:
        """Write the GeoPackage (features, R-tree, pre-encoded items) and make it the next version."""
        import pyogrio

        frame = promote_to_multi(version.frame.reset_index(drop=True), version.geometry_type)
        artifact = self.staging(".gpkg")
        try:
            pyogrio.write_dataframe(frame, artifact, layer=record.id, driver="GPKG", use_arrow=True,
                                    FID="geosvc_fid", SPATIAL_INDEX="YES")
            write_items(artifact, frame, record)
            fsync_path(artifact)
            return self._commit(record, artifact, native_crs=version.native_crs, bbox=tuple(frame.total_bounds),
                                feature_count=len(frame), geometry_type=version.geometry_type,
                                fields=version.fields, notes=version.notes, content_hash=version.content_hash)
        finally:
            artifact.unlink(missing_ok=True)

    def publish_raster(self, record: LayerRecord, version: RasterVersion) -> PublishedLayer:
        """Make the COG the layer's next version."""
        try:
            fsync_path(version.cog)
        except OSError as exc:
            raise StoreError(f"could not publish: {exc}", layer=record.id) from exc
        return self._commit(record, version.cog, native_crs=version.native_crs, bbox=version.bbox,
                            feature_count=None, geometry_type=None, fields=version.fields, notes=version.notes,
                            content_hash=version.content_hash)

    def _commit(self, record: LayerRecord, artifact: Path, **meta) -> PublishedLayer:
        """Insert the catalog row and rename the file into place inside one SQLite transaction.

        A crash before the commit leaves the previous version as the latest one.
        """
        checksum = sha256_file(artifact)
        target_dir = self.root / "layers" / record.id
        target_dir.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            try:
                con.execute("BEGIN IMMEDIATE")
                (latest,) = con.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM layer_versions WHERE layer_id = ?", (record.id,)
                ).fetchone()
                version = latest + 1
                target = target_dir / f"v{version}{SUFFIX[record.kind]}"
                con.execute(
                    "INSERT INTO layer_versions (layer_id, version, kind, path, checksum, published_at, native_crs,"
                    " bbox, feature_count, geometry_type, fields, record, notes, content_hash)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        record.id, version, record.kind, str(target.relative_to(self.root)), checksum,
                        utcnow().isoformat(), meta["native_crs"], dumps([float(v) for v in meta["bbox"]]),
                        meta["feature_count"], meta["geometry_type"], dumps(meta["fields"]),
                        record.model_dump_json(), dumps(meta["notes"]), meta["content_hash"],
                    ),
                )
                con.execute("DELETE FROM withdrawn WHERE layer_id = ?", (record.id,))
                bump_generation(con)
                os.replace(artifact, target)
                fsync_path(target_dir)
                con.execute("COMMIT")
            except BaseException as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                if isinstance(exc, (OSError, sqlite3.Error)):
                    raise StoreError(f"could not publish: {exc}", layer=record.id) from exc
                raise
        return self.get(record.id, version)

    # -- reading a version ---------------------------------------------------------------------
    def _vector_file(self, layer: PublishedLayer) -> Path:
        if layer.kind != "vector":
            raise NotPublished(f"is a {layer.kind} layer, it has no features", layer=layer.id)
        return self.file(layer)

    def check(self, layer: PublishedLayer) -> None:
        """Open the version and read its first and last feature (rasters: open with GDAL)."""
        path = self.file(layer)
        if not path.is_file():
            raise StoreError(f"v{layer.version} is missing from the store", layer=layer.id)
        try:
            if layer.kind == "raster":
                import rasterio

                with rasterio.open(path) as src:
                    src.read(1, window=((0, 1), (0, 1)))
                return
            rows = run(path, f"SELECT fid, props_json FROM {ITEMS} WHERE fid IN (1, ?)", [layer.feature_count], None)
            if layer.feature_count and len(rows) != min(2, layer.feature_count):
                raise StoreError("items are missing")
            for _, props in rows:
                json.loads(props)
        except StoreError as exc:
            raise StoreError(f"v{layer.version} cannot be read: {exc.message}", layer=layer.id) from exc
        except Exception as exc:  # rasterio / JSON / SQLite errors on a damaged file
            raise StoreError(f"v{layer.version} cannot be read: {type(exc).__name__}", layer=layer.id) from exc

    def _guard(self, layer: PublishedLayer, read):
        try:
            return read()
        except StoreError as exc:
            if exc.layer is None:
                exc.layer = layer.id
            raise

    def query(self, layer: PublishedLayer, query: FeatureQuery, deadline: float | None = None) -> FeaturePage:
        """Count and one page of matching features (transformed here when the output CRS is not CRS84)."""
        path = self._vector_file(layer)
        if is_crs84(query.crs):
            return self._guard(layer, lambda: select_page(path, layer, query, deadline))
        page = self._guard(layer, lambda: select_page(path, layer, dataclasses.replace(query, wkb=True), deadline))
        return FeaturePage(page.matched, reproject(page.rows, query.crs, query.wkb))

    def feature(self, layer: PublishedLayer, fid: str, *, wkb: bool = False, crs: str = CRS84_URI,
                deadline: float | None = None) -> FeatureRow | None:
        """One feature by id (geometry in ``crs``)."""
        read_wkb = wkb or not is_crs84(crs)
        row = self._guard(layer, lambda: select_feature(self._vector_file(layer), layer, fid, read_wkb, deadline))
        if row is None or is_crs84(crs):
            return row
        return reproject([row], crs, wkb)[0]

    def tile(self, layer: PublishedLayer, address: TileAddress, properties: Sequence[str],
             deadline: float | None = None, max_features: int = MAX_FEATURES) -> VectorTile:
        """One vector tile, encoded in Python from :meth:`query` (:func:`geosvc.tiles.build.query_tile`)."""
        return query_tile(self, layer, address, properties, deadline, max_features)

    def read_features(self, layer: PublishedLayer, query: FeatureQuery | None = None,
                      columns: list[str] | None = None) -> gpd.GeoDataFrame:
        """Features in CRS84 (all, or those matching ``query``), in feature order."""
        import pyogrio

        path = self._vector_file(layer)
        fids = None
        if query is not None:
            fids = np.asarray(self._guard(layer, lambda: select_fids(path, layer, query, None)), dtype=np.int64)
        try:
            frame = pyogrio.read_dataframe(path, layer=layer.id, use_arrow=True, columns=columns,
                                           fids=fids if fids is not None and len(fids) else None)
        except Exception as exc:
            raise StoreError(f"v{layer.version} cannot be read: {exc}", layer=layer.id) from exc
        if fids is not None and not len(fids):
            frame = frame.iloc[:0]
        return frame.reset_index(drop=True)

    def raster_source(self, layer: PublishedLayer) -> str:
        """The COG's path."""
        return str(self.file(layer))

    # -- validation runs -----------------------------------------------------------------------
    def record_validation(self, report: LayerReport) -> int:
        """Store one validation run of a layer; returns its run id."""
        findings = [f.as_dict() for f in report.findings]
        count = {sev: sum(f["severity"] == sev for f in findings) for sev in ("error", "warning")}
        with self._connect() as con:
            cur = con.execute(
                "INSERT INTO validation_runs (layer_id, run_at, ok, errors, warnings, completeness, stale, findings)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (report.layer, utcnow().isoformat(), int(report.ok), count["error"], count["warning"],
                 float(report.completeness), int(report.stale), dumps(findings)),
            )
            return int(cur.lastrowid)

    def validations(self, layer_id: str | None = None, latest: bool = True) -> list[ValidationRun]:
        """Validation runs (by default only the latest per layer), sorted by layer then run."""
        where = "WHERE layer_id = ?" if layer_id else ""
        args = (layer_id,) if layer_id else ()
        sql = f"SELECT * FROM validation_runs {where}"
        if latest:
            sql = (
                f"SELECT * FROM validation_runs WHERE run_id IN "
                f"(SELECT MAX(run_id) FROM validation_runs {where} GROUP BY layer_id)"
            )
        with self._connect() as con:
            rows = con.execute(sql + " ORDER BY layer_id, run_id", args).fetchall()
        return [
            ValidationRun(run_id=r["run_id"], layer=r["layer_id"], run_at=dt.datetime.fromisoformat(r["run_at"]),
                          ok=bool(r["ok"]), errors=r["errors"], warnings=r["warnings"],
                          completeness=r["completeness"], stale=bool(r["stale"]), findings=json.loads(r["findings"]))
            for r in rows
        ]

    # -- events --------------------------------------------------------------------------------
    def record_event(self, layer_id: str, kind: str, outcome: str, *, version: int | None = None,
                     message: str = "", detail: dict | None = None) -> int:
        """Append one event of a layer; returns its id."""
        with self._connect() as con:
            cur = con.execute(
                "INSERT INTO layer_events (layer_id, at, kind, outcome, version, message, detail) VALUES (?,?,?,?,?,?,?)",
                (layer_id, utcnow().isoformat(), kind, outcome, version, message, dumps(detail or {})),
            )
            return int(cur.lastrowid)

    def events(self, layer_id: str | None = None, kind: str | None = None,
               since: dt.datetime | None = None) -> list[LayerEvent]:
        """Recorded events, oldest first."""
        where, args = event_filter(layer_id, kind, since)
        with self._connect() as con:
            rows = con.execute(f"SELECT * FROM layer_events {where} ORDER BY event_id", args).fetchall()
        return [
            LayerEvent(event_id=r["event_id"], layer=r["layer_id"], at=dt.datetime.fromisoformat(r["at"]),
                       kind=r["kind"], outcome=r["outcome"], version=r["version"], message=r["message"],
                       detail=json.loads(r["detail"]))
            for r in rows
        ]

    # -- privacy ledger ------------------------------------------------------------------------
    def privacy_release(self, layer_id: str, version: int, key: str, epsilon: float, budget: float,
                        make: Callable[[], bytes]) -> PrivacyRelease:
        """The release ``key`` of a layer version, made once under the catalog's write lock (BEGIN IMMEDIATE)."""
        version, epsilon, budget = privacy_arguments(version, key, epsilon, budget)
        with self._connect() as con:
            try:
                con.execute("BEGIN IMMEDIATE")
                release = ledger_release(con, layer_id, version, key, epsilon, budget, make)
                con.execute("COMMIT")
            except BaseException as exc:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"could not record the privacy release: {exc}", layer=layer_id) from exc
                raise
        return release

    def privacy_spent(self, layer_id: str, version: int) -> float:
        """Total ε of the releases of a layer version."""
        with self._connect() as con:
            (spent,) = con.execute("SELECT COALESCE(SUM(epsilon), 0) FROM privacy_releases "
                                   "WHERE layer_id = ? AND version = ?", (layer_id, version)).fetchone()
        return float(spent)

    def privacy_releases(self, layer_id: str) -> list[PrivacyRelease]:
        """Every release of a layer, by version then creation (``payload`` empty)."""
        with self._connect() as con:
            rows = con.execute(f"SELECT {RELEASE_COLUMNS} FROM privacy_releases WHERE layer_id = ? "
                               "ORDER BY version, rowid", (layer_id,)).fetchall()
        return [release_of(r, payload=False) for r in rows]
