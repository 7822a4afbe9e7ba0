"""A store with the real 2010 tracts and towns published (what record-level layers refer to), once per session."""

from __future__ import annotations

import pytest
from support.postgis import store_settings
from support.synthetic_records import ct_tract_populations, make_records

from geosvc.records.loader import load_records
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer
from geosvc.validate.layer import validate_layer


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    """(settings, store) with ct-towns and ct-tracts-2010 published."""
    settings = store_settings(store_dir=tmp_path_factory.mktemp("records") / "store")
    store = open_store(settings)
    for record in load_records(settings.layers.dir, ["ct-towns", "ct-tracts-2010"]).values():
        publish_layer(record, validate_layer(record, settings), store, settings)
    return settings, store


@pytest.fixture(scope="session")
def people():
    """1500 seeded synthetic people in the real tracts (EPSG:4269)."""
    return make_records(ct_tract_populations(), 1500, seed=20261202)
