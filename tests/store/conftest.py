"""A throw-away store over the real Connecticut bundle."""

from __future__ import annotations

import pytest
from support.postgis import store_settings

from geosvc.records.loader import load_records
from geosvc.settings import load_settings
from geosvc.store.backends import open_store


@pytest.fixture
def settings(tmp_path):
    return store_settings(store_dir=tmp_path / "store")


@pytest.fixture
def store(settings):
    return open_store(settings)


@pytest.fixture(scope="session")
def records():
    return load_records(load_settings().layers.dir)
