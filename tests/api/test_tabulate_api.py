"""``POST /equity/tabulate`` and the ``equity-tabulate`` process through the whole app, anonymously.

Anyone may ask for the protected tabulation of a record-level layer; nobody without a grant may read
the records themselves (the layer does not exist for them anywhere else).
"""

from __future__ import annotations

import csv
import io
import time

import pytest
from fastapi.testclient import TestClient
from support.equity_catalog import RECORDS, publish_record_sample, small_counts

from geosvc.api.app import create_app

BODY = {"layer": RECORDS, "geography": "ct-towns", "dimensions": ["race_ethnicity", "sex"]}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings, store, _ = publish_record_sample(tmp_path_factory.mktemp("tabulate-api"))
    with TestClient(create_app(settings, store)) as test_client:
        yield test_client, settings


def _ready(http, path: str, body: dict):
    """POST until the one-off preparation is done: 503 with Retry-After meanwhile, then the answer."""
    deadline = time.monotonic() + 600
    while True:
        answer = http.post(path, json=body)
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer
        assert int(answer.headers["Retry-After"]) > 0 and "being prepared" in answer.text, answer.text
        time.sleep(1)


def test_the_first_answer_is_prepared_once_in_the_background(client):
    """Protection is computed once per version: until it is ready a 503 with Retry-After, then 200."""
    http, _ = client
    answer = _ready(http, "/equity/tabulate", BODY)
    assert answer.status_code == 200, answer.text


def test_anyone_gets_the_protected_table_in_every_format(client):
    http, settings = client
    answer = _ready(http, "/equity/tabulate", BODY)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["operation"] == "tabulate" and body["protections"]["k"] == settings.equity.suppression_k
    assert not small_counts((row["count"] for row in body["results"]), settings.equity.suppression_k)
    assert {x["id"] for x in body["provenance"]["layers"]} == {RECORDS, "ct-towns", "ct-tracts-2010"}
    as_csv = http.post("/equity/tabulate?f=csv", json=BODY)
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == len(body["results"])
    assert [r["count"] for r in rows] == ["" if x["count"] is None else str(int(x["count"])) for x in body["results"]]
    as_geojson = http.post("/equity/tabulate?f=geojson", json=BODY)
    assert as_geojson.status_code == 200 and len(as_geojson.json()["features"]) == 169


def test_the_process_answers_the_same(client):
    http, _ = client
    description = http.get("/ogc/processes/equity-tabulate?f=json")
    assert description.status_code == 200 and "geography" in description.json()["inputs"]
    route = _ready(http, "/equity/tabulate", BODY).json()
    process = _ready(http, "/ogc/processes/equity-tabulate/execution", {"inputs": BODY})
    assert process.status_code == 200
    assert process.json()["provenance"]["result_hash"] == route["provenance"]["result_hash"]


def test_the_records_themselves_do_not_exist_for_anonymous_callers(client):
    http, _ = client
    for path in (f"/ogc/collections/{RECORDS}", f"/ogc/collections/{RECORDS}/items",
                 f"/ogc/collections/{RECORDS}/queryables"):
        assert http.get(path).status_code == 404
    assert RECORDS not in http.get("/ogc/collections?f=json").text


def test_bad_bodies_are_400_naming_the_field(client):
    http, _ = client
    for body, field in [({**BODY, "geography": "ct-hospitals"}, "geography"),
                        ({**BODY, "dimensions": ["zip"]}, "dimensions"),
                        ({**BODY, "where": "sex = 'male'"}, "where")]:
        answer = http.post("/equity/tabulate", json=body)
        assert answer.status_code == 400 and field in answer.text, answer.text
