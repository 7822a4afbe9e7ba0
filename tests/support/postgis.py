"""PostgreSQL/PostGIS for the tests: one throw-away cluster per test process, a fresh database per store.

``GEOSVC_TEST_STORE=postgis`` switches every fixture that builds a store (through
:func:`store_settings`) to the PostGIS backend; otherwise they use the embedded store.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from baselines.postgis import DBNAME, Cluster  # noqa: E402  (the benchmarks' throw-away cluster)

from support.serverproc import free_port  # noqa: E402

from geosvc.settings import Settings, load_settings  # noqa: E402

TEMPLATE = DBNAME  # has PostGIS; every test database is a copy of it
RUN_DSN = "GEOSVC_TEST_PG_DSN"  # the run's cluster (its "postgres" database)
_cluster: Cluster | None = None
_names = itertools.count(1)
_made: list[str] = []  # DSNs of the databases this process made, oldest first


def backend() -> str:
    """The store backend the tests run on: "gpkg" (default) or "postgis"."""
    return os.environ.get("GEOSVC_TEST_STORE", "gpkg")


gpkg_only = pytest.mark.skipif(backend() == "postgis", reason="about the GeoPackage files of the embedded store")
postgis_only = pytest.mark.skipif(backend() != "postgis", reason="PostGIS backend only (GEOSVC_TEST_STORE=postgis)")
store_free = pytest.mark.skipif(backend() == "postgis", reason="opens no layer store: run on the embedded pass only")


def start_cluster() -> Cluster:
    """A new running cluster (removed when the process exits)."""
    db = Cluster(free_port())
    atexit.register(db.remove)
    db.start()
    return db


def start_run_cluster() -> Cluster | None:
    """On the PostGIS backend, start the cluster of the whole test run (in pytest's main process,
    before xdist starts its workers, which find it through ``GEOSVC_TEST_PG_DSN``)."""
    if backend() != "postgis" or RUN_DSN in os.environ:
        return None
    db = start_cluster()
    os.environ[RUN_DSN] = db.dsn("postgres")
    return db


def fresh_database() -> str:
    """The DSN of a new, empty database with PostGIS on the run's cluster (started here if there is none)."""
    global _cluster
    if RUN_DSN not in os.environ:
        _cluster = start_cluster()
        os.environ[RUN_DSN] = _cluster.dsn("postgres")
    admin = os.environ[RUN_DSN]
    name = f"t{os.getpid()}_{next(_names)}"
    subprocess.run(["psql", admin, "-q", "-c", f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"],
                   check=True, capture_output=True)
    dsn = admin.replace("dbname=postgres", f"dbname={name}")
    _made.append(dsn)
    return dsn


@contextlib.contextmanager
def databases_dropped() -> Iterator[None]:
    """Drop the databases made inside the block when it ends, closing this process's connection pools of
    them first (a pool per database stays open otherwise, and a run of many tests would exhaust the
    server's connections)."""
    start = len(_made)
    try:
        yield
    finally:
        done, _made[start:] = _made[start:], []
        pools = getattr(sys.modules.get("geosvc.store.postgis"), "_pools", {})
        for dsn in done:
            pool = pools.pop((os.getpid(), dsn), None)
            if pool is not None:
                pool.close()
            name = dsn.rpartition("dbname=")[2]
            subprocess.run(["psql", os.environ[RUN_DSN], "-q", "-c", f"DROP DATABASE {name} WITH (FORCE)"],
                           check=True, capture_output=True)


def store_settings(**overrides: Any) -> Settings:
    """``load_settings(**overrides)`` on the backend under test (PostGIS: a fresh database)."""
    if backend() == "postgis" and "store_dsn" not in overrides:
        overrides.update(store_backend="postgis", store_dsn=fresh_database())
    return load_settings(**overrides)


def store_env(settings: Settings) -> dict[str, str]:
    """Environment variables that point a geosvc subprocess at the same store as ``settings``."""
    env = {"GEOSVC_STORE_DIR": str(settings.store.dir), "GEOSVC_STORE_BACKEND": settings.store.backend}
    if settings.store.dsn is not None:
        env["GEOSVC_STORE_DSN"] = settings.store.dsn.get_secret_value()
    return env
