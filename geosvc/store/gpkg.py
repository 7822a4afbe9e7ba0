"""The embedded store: one GeoPackage (vector) or COG (raster) per layer version plus a SQLite catalog.

Layout::

    store_dir/catalog.sqlite
    store_dir/layers/<id>/v<N>.gpkg   (CRS84 lon/lat, layer name = id, R-tree index)
    store_dir/layers/<id>/v<N>.tif    (Cloud Optimized GeoTIFF)

The catalog is the source of truth: a file without a catalog row (left by a crash) is never served
and is overwritten by the next publish of that layer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from geosvc.errors import NotPublished, StoreError
from geosvc.records.models import LayerRecord
from geosvc.settings import Settings
from geosvc.store.base import LayerEvent, PublishedLayer, ValidationRun
from geosvc.store.catalog import connect, dumps, utcnow

if TYPE_CHECKING:
    import geopandas as gpd

    from geosvc.validate.findings import LayerReport

SUFFIX = {"vector": ".gpkg", "raster": ".tif"}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """Flush a file or directory to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class GpkgStore:
    """:class:`geosvc.store.base.Store` on the local file system."""

    def __init__(self, settings: Settings):
        self.root = settings.store.dir
        self.catalog = settings.catalog_path
        self._ready = False  # catalog folder, WAL mode and tables ensured

    def _connect(self):
        con = connect(self.catalog, init=not self._ready)
        self._ready = True
        return con

    # -- reading -------------------------------------------------------------------------------
    def _layer(self, row: sqlite3.Row) -> PublishedLayer:
        return PublishedLayer(
            id=row["layer_id"],
            version=row["version"],
            kind=row["kind"],
            path=self.root / row["path"],
            checksum=row["checksum"],
            published_at=dt.datetime.fromisoformat(row["published_at"]),
            record=LayerRecord.model_validate_json(row["record"]),
            native_crs=row["native_crs"],
            bbox=tuple(json.loads(row["bbox"])),
            feature_count=row["feature_count"],
            geometry_type=row["geometry_type"],
            fields=json.loads(row["fields"]),
            notes=json.loads(row["notes"]),
        )

    def published(self) -> list[PublishedLayer]:
        """Latest published version of every layer, sorted by id."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT v.* FROM layer_versions v JOIN (SELECT layer_id, MAX(version) AS version "
                "FROM layer_versions GROUP BY layer_id) m USING (layer_id, version) ORDER BY v.layer_id"
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
            which = f"version {version}" if version is not None else "no published version"
            raise NotPublished(f"{which} in the store" if version is not None else which, layer=layer_id)
        return self._layer(row)

    def read_features(self, layer_id: str, version: int | None = None) -> gpd.GeoDataFrame:
        """Features of the latest (or given) version in CRS84 lon/lat."""
        import pyogrio

        layer = self.get(layer_id, version)
        if layer.kind != "vector":
            raise NotPublished(f"is a {layer.kind} layer, it has no features", layer=layer_id)
        return pyogrio.read_dataframe(layer.path, layer=layer_id, use_arrow=True)

    # -- writing -------------------------------------------------------------------------------
    def publish(self, record: LayerRecord, artifact: Path, **meta) -> PublishedLayer:
        """Atomically make ``artifact`` the layer's next version.

        ``meta``: ``native_crs``, ``bbox``, and optionally ``checksum`` (computed if absent),
        ``feature_count``, ``geometry_type``, ``fields``, ``notes``. The catalog row is inserted and
        the file renamed into place inside one SQLite transaction: a crash before the commit leaves
        the previous version as the latest one.
        """
        artifact = Path(artifact)
        checksum = meta.get("checksum") or sha256_file(artifact)
        target_dir = self.root / "layers" / record.id
        target_dir.mkdir(parents=True, exist_ok=True)
        published_at = utcnow()
        with self._connect() as con:
            try:
                con.execute("BEGIN IMMEDIATE")
                (latest,) = con.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM layer_versions WHERE layer_id = ?", (record.id,)
                ).fetchone()
                version = latest + 1
                target = target_dir / f"v{version}{SUFFIX[record.kind]}"
                con.execute(
                    "INSERT INTO layer_versions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        record.id,
                        version,
                        record.kind,
                        str(target.relative_to(self.root)),
                        checksum,
                        published_at.isoformat(),
                        meta["native_crs"],
                        dumps([float(v) for v in meta["bbox"]]),
                        meta.get("feature_count"),
                        meta.get("geometry_type"),
                        dumps(meta.get("fields", {})),
                        record.model_dump_json(),
                        dumps(meta.get("notes", [])),
                    ),
                )
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

    # -- validation runs -----------------------------------------------------------------------
    def record_validation(self, report: LayerReport) -> int:
        """Store one validation run of a layer; returns its run id."""
        findings = [f.as_dict() for f in report.findings]
        count = {sev: sum(f["severity"] == sev for f in findings) for sev in ("error", "warning")}
        with self._connect() as con:
            cur = con.execute(
                "INSERT INTO validation_runs (layer_id, run_at, ok, errors, warnings, completeness, stale, findings)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    report.layer,
                    utcnow().isoformat(),
                    int(report.ok),
                    count["error"],
                    count["warning"],
                    float(report.completeness),
                    int(report.stale),
                    dumps(findings),
                ),
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
            ValidationRun(
                run_id=r["run_id"],
                layer=r["layer_id"],
                run_at=dt.datetime.fromisoformat(r["run_at"]),
                ok=bool(r["ok"]),
                errors=r["errors"],
                warnings=r["warnings"],
                completeness=r["completeness"],
                stale=bool(r["stale"]),
                findings=json.loads(r["findings"]),
            )
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
        clauses, args = [], []
        for column, value in (("layer_id", layer_id), ("kind", kind)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            clauses.append("at >= ?")
            args.append(since.astimezone(dt.UTC).isoformat() if since.tzinfo else since.isoformat())
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as con:
            rows = con.execute(f"SELECT * FROM layer_events {where} ORDER BY event_id", args).fetchall()
        return [
            LayerEvent(event_id=r["event_id"], layer=r["layer_id"], at=dt.datetime.fromisoformat(r["at"]),
                       kind=r["kind"], outcome=r["outcome"], version=r["version"], message=r["message"],
                       detail=json.loads(r["detail"]))
            for r in rows
        ]
