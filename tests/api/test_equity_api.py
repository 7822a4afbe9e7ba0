"""``/equity`` over HTTP: every endpoint and format on the real sample layers, every 4xx, real GIS readers.

The app here is the equity router with the service's own error mapping (``geosvc.api.errors``),
without pygeoapi, so it can share a process with the OGC tests; the full ``create_app`` is
exercised in ``tests/ogc/test_processes.py`` against a real server process.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from support.equity_catalog import DROUGHT, HARTFORD_BOX, comb_zone, publish_equity_sample, small_counts

from geosvc.api.errors import install_error_handlers
from geosvc.api.routes.equity import install_equity

K = 11
EXPOSURE = {"hazard": DROUGHT, "population": "ct-tracts-2010", "places": "ct-towns", "reference": "nh_white"}
ACCESS = {"facilities": "ct-hospitals", "population": "ct-tracts-2010", "places": "ct-towns", "reference": "rest",
          "within_km": 5}
DISPARITY = {"groups": [{"id": "a", "population": 20_000, "events": 4}, {"id": "b", "population": 30_000,
                                                                           "events": 300},
                        {"id": "c", "population": 50_000, "events": 120}], "reference": "rest"}
QGIS_PROBE = """
import sys
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False); app.initQgis()
layer = QgsVectorLayer(sys.argv[1], "equity", "ogr")
print(layer.isValid(), layer.featureCount(), layer.crs().authid(), len(layer.fields()))
app.exitQgis()
"""


def _equity_app(settings, store) -> FastAPI:
    from geosvc.api.app import create_app

    return create_app(settings, store)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings, store = publish_equity_sample(tmp_path_factory.mktemp("equity-api-store"))
    with TestClient(_equity_app(settings, store)) as test_client:
        yield test_client


def _svi_body(data_root: Path) -> dict:
    with open(data_root / "reference" / "svi2022_pa_county_cdc.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    keep = ["FIPS", "E_TOTPOP", *[c for c in rows[0] if c.startswith("EP_")]]
    return {"units": [{c: (r[c] if c == "FIPS" else float(r[c])) for c in keep} for r in rows], "id_field": "FIPS"}


@pytest.fixture(scope="module")
def bodies(client):
    from geosvc.settings import load_settings

    return {
        "exposure": EXPOSURE,
        "access": ACCESS,
        "disparity": DISPARITY,
        "svi": _svi_body(load_settings().data.root),
    }


def _counts_in(body: bytes, fmt: str) -> list:
    """Every published count (population / exposed / events / E_TOTPOP cells) of a response body."""
    names = ("population", "exposed", "within", "events", "E_TOTPOP")
    if fmt == "csv":
        table = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
        return [row[c] for row in table for c in row if c in names]
    doc = json.loads(body)
    if fmt == "geojson":
        return [v for f in doc["features"] for key, v in f["properties"].items()
                if key.endswith(("_population", "_exposed", "_within")) and not key.endswith("_share_within")]
    return [row.get(c) for row in doc["results"] for c in names if c in row]


@pytest.mark.parametrize("operation", ["exposure", "access", "disparity", "svi"])
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_every_operation_answers_in_every_format_without_small_counts(client, bodies, operation, fmt):
    response = client.post(f"/equity/{operation}?f={fmt}", json=bodies[operation])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith({"json": "application/json", "csv": "text/csv"}[fmt])
    assert response.headers["geosvc-result-hash"].startswith("sha256:")
    counts = _counts_in(response.content, fmt)
    assert counts, "the answer holds counts"
    assert small_counts(counts, K) == []


def test_json_answer_carries_method_protections_and_provenance(client):
    doc = client.post("/equity/exposure", json=EXPOSURE).json()
    assert doc["method"]["name"] == "area-weighted exposure"
    assert "allocate_total=False" in doc["method"]["description"]
    assert set(doc["protections"]["applied"]) >= {"primary_suppression", "complementary_suppression"}
    assert {x["id"] for x in doc["provenance"]["layers"]} == {"ct-tracts-2010", "us-drought-20161004", "ct-towns"}
    assert all(len(x["checksum"]) == 64 for x in doc["provenance"]["layers"])
    assert doc["provenance"]["software"]["geosvc"]
    withheld = [r for r in doc["results"] if r["exposed"] is None and r["exposed_suppressed"]]
    assert withheld and all(r["share"] is None and r["share_suppressed"] for r in withheld)
    assert len(doc["places"]) == 170  # 169 towns + the overall row


def test_disparity_answer_withholds_small_events_and_indices(client):
    doc = client.post("/equity/disparity", json=DISPARITY).json()
    rows = {r["group"]: r for r in doc["results"]}
    assert rows["a"]["events"] is None and rows["a"]["events_suppressed"] == "primary_small_count"
    assert sum(r["events"] is None for r in doc["results"]) >= 2
    assert doc["summary"]["gini"] is None


@pytest.mark.parametrize(("accept", "media"), [
    ("application/geo+json", "application/geo+json"),
    ("text/csv", "text/csv"),
    ("application/json", "application/json"),
    ("*/*", "application/json"),
])
def test_accept_negotiation(client, accept, media):
    response = client.post("/equity/exposure", json=EXPOSURE, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)


def test_access_geojson_has_no_small_counts(client):
    response = client.post("/equity/access?f=geojson", json=ACCESS)
    assert response.status_code == 200
    doc = response.json()
    assert len(doc["features"]) == 169 and "hispanic_access_ratio" in doc["features"][0]["properties"]
    counts = _counts_in(response.content, "geojson")
    assert counts and small_counts(counts, K) == []


def test_geojson_is_flat_crs84_one_feature_per_place(client):
    response = client.post("/equity/exposure?f=geojson", json=EXPOSURE)
    doc = response.json()
    assert len(doc["features"]) == 169
    props = doc["features"][0]["properties"]
    assert not any(isinstance(v, (dict, list)) for v in props.values())
    assert {"place_id", "place_name", "hispanic_exposed", "hispanic_rr", "weighted_index_of_disparity"} <= set(props)
    assert small_counts(_counts_in(response.content, "geojson"), K) == []
    minx, miny = doc["features"][0]["geometry"]["coordinates"][0][0][0][:2]
    assert -74 < minx < -71 and 40.9 < miny < 42.1  # lon/lat order


@pytest.fixture(scope="module")
def geojson_file(client, tmp_path_factory):
    path = tmp_path_factory.mktemp("equity-geojson") / "exposure.geojson"
    path.write_bytes(client.post("/equity/exposure?f=geojson", json=EXPOSURE).content)
    return path


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo (Debian gdal-bin) is not installed")
def test_gdal_reads_the_geojson(geojson_file):
    out = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(geojson_file)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "Feature Count: 169" in out
    assert "hispanic_exposed: Real" in out and "place_name: String" in out
    assert "WGS 84" in out or "CRS84" in out


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no system python3")
def test_qgis_loads_the_geojson(geojson_file):
    check = subprocess.run(["/usr/bin/python3", "-c", "import qgis.core"], capture_output=True)
    if check.returncode != 0:
        pytest.skip("PyQGIS (Debian python3-qgis) is not installed")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(geojson_file.parent)}
    out = subprocess.run(["/usr/bin/python3", "-c", QGIS_PROBE, str(geojson_file)], capture_output=True,
                         text=True, timeout=180, env=env)
    valid, count, authid, fields = out.stdout.split()[-4:]
    assert (valid, count, authid) == ("True", "169", "EPSG:4326"), out.stderr[-2000:]
    assert int(fields) > 50


def test_inline_zone_over_http_is_rounded(client):
    body = {"hazard": {"geometry": {"type": "Feature", "properties": {}, "geometry": HARTFORD_BOX}},
            "population": "ct-tracts-2010", "places": "ct-towns"}
    for fmt in ("json", "geojson", "csv"):
        response = client.post(f"/equity/exposure?f={fmt}", json=body)
        assert response.status_code == 200
        counts = [c for c in _counts_in(response.content, fmt) if c not in (None, "")]
        assert counts and all(float(c) % 5 == 0 for c in counts)
        assert small_counts(counts, K) == []


def test_geojson_of_an_answer_without_places_is_a_clear_400(client):
    response = client.post("/equity/disparity?f=geojson", json=DISPARITY)
    assert response.status_code == 400
    assert "geometries" in response.json()["description"]


@pytest.mark.parametrize(("path", "body", "status", "words"), [
    ("exposure", {**EXPOSURE, "population": "no-such-layer"}, 404, "no-such-layer"),
    ("exposure", {**EXPOSURE, "places": "no-such-layer"}, 404, "no-such-layer"),
    ("exposure", {**EXPOSURE, "population": "ct-towns"}, 400, "equity dimensions"),
    ("exposure", {**EXPOSURE, "population": "ct-tracts-restricted"}, 404, "ct-tracts-restricted"),
    ("exposure", {**EXPOSURE, "groups": ["martians"]}, 400, "martians"),
    ("exposure", {**EXPOSURE, "k": 3}, 400, "'k'"),
    ("exposure", {**EXPOSURE, "hazard": {"collection": "ct-hospitals"}}, 400, "not a polygon"),
    ("exposure", {**EXPOSURE, "hazard": {"geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}},
     400, "polygonal"),
    ("exposure", {**EXPOSURE, "hazard": {"geometry": {"type": "Polygon", "coordinates": []}}}, 400, "empty"),
    ("exposure", {**EXPOSURE, "hazard": {"geometry": {"type": "Polygon", "coordinates": "x"}}}, 400,
     "hazard.geometry"),
    ("exposure", {**EXPOSURE, "hazard": {"collection": "us-drought-20161004", "filter": "DM >"}}, 400, "filter"),
    ("exposure", {**EXPOSURE, "hazard": {"collection": "x", "geometry": HARTFORD_BOX}}, 400, "exactly one"),
    ("exposure", {**EXPOSURE, "unknown_member": 1}, 400, "unknown_member"),
    ("exposure", {"population": "ct-tracts-2010"}, 400, "hazard"),
    ("access", {"facilities": "ct-hospitals", "population": "ct-tracts-2010", "within_km": -5}, 400, "within_km"),
    ("access", {"facilities": "ct-hospitals", "population": "ct-tracts-2010", "catchment_km": 0}, 400,
     "catchment_km"),
    ("access", {"facilities": "ct-towns", "population": "ct-tracts-2010"}, 400, "not a point"),
    ("access", {"facilities": "no-such-layer", "population": "ct-tracts-2010"}, 404, "no-such-layer"),
    ("access", {"facilities": "ct-hospitals", "population": "ct-tracts-2010", "capacity_field": "NOPE"}, 400,
     "NOPE"),
    ("access", {"facilities": "ct-hospitals", "population": "ct-tracts-2010", "capacity_field": "BEDS"}, 400,
     "non-negative"),
    ("disparity", {"groups": [{"id": "a", "population": 10, "events": 1}]}, 400, "groups"),
    ("disparity", {**DISPARITY, "k": 2}, 400, "'k'"),
    ("svi", {"units": [{"FIPS": "1"}, {"FIPS": "2"}]}, 400, "missing SVI variables"),
])
def test_bad_requests_get_a_clear_4xx(client, path, body, status, words):
    response = client.post(f"/equity/{path}", json=body)
    assert response.status_code == status, response.text
    doc = response.json()
    assert doc["code"] in ("InvalidParameterValue", "NotFound")
    assert words in doc["description"]


def test_unknown_format_and_malformed_json_are_400(client):
    assert client.post("/equity/exposure?f=xml", json=EXPOSURE).status_code == 400
    response = client.post("/equity/exposure", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_operations_are_in_the_openapi_document_with_examples(client):
    doc = client.get("/openapi.json").json()
    for operation in ("exposure", "access", "disparity", "svi"):
        post = doc["paths"][f"/equity/{operation}"]["post"]
        assert post["operationId"] == f"equity{operation.capitalize()}"
        assert any(p["name"] == "f" and p.get("description") for p in post["parameters"])
    schema = doc["paths"]["/equity/exposure"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["examples"] and schema["properties"]["population"]["description"]
    assert schema["properties"]["hazard"]["properties"]["filter_lang"] and "$ref" not in str(schema)


def _post(client, interface: str, operation: str, body: bytes) -> "object":
    """POST a raw JSON body to ``/equity/<operation>`` or, wrapped as OGC inputs, to its process."""
    if interface == "equity":
        return client.post(f"/equity/{operation}", content=body, headers={"Content-Type": "application/json"})
    wrapped = b'{"inputs": ' + body + b"}"
    return client.post(f"/ogc/processes/equity-{operation}/execution", content=wrapped,
                       headers={"Content-Type": "application/json"})


def _nested_collection(depth: int) -> dict:
    geometry: dict = HARTFORD_BOX
    for _ in range(depth):
        geometry = {"type": "GeometryCollection", "geometries": [geometry]}
    return geometry


def _nested_cql2(depth: int) -> dict:
    expression: dict = {"op": ">=", "args": [{"property": "DM"}, 2]}
    for _ in range(depth):
        expression = {"op": "not", "args": [expression]}
    return expression


_GROUPS = '[{"id": "a", "population": 5000, "events": 70}, {"id": "b", "population": 9000, "events": 90}]'
_SVI_ROW = ", ".join(f'"EP_{v}": 10' for v in ("POV150", "UNEMP", "HBURD", "NOHSDP", "UNINSUR", "AGE65", "AGE17",
                                                  "DISABL", "SNGPNT", "LIMENG", "MINRTY", "MUNIT", "MOBILE",
                                                  "CROWD", "NOVEH", "GROUPQ"))
HOSTILE = [  # (operation, raw JSON body, words of the 400) — each gave a 500 before
    ("exposure", json.dumps({**EXPOSURE, "k": 10**30}).encode(), "'k'"),
    ("disparity", b'{"groups": ' + _GROUPS.encode() + b', "k": 184467440737095516160}', "'k'"),
    ("exposure", json.dumps({**EXPOSURE, "hazard": {"collection": "us-drought-20161004", "filter_lang": "cql2-json",
                                                    "filter": _nested_cql2(300)}}).encode(), "nested too deeply"),
    ("exposure", json.dumps({**EXPOSURE, "hazard": {"collection": "us-drought-20161004",
                                                    "filter": " OR ".join(["DM = 1"] * 20_000)}}).encode(),
     "too long"),
    ("exposure", json.dumps({**EXPOSURE, "hazard": {"geometry": _nested_collection(500)}}).encode(),
     "nested too deeply"),
    ("exposure", json.dumps({**EXPOSURE, "hazard": {"geometry": comb_zone(15_000)}}).encode(), "too many vertices"),
    ("disparity", b'{"groups": [{"id": "a\\ud800", "population": 5000, "events": 70}, '
                  b'{"id": "b", "population": 9000, "events": 90}]}', "surrogate"),
    ("exposure", json.dumps(EXPOSURE).replace('"ct-towns"', '"ct-\\udfff"').encode(), "surrogate"),
    ("disparity", b'{"groups": [{"id": "a", "population": Infinity, "events": 70}, '
                  b'{"id": "b", "population": 9000, "events": 90}]}', "JSON"),
    ("disparity", b'{"groups": [{"id": "a", "population": 1e308, "events": 70}, '
                  b'{"id": "b", "population": 1e308, "events": 90}]}', "population"),
    ("disparity", b'{"groups": [{"id": "a", "population": 5000, "events": 1e308}, '
                  b'{"id": "b", "population": 9000, "events": 1e308}]}', "events"),
    ("disparity", b'{"groups": [{"id": "a", "population": 5000, "rate": 1e999}, '
                  b'{"id": "b", "population": 9000, "rate": 3}]}', "JSON"),
    ("disparity", b'{"groups": [{"id": "a", "population": -5000, "events": 7}, '
                  b'{"id": "b", "population": 9000, "events": 90}]}', "population"),
    ("svi", b'{"units": [{"FIPS": "1", "E_TOTPOP": 100, ' + _SVI_ROW.encode() + b'}, {"FIPS": "2", "E_TOTPOP": -5, '
            + _SVI_ROW.encode() + b'}]}', "negative"),
    ("svi", b'{"units": [{"FIPS": "1", "E_TOTPOP": 1e999, ' + _SVI_ROW.encode() + b'}, {"FIPS": "2", '
            b'"E_TOTPOP": 5, ' + _SVI_ROW.encode() + b'}]}', "JSON"),
    ("svi", b'{"units": [{"FIPS": "1", "E_TOTPOP": NaN, ' + _SVI_ROW.encode() + b'}, {"FIPS": "2", '
            b'"E_TOTPOP": 5, ' + _SVI_ROW.encode() + b'}]}', "JSON"),
]


@pytest.mark.parametrize("interface", ["equity", "process"])
@pytest.mark.parametrize(("operation", "body", "words"), HOSTILE, ids=lambda v: v if isinstance(v, str) else "")
def test_hostile_inputs_get_a_400_on_both_interfaces(client, interface, operation, body, words):
    response = _post(client, interface, operation, body)
    assert response.status_code == 400, response.text[:300]
    doc = response.json()
    assert doc["code"] == "InvalidParameterValue" and words in doc["description"], doc


@pytest.mark.parametrize("interface", ["equity", "process"])
def test_a_comb_of_3000_vertices_is_answered_promptly(client, interface):
    """Regression: a valid 3,000-vertex comb took 22 s (each tract overlaid with the whole zone)."""
    body = json.dumps({"hazard": {"geometry": comb_zone(750)}, "population": "ct-tracts-2010",
                       "places": "ct-towns"}).encode()
    started = time.monotonic()
    response = _post(client, interface, "exposure", body)
    assert response.status_code == 200, response.text[:300]
    assert time.monotonic() - started < 20  # within the default time budget (it took 22-43 s, ~2 s now)
    rows = response.json()["results"]
    assert max(r["exposed"] or 0 for r in rows if r["place_id"] == "_all" and r["group"] == "total") > 100_000


@pytest.fixture(scope="module")
def tight_client(client):
    """The same store behind an app whose equity time budget (0.01 s) no exposure can meet."""
    from geosvc.settings import load_settings

    store = client.app.state.store
    settings = load_settings(store_dir=store.root, equity_time_budget_s=0.01)
    with TestClient(_equity_app(settings, store)) as test_client:
        yield test_client


@pytest.mark.parametrize("interface", ["equity", "process"])
def test_a_request_over_its_time_budget_gets_a_503(tight_client, interface):
    body = json.dumps({"hazard": {"geometry": comb_zone(200)}, "population": "ct-tracts-2010",
                       "places": "ct-towns"}).encode()
    response = _post(tight_client, interface, "exposure", body)
    assert response.status_code == 503, response.text[:300]
    assert "time budget of 0.01 s" in response.json()["description"]


def test_a_slow_request_does_not_stall_a_fast_one(client):
    """No lock is held while computing: a disparity answers while a slow exposure is still running."""
    slow_body = json.dumps({"hazard": {"geometry": comb_zone(1000)}, "population": "ct-tracts-2010",
                            "places": "ct-towns"}).encode()
    finished = {}

    def slow():
        finished["slow_status"] = _post(client, "equity", "exposure", slow_body).status_code
        finished["slow"] = time.monotonic()

    worker = threading.Thread(target=slow)
    worker.start()
    time.sleep(0.5)  # the slow request is now computing
    response = client.post("/equity/disparity", json=DISPARITY)
    fast_done = time.monotonic()
    worker.join(timeout=120)
    assert response.status_code == 200 and finished["slow_status"] in (200, 503)  # 503: over budget on a busy box
    assert fast_done < finished["slow"] - 1.0, "the fast request waited for the slow one"
