"""A throw-away PostgreSQL + PostGIS cluster in a temporary folder, on a free 127.0.0.1 port."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
DBNAME = "bench"
USER = "postgres"


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the ``postgres`` account when we are root."""
    return ["runuser", "-u", USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])}... failed: {proc.stderr.strip()[-500:]}")


class Cluster:
    """A PostgreSQL cluster in its own temporary folder on ``port`` (created by :meth:`start`)."""

    def __init__(self, port: int):
        self.port = port
        self.data = Path(tempfile.mkdtemp(prefix="geosvc-pgdata-"))
        if os.geteuid() == 0:
            shutil.chown(self.data, USER)
        _run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", USER, "--no-sync"]))

    def dsn(self, dbname: str = DBNAME) -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} dbname={dbname}"

    def pg_ctl(self, *args: str) -> None:
        """Run ``pg_ctl -D <data> <args>`` (start, stop, restart...) and wait for it."""
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        _run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.data / "log"),
                           "-w", *args]))

    def start(self) -> None:
        """Start the server and create the database ``DBNAME`` with PostGIS."""
        self.pg_ctl("start")
        _run(["psql", self.dsn("postgres"), "-c", f"CREATE DATABASE {DBNAME}"])
        _run(["psql", self.dsn(), "-c", "CREATE EXTENSION postgis"])

    def remove(self) -> None:
        """Stop the server (if running) and delete its folder."""
        with contextlib.suppress(RuntimeError):
            self.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.data, ignore_errors=True)


@contextlib.contextmanager
def cluster(port: int) -> Iterator[str]:
    """Create, start and finally stop and delete a cluster in its own temporary folder; yield its DSN."""
    db = Cluster(port)
    try:
        db.start()
        yield db.dsn()
    finally:
        db.remove()


def load_layer(dsn: str, gpkg: Path, layer: str, table: str, key: str) -> None:
    """Copy a CRS84 GeoPackage layer into ``table`` (SRID 4326, lon/lat) with ``key`` as primary key.

    Field names keep their case so every service returns the same property names; the geometry column
    is generic so polygons and multipolygons stay as they are.
    """
    _run([
        "ogr2ogr", "-f", "PostgreSQL", f"PG:{dsn}", str(gpkg), layer, "-nln", table, "-a_srs", "EPSG:4326",
        "-nlt", "GEOMETRY",
        "-lco", "LAUNDER=NO", "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=ogr_fid", "-lco", "SPATIAL_INDEX=GIST",
    ])
    _run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-c",
          f'ALTER TABLE {table} DROP COLUMN ogr_fid; ALTER TABLE {table} ADD PRIMARY KEY ("{key}"); ANALYZE {table};'])


def postgis_version(dsn: str) -> str:
    """``PostgreSQL x.y / PostGIS a.b.c``."""
    query = "SELECT current_setting('server_version') || ' / PostGIS ' || postgis_lib_version()"
    out = subprocess.run(["psql", dsn, "-At", "-c", query], check=True, capture_output=True, text=True).stdout.strip()
    return f"PostgreSQL {out}"


def postmaster_pid(dsn: str) -> int:
    """The cluster's server process (its children are the backends doing the queries)."""
    query = "SELECT setting FROM pg_settings WHERE name = 'data_directory'"
    data = subprocess.run(["psql", dsn, "-At", "-c", query], check=True, capture_output=True, text=True).stdout.strip()
    return int(Path(data, "postmaster.pid").read_text().split()[0])
