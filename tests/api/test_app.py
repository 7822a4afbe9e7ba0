"""The FastAPI application around pygeoapi: root links, health, registry view, API docs."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest
from support.published_catalog import running_server
from support.sample_store import RESTRICTED_ID

from geosvc.api.app import create_app, load_hook


def test_root_links_to_ogc_registry_and_docs(client, settings):
    links = {link["rel"]: link["href"] for link in client.get("/").json()["links"]}
    assert links["service"] == settings.base_url + "/ogc"
    assert links["data"] == settings.base_url + "/registry"
    assert links["service-doc"] == settings.base_url + "/docs"
    for href in links.values():
        assert client.get(href.removeprefix(settings.base_url)).status_code == 200


def test_health_reports_store_and_catalog(client, store):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["store"]["reachable"] is True
    published = store.published()
    assert body["registry"]["generation"] == store.generation() and body["catalog"]["unreadable"] == []
    assert str(store.root) not in str(body)  # no absolute paths
    served = {layer["id"]: layer["version"] for layer in body["catalog"]["layers"]}
    assert RESTRICTED_ID not in served
    assert served == {layer.id: layer.version for layer in published if layer.record.sensitivity == "public"}


def test_registry_lists_served_layers_only(client, store):
    layers = client.get("/registry").json()["layers"]
    ids = [layer["id"] for layer in layers]
    assert RESTRICTED_ID not in ids and "ct-tracts-2010" in ids
    one = client.get("/registry/ct-tracts-2010").json()
    assert one["feature_count"] == store.get("ct-tracts-2010").feature_count
    assert client.get(f"/registry/{RESTRICTED_ID}").status_code == 404


def test_restricted_layer_is_not_served_anywhere(client):
    assert client.get(f"/ogc/collections/{RESTRICTED_ID}").status_code == 404
    assert client.get(f"/ogc/collections/{RESTRICTED_ID}/items").status_code == 404
    ids = [c["id"] for c in client.get("/ogc/collections").json()["collections"]]
    assert RESTRICTED_ID not in ids and "ct-towns" in ids


def test_fastapi_docs_cover_the_non_ogc_api(client):
    document = client.get("/openapi.json").json()
    assert "/registry" in document["paths"] and "/health" in document["paths"]
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(src.startswith("/") for src in sources), sources  # no asset from another host
    for src in sources:
        assert client.get(src).status_code == 200, src


def test_pygeoapi_run_files_are_removed_after_each_build(app, settings):
    app.state.registry.refresh(force=True)
    run_dir = settings.store.dir / "run"
    assert run_dir.is_dir() and not any(run_dir.iterdir())


def test_load_hook_resolves_dotted_paths():
    from geosvc.ogc.config import build_config

    assert load_hook("geosvc.ogc.config:build_config") is build_config
    with pytest.raises(ModuleNotFoundError):
        load_hook("geosvc.ogc.not_a_module:thing")


def test_servers_started_together_on_one_store_link_to_themselves(settings, store):
    """Each server reads its own generated config even when another one starts on the same store."""
    with ThreadPoolExecutor(2) as pool, ExitStack() as stack:
        servers = list(pool.map(stack.enter_context, [running_server(settings), running_server(settings)]))
        pages = list(pool.map(lambda base: httpx.get(f"{base}/ogc/collections/ct-towns?f=json").json(), servers))
    for base, page in zip(servers, pages, strict=True):
        own = [link["href"] for link in page["links"] if link["href"].startswith("http://127.0.0.1")]
        assert own and all(href.startswith(base + "/") or href.startswith(base + "?") for href in own), own


def test_a_second_app_does_not_change_the_first(app, client, settings, store, tmp_path):
    from fastapi.testclient import TestClient

    from support.postgis import store_settings

    from geosvc.store.backends import open_store

    other_settings = store_settings(store_dir=tmp_path)
    other = create_app(other_settings, store=open_store(other_settings))  # an empty store
    with TestClient(other) as other_client:
        assert other_client.get("/ogc/collections").json()["collections"] == [] or all(
            c["id"] == "records" for c in other_client.get("/ogc/collections").json()["collections"])
    assert client.get("/ogc/collections/ct-towns/items?f=html&limit=1").status_code == 200
    assert any(c["id"] == "ct-towns" for c in client.get("/ogc/collections").json()["collections"])
