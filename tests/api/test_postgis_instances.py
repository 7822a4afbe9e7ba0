"""Scale-out and faults on PostGIS with real processes: two ``geosvc serve`` instances on one database
answer identically and both serve a publish made through the CLI within 2 s; the database stopping
under load turns requests into fast 503s, and service comes back by itself when the database does."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely
from support.postgis import fresh_database, postgis_only, start_cluster
from support.serverproc import free_port, running

pytestmark = [postgis_only, pytest.mark.slow, pytest.mark.xdist_group("postgis_servers")]

GEOSVC = Path(sys.executable).parent / "geosvc"
ROOT = Path(__file__).resolve().parents[2]
RECORD = """id: sample
title: Generated points
theme: testing
update_cadence: static
source: {path: sample.gpkg}
id_field: pid
crs: EPSG:4326
sensitivity: public
"""
ITEMS = "/ogc/collections/sample/items"
BBOX = {"bbox": "-73.0,41.2,-72.4,41.8", "limit": "50"}


def _write_points(root: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = gpd.GeoDataFrame({"pid": np.arange(1, n + 1), "score": rng.integers(0, 100, n)},
                             geometry=shapely.points(rng.uniform(-73.5, -71.9, n), rng.uniform(41.1, 41.9, n)),
                             crs="EPSG:4326")
    frame.to_file(root / "sample.gpkg", driver="GPKG")


def _env(tmp_path: Path, dsn: str) -> dict[str, str]:
    (tmp_path / "layers").mkdir(exist_ok=True)
    (tmp_path / "layers" / "sample.yaml").write_text(RECORD)
    return {"GEOSVC_STORE_BACKEND": "postgis", "GEOSVC_STORE_DSN": dsn, "GEOSVC_STORE_DIR": str(tmp_path / "store"),
            "GEOSVC_LAYERS_DIR": str(tmp_path / "layers"), "GEOSVC_DATA_ROOT": str(tmp_path),
            "GEOSVC_SERVER_REGISTRY_POLL_S": "0.2", "GEOSVC_SERVER_QUERY_TIMEOUT_S": "5"}


def _publish(env: dict[str, str]) -> None:
    import os

    proc = subprocess.run([str(GEOSVC), "publish", "sample"], env={**os.environ, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _serve(stack: ExitStack, env: dict[str, str], log_dir: Path) -> str:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stack.enter_context(running([str(GEOSVC), "serve", "--host", "127.0.0.1", "--port", str(port)], f"{base}/health",
                                log_dir / f"serve-{port}.log", env=env, cwd=ROOT))
    return base


def _answer(base: str, params: dict) -> tuple[int, list]:
    body = httpx.get(base + ITEMS, params=params, timeout=10).json()
    return body["numberMatched"], body["features"]


def test_two_instances_on_one_database(tmp_path):
    env = _env(tmp_path, fresh_database())
    _write_points(tmp_path, 2000, seed=1)
    _publish(env)
    with ExitStack() as stack:
        one, two = _serve(stack, env, tmp_path), _serve(stack, env, tmp_path)
        for params in (BBOX, {"limit": "100", "offset": "1900"}, {"filter": "score < 10", "limit": "500"},
                       {"sortby": "-score", "limit": "30"}):
            first = _answer(one, params)
            assert first == _answer(two, params) and first[1]
        matched_before = _answer(one, {"limit": "1"})[0]
        assert matched_before == 2000
        _write_points(tmp_path, 2500, seed=2)
        _publish(env)
        published = time.monotonic()
        pending = {one, two}
        while pending and time.monotonic() - published < 2.0:
            pending = {b for b in pending if _answer(b, {"limit": "1"})[0] != 2500}
            time.sleep(0.05)
        assert not pending, f"not serving the new version within 2 s: {pending}"
        assert _answer(one, BBOX) == _answer(two, BBOX)


def test_database_restart_under_load_fails_fast_then_recovers(tmp_path):
    db = start_cluster()
    try:
        env = _env(tmp_path, db.dsn())
        _write_points(tmp_path, 2000, seed=3)
        _publish(env)
        with ExitStack() as stack:
            base = _serve(stack, env, tmp_path)
            assert httpx.get(base + ITEMS, params=BBOX, timeout=10).status_code == 200

            def hit(_: int) -> tuple[int, float]:
                start = time.monotonic()
                try:
                    status = httpx.get(base + ITEMS, params=BBOX, timeout=15).status_code
                except httpx.HTTPError:
                    status = -1
                return status, time.monotonic() - start

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                db.pg_ctl("-m", "fast", "stop")
                down = list(pool.map(hit, range(40)))
                db.pg_ctl("start")
                deadline = time.monotonic() + 15
                while httpx.get(base + ITEMS, params=BBOX, timeout=10).status_code != 200:
                    assert time.monotonic() < deadline, "service did not recover after the database came back"
                    time.sleep(0.2)
                up = list(pool.map(hit, range(40)))
            assert {s for s, _ in down} == {503}, down
            assert max(t for _, t in down) < 5.0  # fast: within the connection wait, never the client timeout
            assert {s for s, _ in up} == {200}
            assert httpx.get(base + "/health", timeout=10).status_code == 200
    finally:
        db.remove()
