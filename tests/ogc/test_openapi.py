"""The served OpenAPI document is self-contained and declares limit; conformance is honest."""

from __future__ import annotations

import pytest

from geosvc.ogc.openapi import fix_openapi, refs

OPENAPI_ACCEPT = "application/vnd.oai.openapi+json;version=3.0"


@pytest.fixture(scope="module")
def document(client):
    response = client.get("/ogc/openapi", headers={"accept": OPENAPI_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    return response.json()


def test_served_with_accept_header_and_f_json(client, document):
    assert client.get("/ogc/openapi?f=json").json() == document


def test_no_reference_to_another_host(document):
    assert [ref for ref in refs(document) if not ref.startswith("#")] == []


def test_every_local_reference_resolves(document):
    def resolve(ref):
        node = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                assert resolve(node["$ref"]) is not None, node["$ref"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


def test_limit_component_declares_default_and_maximum(document):
    schema = document["components"]["parameters"]["limit"]["schema"]
    assert schema["maximum"] >= 1000 and 1 <= schema["default"] <= schema["maximum"]
    items = document["paths"]["/collections/ct-tracts-2010/items"]["get"]["parameters"]
    assert {"$ref": "#/components/parameters/limit"} in items
    assert not any(p.get("name") == "limit" for p in items)
    assert {"$ref": "#/components/parameters/filter"} in items
    assert {"$ref": "#/components/parameters/vendorSpecificParameters"} not in items


def test_fix_is_pure_and_idempotent(document):
    assert fix_openapi(document) == document


def test_conformance_is_honest(client):
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    for needed in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
                   "ogcapi-features-2/1.0/conf/crs", "ogcapi-features-3/1.0/conf/filter",
                   "ogcapi-features-3/1.0/conf/features-filter", "cql2/1.0/conf/cql2-text",
                   "cql2/1.0/conf/cql2-json", "cql2/1.0/conf/basic-cql2", "ogcapi-features-3/1.0/conf/queryables"):
        assert any(c.endswith(needed) for c in classes), needed
    assert not any("ogcapi-features-4" in c for c in classes)
    assert len(classes) == len(set(classes))


def test_landing_page_without_slash_is_not_redirected(client):
    response = client.get("/ogc", follow_redirects=False)
    assert response.status_code == 200
    rels = {link["rel"] for link in response.json()["links"]}
    assert {"service-desc", "conformance", "data"} <= rels
