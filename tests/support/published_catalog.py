"""The real sample catalog published into a temporary store, and a real server process serving it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.postgis import store_env, store_settings
from support.serverproc import free_port, running

from geosvc.records.loader import load_records
from geosvc.settings import Settings
from geosvc.store.backends import open_store
from geosvc.store.base import Store
from geosvc.store.publish import publish_layer, publish_order
from geosvc.validate.layer import validate_layer


def publish_catalog(store_dir: Path) -> tuple[Settings, Store]:
    """Validate and publish every sample record into ``store_dir`` (about 5 s)."""
    settings = store_settings(store_dir=store_dir)
    store = open_store(settings)
    for record in publish_order(load_records(settings.layers.dir).values()):
        publish_layer(record, validate_layer(record, settings), store, settings)
    return settings, store


@contextmanager
def running_server(settings: Settings, timeout: float = 120.0) -> Iterator[str]:
    """Run ``geosvc.api.app.serve`` for ``settings.store.dir`` in a real uvicorn process; yield its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**store_env(settings), "GEOSVC_PORT": str(port)}
    code = "from geosvc.api.server import serve; from geosvc.settings import load_settings; serve(load_settings())"
    log_path = Path(settings.store.dir) / f"server-{port}.log"
    with running([sys.executable, "-c", code], f"{base}/health", log_path, env=env, timeout=timeout):
        yield base


@dataclass(frozen=True)
class ServedCatalog:
    """The published sample catalog and the URL of a real server process serving it."""

    settings: Settings
    store: Store
    base_url: str


_SERVED = pytest.StashKey[ServedCatalog]()


def served_catalog(request: pytest.FixtureRequest) -> ServedCatalog:
    """One published catalog and server per test session (per xdist worker), stopped at session end.

    Call it from a fixture of any scope; the first call publishes (~10 s) and starts the server (~20 s).
    """
    config = request.config
    if _SERVED not in config.stash:
        stack = ExitStack()
        config.add_cleanup(stack.close)
        store_dir = request.getfixturevalue("tmp_path_factory").mktemp("served-catalog")
        settings, store = publish_catalog(store_dir)
        config.stash[_SERVED] = ServedCatalog(settings, store, stack.enter_context(running_server(settings)))
    return config.stash[_SERVED]
