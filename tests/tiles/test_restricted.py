"""A restricted layer's tiles and downloads: a 404 like a missing id to others; to its role, privately
cached answers, reads in the audit trail, files generated in the store folder only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.postgis import store_settings

from geosvc.api.app import create_app
from geosvc.auth.caller import utcnow
from geosvc.auth.keys import ApiKey, key_hash, new_key
from geosvc.records.loader import load_records
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer
from geosvc.validate.layer import validate_layer

SECRET = "ct-towns-secret"
ROUTES = ["/ogc/collections/{id}/tiles", "/ogc/collections/{id}/tiles/WebMercatorQuad",
          "/ogc/collections/{id}/tiles/WebMercatorQuad/12/1524/1221", "/ogc/collections/{id}/downloads",
          "/ogc/collections/{id}/downloads/fgb", "/ogc/collections/{id}/downloads/qlr"]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    settings = store_settings(store_dir=tmp_path_factory.mktemp("restricted-tiles") / "store")
    store = open_store(settings)
    record = load_records(settings.layers.dir, ["ct-towns"])["ct-towns"].model_copy(
        update={"id": SECRET, "sensitivity": "restricted", "access": {"roles": ["planner"]}})
    publish_layer(record, validate_layer(record, settings), store, settings)
    app = create_app(settings, store)
    key_id, key = new_key()
    app.state.access_store.add_key(ApiKey(key_id, "planner", ("planner",), key_hash(key), utcnow()))
    with TestClient(app) as client:
        yield client, {"X-API-Key": key}, app.state.access_store, settings


@pytest.mark.parametrize("route", ROUTES)
def test_others_get_what_a_missing_id_gets(service, route):
    client, _, _, settings = service
    missing = client.get(route.format(id="no-such-layer"))
    response = client.get(route.format(id=SECRET))
    assert (response.status_code, response.text.replace(SECRET, "ID")) == \
        (missing.status_code, missing.text.replace("no-such-layer", "ID")) and missing.status_code == 404


@pytest.mark.parametrize("route", ROUTES)
def test_the_role_reads_them_privately_and_audited(service, route):
    client, granted, access_store, _ = service
    before = len(access_store.audit_entries())
    response = client.get(route.format(id=SECRET), headers=granted)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["cache-control"].startswith("private")
    read = "/tiles/WebMercatorQuad/12/" in route or "/downloads/" in route and not route.endswith("/downloads")
    entries = access_store.audit_entries()
    assert len(entries) == before + read
    if read:
        assert tuple(entries[-1].layers) == (SECRET,)


def test_files_stay_in_the_store_folder(service):
    client, granted, _, settings = service
    client.get(f"/ogc/collections/{SECRET}/downloads/gpkg", headers=granted)
    assert list((settings.store.dir / "downloads" / SECRET).rglob("*.gpkg"))
