"""``/access-requests`` on a small FastAPI app of our own (the router, the error mapping and the middleware,
over a real store with one public and one restricted published layer)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from support.postgis import store_settings

from geosvc.api.errors import install_error_handlers
from geosvc.api.routes.access import install_access
from geosvc.auth.caller import utcnow
from geosvc.auth.keys import ApiKey, key_hash, new_key
from geosvc.auth.middleware import CallerMiddleware
from geosvc.auth.store import open_access_store
from geosvc.records.loader import load_records
from geosvc.records.models import Access
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer
from geosvc.validate.layer import validate_layer


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    settings = store_settings(store_dir=tmp_path_factory.mktemp("access-api"))
    store = open_store(settings)
    towns = load_records(settings.layers.dir, ["ct-towns"])["ct-towns"]
    health = towns.model_copy(update={"id": "ct-towns-health", "sensitivity": "restricted",
                                      "access": Access(roles=["epi"])})
    for record in (towns, health):
        publish_layer(record, validate_layer(record, settings), store, settings)
    app = FastAPI()
    app.state.settings, app.state.store = settings, store
    install_error_handlers(app)
    app.state.access_store = open_access_store(settings)
    install_access(app, [], settings)
    app.add_middleware(CallerMiddleware, settings=settings)
    keys = {}
    for name, roles in (("analyst", ()), ("steward", ("steward",))):
        key_id, key = new_key()
        app.state.access_store.add_key(ApiKey(key_id, name, roles, key_hash(key), utcnow()))
        keys[name] = {"X-API-Key": key}
    with TestClient(app) as client:
        yield client, keys, app.state.access_store


def _ask(client, headers, layer="ct-towns-health", **extra):
    return client.post("/access-requests", json={"layer": layer, "role": "epi", "purpose": "surveillance"} | extra,
                       headers=headers)


def test_anonymous_callers_must_sign_in(api):
    client, _, _ = api
    for response in (_ask(client, {}), client.get("/access-requests")):
        assert response.status_code == 401 and "sign in" in response.json()["description"]
        assert "Basic" in response.headers["WWW-Authenticate"]


def test_asking_does_not_reveal_whether_a_restricted_layer_exists(api):
    client, keys, _ = api
    real, unknown = _ask(client, keys["analyst"]), _ask(client, keys["analyst"], layer="no-such-layer")
    assert real.status_code == unknown.status_code == 201
    assert set(real.json()) == set(unknown.json()) and real.json()["status"] == unknown.json()["status"] == "requested"
    public = _ask(client, keys["analyst"], layer="ct-towns")
    assert public.status_code == 400 and "public" in public.json()["description"]
    assert _ask(client, keys["analyst"], colour="blue").status_code == 400


def test_steward_approves_with_expiry_and_the_grant_is_in_force(api):
    client, keys, store = api
    request = _ask(client, keys["analyst"]).json()
    mine = client.get("/access-requests", headers=keys["analyst"]).json()["requests"]
    assert request["id"] in [r["id"] for r in mine] and {r["subject"] for r in mine} == {request["subject"]}

    forbidden = client.post(f"/access-requests/{request['id']}/approve", headers=keys["analyst"])
    assert forbidden.status_code == 403 and "'steward' role" in forbidden.json()["description"]

    approved = client.post(f"/access-requests/{request['id']}/approve", json={"expires": "1h", "note": "DSA-7"},
                           headers=keys["steward"])
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved" and body["decided_by"].startswith("key:") and body["hours_to_decision"] >= 0
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(minutes=59) < expires - utcnow() <= dt.timedelta(hours=1)
    assert [g.layer for g in store.grants_for(request["subject"], utcnow())] == ["ct-towns-health"]
    assert store.grants_for(request["subject"], expires + dt.timedelta(seconds=1)) == frozenset()

    again = client.post(f"/access-requests/{request['id']}/deny", headers=keys["steward"])
    assert again.status_code == 400 and "already approved" in again.json()["description"]
    everyone = client.get("/access-requests", headers=keys["steward"]).json()["requests"]
    assert len(everyone) >= len(mine)


def test_decisions_on_unknown_or_ungrantable_requests(api):
    client, keys, _ = api
    assert client.post("/access-requests/99999/deny", headers=keys["steward"]).status_code == 404
    nothing = _ask(client, keys["analyst"], layer="no-such-layer").json()
    refused = client.post(f"/access-requests/{nothing['id']}/approve", headers=keys["steward"])
    assert refused.status_code == 400 and "no layer record" in refused.json()["description"]
    assert client.post(f"/access-requests/{nothing['id']}/deny", headers=keys["steward"]).json()["status"] == "denied"
    bad_expiry = _ask(client, keys["analyst"]).json()
    response = client.post(f"/access-requests/{bad_expiry['id']}/approve", json={"expires": "whenever"},
                           headers=keys["steward"])
    assert response.status_code == 400 and "expires" in response.json()["description"]
