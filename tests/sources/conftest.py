"""Settings over the real Connecticut bundle with a throw-away store."""

import pytest

from geosvc.records.loader import load_records
from geosvc.settings import load_settings


@pytest.fixture
def settings(tmp_path):
    return load_settings(store_dir=tmp_path / "store")


@pytest.fixture(scope="session")
def records():
    return load_records(load_settings().layers.dir)
