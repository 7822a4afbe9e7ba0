"""Session fixtures shared by tests/ogc and tests/api: the real sample layers published once into a
temp store (the backend under test: GEOSVC_TEST_STORE), with a restricted copy of one of them, and one app + client."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.postgis import databases_dropped, start_run_cluster, store_settings
from support.sample_store import publish_samples


# The checkout's config wherever pytest runs from (geosvc itself looks in ./config, then its packaged default).
os.environ.setdefault("GEOSVC_CONFIG", str(Path(__file__).resolve().parent.parent / "config" / "geosvc.toml"))
os.environ.setdefault("GEOSVC_EQUITY_RATE_LIMIT", "100000/minute")  # tests that are not about the limit


def pytest_configure(config):
    cluster = start_run_cluster()  # GEOSVC_TEST_STORE=postgis: one throw-away cluster for the run
    if cluster is not None:
        config.add_cleanup(cluster.remove)


@pytest.fixture(autouse=True)
def _own_databases_dropped():
    """PostGIS: the databases a test's function-scoped fixtures made are dropped after it."""
    with databases_dropped():
        yield


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    return store_settings(store_dir=tmp_path_factory.mktemp("ogc-samples"))


@pytest.fixture(scope="session")
def store(settings):
    return publish_samples(settings)


@pytest.fixture(scope="session")
def app(settings, store):
    from geosvc.api.app import create_app

    return create_app(settings, store=store)


@pytest.fixture(scope="session")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def ogc_url(settings):
    return settings.base_url + "/ogc"
