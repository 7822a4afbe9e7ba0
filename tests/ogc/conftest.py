"""Session fixtures: real Connecticut sample layers validated and published once into a temp store
(with the real GpkgStore), a restricted copy of one of them, and one app + client for every test."""

from __future__ import annotations

import pytest

from geosvc.records.loader import load_records
from geosvc.settings import load_settings
from geosvc.store.gpkg import GpkgStore
from geosvc.store.publish import publish_layer, publish_order
from geosvc.validate.layer import validate_layer

SAMPLE_IDS = ["ct-towns", "ct-tracts-2010", "ct-hospitals", "ct-public-schools", "ct-population-density"]
RESTRICTED_ID = "ct-towns-restricted"


def publish_samples(settings, ids=SAMPLE_IDS) -> GpkgStore:
    """Validate and publish ``ids`` (plus a restricted copy of ct-towns) into ``settings.store_dir``."""
    store = GpkgStore(settings)
    records = load_records(settings.layers_dir, ids)
    if "ct-towns" in records:
        restricted = records["ct-towns"].model_copy(update={"id": RESTRICTED_ID, "sensitivity": "restricted"})
        records[RESTRICTED_ID] = restricted
    for record in publish_order(records.values()):
        publish_layer(record, validate_layer(record, settings), store, settings)
    return store


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    # A fixed folder per session (per xdist worker), so tests/api (which loads these fixtures again)
    # reuses the store published for tests/ogc instead of publishing a second time.
    return load_settings(store_dir=tmp_path_factory.getbasetemp() / "ogc-samples")


@pytest.fixture(scope="session")
def store(settings):
    done = settings.store_dir / "published.ok"
    if done.exists():
        return GpkgStore(settings)
    published = publish_samples(settings)
    done.write_text("\n".join(layer.id for layer in published.published()))
    return published


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
