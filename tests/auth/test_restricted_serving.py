"""A restricted layer shared with one role: served to its holders through every route, and to everyone
else exactly like an id that does not exist; a derived layer is as restricted as its input; reads are audited."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from support.postgis import store_settings

from geosvc.api.app import create_app
from geosvc.auth.audit import verify
from geosvc.auth.caller import utcnow
from geosvc.auth.keys import ApiKey, key_hash, new_key
from geosvc.records.loader import load_records
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer, publish_order
from geosvc.validate.layer import validate_layer

SECRET = "ct-tracts-health"  # restricted copy of the 2010 tracts, shared with role health-analyst
DERIVED = "ct-health-density"  # a public-looking raster derived from it
ROUTES = ["/ogc/collections/{id}", "/ogc/collections/{id}/items?limit=2", "/ogc/collections/{id}/queryables",
          "/ogc/collections/{id}/items?f=html&limit=1", "/ogc/collections/{id}/items?f=csv&limit=1",
          "/ogc/collections/records/items/{id}", "/registry/{id}"]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    settings = store_settings(store_dir=tmp_path_factory.mktemp("restricted") / "store")
    store = open_store(settings)
    records = load_records(settings.layers.dir, ["ct-towns", "ct-tracts-2010", "ct-population-density"])
    records[SECRET] = records["ct-tracts-2010"].model_copy(
        update={"id": SECRET, "sensitivity": "restricted", "access": {"roles": ["health-analyst"]}})
    density = records.pop("ct-population-density")
    records[DERIVED] = density.model_copy(
        update={"id": DERIVED, "derived": density.derived.model_copy(update={"input_layer": SECRET})})
    for record in publish_order(records.values()):
        publish_layer(record, validate_layer(record, settings), store, settings)
    app = create_app(settings, store)
    keys = {}
    for name, roles in (("analyst", ("health-analyst",)), ("other", ("roads",))):
        key_id, key = new_key()
        app.state.access_store.add_key(ApiKey(key_id, name, roles, key_hash(key), utcnow()))
        keys[name] = key
    with TestClient(app) as client:
        yield client, keys, app.state.access_store, store


def _nothing_like(client, route: str) -> tuple[int, str]:
    response = client.get(route.format(id="no-such-layer"))
    return response.status_code, response.text.replace("no-such-layer", "ID")


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_and_other_roles_get_what_a_missing_id_gets(service, route):
    client, keys, _, _ = service
    expected = _nothing_like(client, route)
    for headers in ({}, {"X-API-Key": keys["other"]}):
        for layer_id in (SECRET, DERIVED):
            response = client.get(route.format(id=layer_id), headers=headers)
            assert (response.status_code, response.text.replace(layer_id, "ID")) == expected, (route, layer_id)


@pytest.mark.parametrize("route", ROUTES)
def test_the_granted_role_reads_it_everywhere(service, route):
    client, keys, _, _ = service
    by_key = client.get(route.format(id=SECRET), headers={"X-API-Key": keys["analyst"]})
    assert by_key.status_code == 200, by_key.text
    assert "private" in by_key.headers["cache-control"]
    basic = base64.b64encode(f"qgis:{keys['analyst']}".encode()).decode()
    assert client.get(route.format(id=SECRET), headers={"Authorization": f"Basic {basic}"}).status_code == 200


def test_lists_documents_and_health_never_name_it_to_others(service):
    client, keys, _, _ = service
    granted_page = client.get("/ogc/collections?f=html", headers={"X-API-Key": keys["analyst"]}).text
    assert SECRET in granted_page  # rendered first: pages must not reuse it for anyone else
    for headers in ({}, {"X-API-Key": keys["other"]}):
        for url in ("/ogc/collections", "/ogc/openapi?f=json", "/registry", "/health", "/data.json",
                    "/ogc/collections/records/items?limit=100", "/ogc/collections?f=html"):
            text = client.get(url, headers=headers).text
            assert SECRET not in text and DERIVED not in text, url
    granted = {"X-API-Key": keys["analyst"]}
    assert SECRET in [c["id"] for c in client.get("/ogc/collections", headers=granted).json()["collections"]]
    assert DERIVED in client.get("/ogc/openapi?f=json", headers=granted).text


def test_the_derived_raster_is_as_restricted_as_its_input(service):
    client, keys, _, _ = service
    cog = f"/ogc/collections/{DERIVED}/cog.tif"
    assert client.get(cog).status_code == 404
    assert client.get(cog, headers={"X-API-Key": keys["other"]}).status_code == 404
    granted = client.get(cog, headers={"X-API-Key": keys["analyst"], "Range": "bytes=0-99"})
    assert granted.status_code == 206 and len(granted.content) == 100


def test_validators_never_answer_for_someone_else(service):
    client, keys, _, store = service
    etag = store.get(SECRET).etag
    url = f"/ogc/collections/{SECRET}/items?limit=1"
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 404  # not 304
    assert client.get(url, headers={"If-None-Match": etag, "X-API-Key": keys["analyst"]}).status_code == 304
    assert "Authorization" in client.get(url, headers={"X-API-Key": keys["analyst"]}).headers["vary"]


def test_bad_credentials_are_401_not_anonymous(service):
    client, keys, _, _ = service
    forged = keys["analyst"][:-4] + "AAAA"
    response = client.get(f"/ogc/collections/{SECRET}", headers={"X-API-Key": forged})
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers
    assert client.get("/ogc/collections/ct-towns", headers={"X-API-Key": forged}).status_code == 401


def test_restricted_reads_are_audited_in_a_chain_that_verifies(service):
    client, keys, access, _ = service
    before = len(access.audit_entries())
    client.get(f"/ogc/collections/{SECRET}/items?limit=3", headers={"X-API-Key": keys["analyst"]})
    client.get("/ogc/collections/ct-towns/items?limit=3", headers={"X-API-Key": keys["analyst"]})  # public: not
    entries = access.audit_entries()
    new = entries[before:]
    assert len(new) == 1 and new[0].layers == (SECRET,) and new[0].action == "read"
    assert new[0].params == {"limit": "3"} and new[0].answer_hash and new[0].subject.startswith("key:")
    assert verify(entries) is None
