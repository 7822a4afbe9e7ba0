"""A live geosvc for the real-client tests: the sample catalog published into a temporary store and
``geosvc serve`` running as a subprocess on a free 127.0.0.1 port.

Under pytest-xdist the store is published once per run (the first worker, under a file lock) and every
worker serves it from its own process.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock
from liveserver import GEOSVC, ROOT, LiveServer
from support.postgis import store_env, store_settings
from support.serverproc import free_port, running

from geosvc.settings import Settings, load_settings
from geosvc.store.backends import open_store


def _settings(store_dir: Path) -> Settings:
    """The clients' store: on PostGIS, the database recorded next to it by whoever published it."""
    dsn_file = store_dir / "store.dsn"
    if dsn_file.exists():
        return load_settings(store_dir=store_dir, store_backend="postgis", store_dsn=dsn_file.read_text())
    settings = store_settings(store_dir=store_dir)
    if settings.store.dsn is not None:
        dsn_file.write_text(settings.store.dsn.get_secret_value())
    return settings


def _publish(store_dir: Path) -> None:
    env = {**os.environ, **store_env(_settings(store_dir))}
    proc = subprocess.run([str(GEOSVC), "publish"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    (store_dir / "publish.log").write_text(proc.stdout + proc.stderr)


@pytest.fixture(scope="session")
def client_store_dir(tmp_path_factory, worker_id) -> Path:
    """A store holding the sample catalog, published once per test run through ``geosvc publish``."""
    if worker_id == "master":
        store_dir = tmp_path_factory.mktemp("client-store")
        _publish(store_dir)
        return store_dir
    shared = tmp_path_factory.getbasetemp().parent  # per-run folder shared by the xdist workers
    store_dir = shared / "client-store"
    with FileLock(str(shared / "client-store.lock")):
        if not (store_dir / "publish.log").exists():
            store_dir.mkdir(exist_ok=True)
            _publish(store_dir)
    return store_dir


@pytest.fixture(scope="session")
def live_server(client_store_dir: Path) -> Iterator[LiveServer]:
    """``geosvc serve`` on a free port over the published sample catalog; stopped after the session."""
    settings = _settings(client_store_dir)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [str(GEOSVC), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with running(command, f"{base_url}/health", client_store_dir / f"serve-{port}.log",
                 env=store_env(settings), cwd=ROOT):
        store = open_store(settings)
        yield LiveServer(base_url, store, {layer.id: layer for layer in store.published()})
