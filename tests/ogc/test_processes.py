"""The equity operations as OGC API - Processes, through the full app in a real server process.

Also checks that ``create_app`` installs the ``/equity`` routes (its hook) and that both interfaces
give the same answer.
"""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from support.equity_catalog import DROUGHT, comb_zone, publish_equity_sample, small_counts
from support.published_catalog import running_server

from geosvc.ogc.processes import CONFORMANCE, PROCESSORS, process_resources

K = 11
EXPOSURE = {"hazard": DROUGHT, "population": "ct-tracts-2010", "places": "ct-towns", "reference": "nh_white"}
INPUTS = {
    "equity-exposure": EXPOSURE,
    "equity-access": {"facilities": "ct-hospitals", "population": "ct-tracts-2010", "groups": ["hispanic"]},
    "equity-disparity": {"groups": [{"id": "a", "population": 5000, "events": 7},
                                    {"id": "b", "population": 9000, "events": 90},
                                    {"id": "c", "population": 9000, "events": 60}]},
}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return publish_equity_sample(tmp_path_factory.mktemp("processes-store"))


@pytest.fixture(scope="module")
def base(published):
    with running_server(published[0]) as url:
        yield url


@pytest.fixture(scope="module")
def http(base):
    with httpx.Client(base_url=base, timeout=300) as client:
        yield client


def test_process_resources_load_by_dotted_path():
    from pygeoapi.plugin import load_plugin

    resources = process_resources()
    assert set(resources) == set(PROCESSORS)
    processor = load_plugin("process", resources["equity-exposure"]["processor"])
    assert processor.metadata["id"] == "equity-exposure"
    assert processor.metadata["inputs"]["hazard"]["schema"]["properties"]["filter_lang"]
    assert "$ref" not in str(processor.metadata)


def test_processes_are_listed_and_described(http):
    listed = http.get("/ogc/processes", params={"f": "json"}).json()
    assert {p["id"] for p in listed["processes"]} >= set(PROCESSORS)
    described = http.get("/ogc/processes/equity-exposure", params={"f": "json"}).json()
    assert described["jobControlOptions"] == ["sync-execute"]
    assert {"hazard", "population", "places", "reference", "k", "f"} <= set(described["inputs"])
    conformance = http.get("/ogc/conformance", params={"f": "json"}).json()["conformsTo"]
    assert set(CONFORMANCE) <= set(conformance)


def test_execute_equals_the_http_route(http):
    process = http.post("/ogc/processes/equity-exposure/execution", json={"inputs": EXPOSURE})
    assert process.status_code == 200, process.text
    route = http.post("/equity/exposure", json=EXPOSURE)
    assert route.status_code == 200
    doc = process.json()
    assert doc["provenance"]["result_hash"] == route.json()["provenance"]["result_hash"]
    counts = [r[c] for r in doc["results"] for c in ("population", "exposed")]
    assert small_counts(counts, K) == []


@pytest.mark.parametrize("process_id", sorted(INPUTS))
def test_every_process_executes_without_small_counts(http, process_id):
    response = http.post(f"/ogc/processes/{process_id}/execution", json={"inputs": INPUTS[process_id]})
    assert response.status_code == 200, response.text
    doc = response.json()
    counts = [row.get(c) for row in doc["results"] for c in ("population", "exposed", "within", "events")]
    assert counts and small_counts(counts, K) == []
    assert doc["protections"]["k"] == K


def test_execute_geojson_and_csv(http):
    geo = http.post("/ogc/processes/equity-exposure/execution", json={"inputs": {**EXPOSURE, "f": "geojson"}})
    assert geo.status_code == 200 and geo.headers["content-type"].startswith("application/geo+json")
    assert len(geo.json()["features"]) == 169
    table = http.post("/ogc/processes/equity-disparity/execution",
                      json={"inputs": {**INPUTS["equity-disparity"], "f": "csv"}})
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert small_counts([r["events"] for r in rows], K) == []
    assert rows[0]["events_suppressed"] == "primary_small_count"


@pytest.mark.parametrize(("process_id", "inputs", "status", "words"), [
    ("equity-exposure", {**EXPOSURE, "k": 2}, 400, "'k'"),
    ("equity-exposure", {**EXPOSURE, "groups": ["martians"]}, 400, "martians"),
    ("equity-exposure", {**EXPOSURE, "population": "no-such-layer"}, 404, "no-such-layer"),  # as /equity
    ("equity-exposure", {**EXPOSURE, "f": "xml"}, 400, "format"),
    ("equity-access", {"facilities": "ct-hospitals", "population": "ct-tracts-2010", "within_km": -1}, 400,
     "within_km"),
    ("equity-svi", {"units": [{"FIPS": "1"}, {"FIPS": "2"}]}, 400, "SVI variables"),
])
def test_bad_inputs_fail_with_a_4xx_naming_the_cause(http, process_id, inputs, status, words):
    response = http.post(f"/ogc/processes/{process_id}/execution", json={"inputs": inputs})
    assert response.status_code == status, response.text
    assert words in response.json()["description"]


def test_openapi_documents_the_processes_without_external_refs(http):
    response = http.get("/ogc/openapi", params={"f": "json"},
                        headers={"Accept": "application/vnd.oai.openapi+json;version=3.0"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {f"/processes/{p}/execution" for p in PROCESSORS} <= set(paths)
    assert '"$ref": "http' not in response.text and '"$ref":"http' not in response.text


def test_processes_run_past_the_pygeoapi_mount_and_refuse_hostile_inputs(http):
    """The execution route is geosvc's (before the pygeoapi mount): a lone surrogate is a 400, not a 500."""
    body = b'{"inputs": {"groups": [{"id": "a\\ud800", "population": 5000, "events": 70}, ' \
           b'{"id": "b", "population": 9000, "events": 90}]}}'
    response = http.post("/ogc/processes/equity-disparity/execution", content=body,
                         headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "surrogate" in response.json()["description"]
    comb = http.post("/ogc/processes/equity-exposure/execution",
                     json={"inputs": {"hazard": {"geometry": comb_zone(750)}, "population": "ct-tracts-2010"}})
    assert comb.status_code == 200, comb.text[:300]


def test_two_apps_in_one_process_answer_from_their_own_store(published, tmp_path):
    """Each app's routes and processes use its own EquityService: no process-wide service or cache."""
    from fastapi.testclient import TestClient
    from support.postgis import store_settings

    from geosvc.api.app import create_app
    from geosvc.records.loader import load_records
    from geosvc.store.backends import open_store
    from geosvc.store.publish import publish_layer
    from geosvc.validate.layer import validate_layer

    full_settings, full_store = published
    other = store_settings(store_dir=tmp_path / "hospitals-only")
    store = open_store(other)
    record = load_records(other.layers.dir, ["ct-hospitals"])["ct-hospitals"]
    publish_layer(record, validate_layer(record, other), store, other)

    first = create_app(full_settings, full_store)
    # the same settings on another store, built after the first: it must not take over the first's processes
    second = create_app(full_settings, store)
    disparity = {"inputs": INPUTS["equity-disparity"]}
    with TestClient(first) as a, TestClient(second) as b:
        for client, status in ((a, 200), (b, 404)):
            process = client.post("/ogc/processes/equity-exposure/execution", json={"inputs": EXPOSURE})
            route = client.post("/equity/exposure", json=EXPOSURE)
            assert (process.status_code, route.status_code) == (status, status), process.text[:200]
        assert a.app.state.equity is not b.app.state.equity
        assert a.app.state.equity.store is full_store and b.app.state.equity.store is store
        assert a.post("/ogc/processes/equity-disparity/execution", json=disparity).json()["provenance"] == \
            b.post("/ogc/processes/equity-disparity/execution", json=disparity).json()["provenance"]
