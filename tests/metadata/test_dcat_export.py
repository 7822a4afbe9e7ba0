"""/data.json: a DCAT-US 1.1 catalog valid against the non-federal JSON Schema (vendored from ckanext-datajson)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from support.sample_store import RESTRICTED_ID

from geosvc.metadata.dcat import dataset

SCHEMAS = Path(__file__).parent / "schemas" / "dcat-us-1.1"


@pytest.fixture(scope="module")
def validator() -> Draft4Validator:
    schemas = [json.loads(path.read_text()) for path in sorted(SCHEMAS.glob("*.json"))]
    registry = Registry().with_resources(
        (schema["id"].rstrip("#"), Resource.from_contents(schema, default_specification=DRAFT4)) for schema in schemas
    )
    catalog = next(s for s in schemas if s["id"].endswith("/catalog.json#"))
    return Draft4Validator(catalog, registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def data_json(client) -> dict:
    response = client.get("/data.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def test_data_json_is_valid_dcat_us(data_json, validator):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data_json)]
    assert errors == []


def test_one_dataset_per_served_layer_with_record_metadata(data_json, store, settings):
    served = [layer for layer in store.published() if layer.record.sensitivity == "public"]
    by_id = {d["identifier"].rsplit("/", 1)[-1]: d for d in data_json["dataset"]}
    assert sorted(by_id) == sorted(layer.id for layer in served)
    tracts = store.get("ct-tracts-2010")
    entry = by_id["ct-tracts-2010"]
    assert entry["title"] == tracts.record.title
    assert entry["contactPoint"]["hasEmail"] == f"mailto:{tracts.record.contact.email}"
    assert entry["publisher"]["name"] == tracts.record.publisher.agency
    assert entry["accessLevel"] == "public"
    assert entry["temporal"] == "2012-01-01/2016-12-31"
    assert [float(v) for v in entry["spatial"].split(",")] == pytest.approx(list(tracts.bbox), abs=1e-6)
    urls = {d.get("downloadURL") or d.get("accessURL") for d in entry["distribution"]}
    base = settings.base_url
    assert f"{base}/ogc/collections/ct-tracts-2010/items?f=json" in urls
    assert f"{base}/registry/ct-tracts-2010/iso19139.xml" in urls
    raster = by_id["ct-population-density"]
    assert any(d.get("downloadURL", "").endswith("/collections/ct-population-density/cog.tif")
               for d in raster["distribution"])


def test_restricted_layer_is_not_listed(data_json):
    assert not any(RESTRICTED_ID in d["identifier"] for d in data_json["dataset"])


def test_restricted_record_maps_to_restricted_public(store, settings, validator):
    entry = dataset(store.get(RESTRICTED_ID), settings.base_url)
    assert entry["accessLevel"] == "restricted public"
    document = {"conformsTo": "https://project-open-data.cio.gov/v1.1/schema", "dataset": [entry]}
    assert list(validator.iter_errors(document)) == []


@pytest.mark.parametrize("breakage, complaint", [
    (lambda d: d.pop("contactPoint"), "'contactPoint' is a required property"),
    (lambda d: d.update(accessLevel="open"), "'open' is not one of"),
    (lambda d: d["contactPoint"].update(hasEmail="info@example.org"), "does not match"),
    (lambda d: d.update(keyword=[]), "should be non-empty"),
])
def test_the_schema_catches_a_broken_dataset(data_json, validator, breakage, complaint):
    broken = copy.deepcopy(data_json)
    breakage(broken["dataset"][0])
    messages = [e.message for e in validator.iter_errors(broken)] + [
        sub.message for e in validator.iter_errors(broken) for sub in (e.context or [])]
    assert any(complaint in m for m in messages), messages
