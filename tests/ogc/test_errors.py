"""Regression tests: every request the field notes list as a pygeoapi 500, and malformed parameters,
answer a 4xx with an OGC exception body; nothing ever returns a traceback."""

from __future__ import annotations

import pytest

T = "/ogc/collections/ct-tracts-2010/items"
H = "/ogc/collections/ct-hospitals/items"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"

BAD_REQUESTS = [
    (T + "?ooga=booga", "ooga"),
    (T + "?ALAND10=AAA", "ALAND10"),
    (T + "?id=null", "id"),
    (T + "?datetime=2020-01-01", "datetime"),
    (H + "?datetime=garbage", "datetime"),
    (H + "?datetime=2020-02-01/2020-01-01", "datetime"),
    (H + "?datetime=../..", "datetime"),
    (T + "?filter=S_INTERSECTS(geom,BBOX(1,2,3))", "filter"),
    (T + "?filter=(((", "filter"),
    (T + "?filter=NOPE = 1", "NOPE"),
    (T + "?filter=ALAND10 > 'abc'", "filter"),
    (T + "?filter=foo(ALAND10) = 1", "foo"),
    (T + "?filter-lang=cql2-json&filter={bad", "cql2-json"),
    (T + "?filter-lang=ecql&filter=ALAND10>1", "filter-lang"),
    (T + "?filter-lang=cql2-text", "filter"),
    (T + "?bbox=1,2,3", "bbox"),
    (T + "?bbox=-72,42,-73,41", "bbox"),
    (T + "?bbox=a,b,c,d", "bbox"),
    (T + "?bbox=-200,0,0,10", "bbox"),
    (T + "?bbox=1e308,1e308,1e309,1e309", "bbox"),
    (T + "?bbox-crs=" + EPSG + "3857", "bbox-crs"),
    (T + "?bbox=1,2,3,4&bbox-crs=EPSG:3857", "bbox-crs"),
    (T + "?crs=" + EPSG + "9999", "crs"),
    (T + "?limit=0", "limit"),
    (T + "?limit=abc", "limit"),
    (T + "?offset=-5", "offset"),
    (T + "?limit=1&limit=2", "limit"),
    (T + "?sortby=nope", "sortby"),
    (T + "?properties=nope", "properties"),
    (T + "?skipGeometry=maybe", "skipGeometry"),
    (T + "?resulttype=all", "resulttype"),
    (T + "?f=xml", "format"),
    (T + "/09001010101?foo=1", "foo"),
    (T + "/09001010101?crs=EPSG:1", "crs"),
    ("/ogc/collections/ct-population-density/coverage?bbox=0,0,0,0", "bbox"),
    ("/ogc/collections/ct-population-density/coverage?bbox=1,2,3", "bbox"),
    ("/ogc/collections/ct-population-density/coverage?bbox=-72,42,-73,41", "bbox"),
]


@pytest.mark.parametrize(("url", "mentions"), BAD_REQUESTS)
def test_bad_request_is_a_400_with_an_ogc_body(client, url, mentions):
    response = client.get(url)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] and body["description"]
    assert mentions.lower() in body["description"].lower()
    assert "Traceback" not in response.text


@pytest.mark.parametrize("url", [T + "/nope", "/ogc/collections/nope/items", "/ogc/collections/nope",
                                 "/ogc/collections/ct-towns-restricted/items", "/registry/nope"])
def test_unknown_things_are_404(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_malformed_cql2_json_on_post_is_400(client):
    response = client.post(T, content=b"{bad", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "cql2-json" in response.json()["description"]


def test_cql2_json_on_post_filters(client):
    body = b'{"op":"=","args":[{"property":"GEOID10"},"09001010101"]}'
    response = client.post(T, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert [f["id"] for f in response.json()["features"]] == ["09001010101"]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_writes_are_refused(client, method):
    response = client.request(method.upper(), T + "/09001010101", content=b"{}")
    assert response.status_code == 405


def test_unexpected_errors_are_500_without_traceback(app):
    from fastapi.testclient import TestClient

    @app.get("/_boom", include_in_schema=False)
    def boom():
        raise RuntimeError("secret internal detail")

    try:
        with TestClient(app, raise_server_exceptions=False) as fresh:
            response = fresh.get("/_boom")
    finally:
        app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", "") != "/_boom"]
    assert response.status_code == 500
    assert response.json()["code"] == "NoApplicableCode"
    assert "secret" not in response.text and "Traceback" not in response.text


@pytest.mark.parametrize("url", ["/ogc?ooga=booga", "/ogc/?x=1", "/ogc/conformance?x=1", "/ogc/collections?bbox=1",
                                 "/ogc/collections/ct-towns?limit=5", "/ogc/collections/ct-towns/queryables?x=1"])
def test_unknown_parameters_on_metadata_paths_are_400(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameterValue"


@pytest.mark.parametrize("url", ["/ogc?f=json", "/ogc/conformance?f=json&lang=en-US", "/ogc/collections?f=json",
                                 "/ogc/collections/ct-towns?f=json", "/ogc/collections/ct-towns/queryables?f=json"])
def test_known_parameters_on_metadata_paths_are_fine(client, url):
    assert client.get(url).status_code == 200
