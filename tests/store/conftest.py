"""A throw-away store over the real Connecticut bundle."""

from __future__ import annotations

import pytest

from geosvc.records.loader import load_records
from geosvc.settings import load_settings
from geosvc.store.gpkg import GpkgStore


@pytest.fixture
def settings(tmp_path):
    return load_settings(store_dir=tmp_path / "store")


@pytest.fixture
def store(settings):
    return GpkgStore(settings)


@pytest.fixture(scope="session")
def records():
    return load_records(load_settings().layers.dir)
