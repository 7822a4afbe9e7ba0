"""The record_level block of a layer record: each model rule refuses with a message naming the field."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from geosvc.records.models import LayerRecord, RecordLevel

BASE = {
    "id": "ct-cases",
    "title": "Synthetic cases",
    "theme": "health",
    "source": {"path": "cases.csv"},
    "id_field": "case_id",
    "update_cadence": "static",
    "sensitivity": "restricted",
    "access": {"roles": ["epi"]},
    "record_level": {
        "dimensions": [
            {"name": "race_ethnicity", "field": "race", "scheme": "OMB 1997",
             "categories": ["hispanic", "white_nh", "black_nh", "asian_nh", "other_nh"],
             "labels": {"hispanic": "Hispanic or Latino"}},
            {"name": "age_band", "field": "age", "categories": ["0_17", "18_64", "65_plus"]},
        ],
        "geographies": ["ct-towns", "ct-tracts-2010"],
        "location": {"field": "tract", "layer": "ct-tracts-2010", "key": "GEOID10"},
        "denominators": {"layer": "ct-tracts-2010", "categories": {"race_ethnicity": {"hispanic": "hispanic"}}},
        "privacy": {"epsilon": 0.5, "budget": 2.0},
        "suppression_k": 20,
    },
}


def build(**changes):
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = data
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return LayerRecord.model_validate(data)


def refused(**changes) -> str:
    with pytest.raises(ValidationError) as caught:
        build(**changes)
    return str(caught.value)


def test_a_full_block_parses_with_defaults():
    record = build()
    block = record.record_level
    assert [d.name for d in block.dimensions] == ["race_ethnicity", "age_band"]
    assert block.location.key == "GEOID10" and block.privacy.budget == 2.0 and block.suppression_k == 20
    minimal = RecordLevel.model_validate({"dimensions": [{"name": "sex", "field": "sex", "categories": ["female"]}],
                                          "geographies": ["ct-towns"]})
    assert minimal.privacy.epsilon == 1.0 and minimal.privacy.budget == 1.0 and minimal.location is None


def test_needs_restricted_and_vector():
    assert "needs sensitivity 'restricted'" in refused(sensitivity="public", access=None)
    assert "needs kind 'vector'" in refused(kind="raster")


def test_point_geometry_required_without_location():
    assert "geometry_type Point or MultiPoint" in refused(record_level__location=None)
    assert "geometry_type Point or MultiPoint" in refused(record_level__location=None, geometry_type="Polygon")
    assert build(record_level__location=None, geometry_type="MultiPoint").record_level.location is None
    assert "are point layers (geometry_type Point), not Polygon" in refused(geometry_type="Polygon")
    assert "exclude each other" in refused(source={"path": "cases.csv", "csv": {"x": "lon", "y": "lat"}})


@pytest.mark.parametrize("name", ["total", "rest", "place_id", "count"])
def test_reserved_dimension_names(name):
    dims = [{"name": name, "field": "x", "categories": ["a"]}]
    message = refused(record_level__dimensions=dims, record_level__denominators=None)
    assert "dimensions.0.name" in message and "reserved" in message


def test_dimension_rules():
    one = {"name": "sex", "field": "sex", "categories": ["female", "male"]}
    assert "only once" in refused(record_level__dimensions=[one, one], record_level__denominators=None)
    assert "at most 4" in refused(record_level__dimensions=[{**one, "name": f"d{i}"} for i in range(5)],
                                  record_level__denominators=None)
    assert "at least 1" in refused(record_level__dimensions=[])
    assert "unique" in refused(record_level__dimensions=[{**one, "categories": ["male", "male"]}],
                               record_level__denominators=None)
    assert "'total' is reserved" in refused(record_level__dimensions=[{**one, "categories": ["total"]}],
                                            record_level__denominators=None)
    assert "must match" in refused(record_level__dimensions=[{**one, "categories": ["Female"]}],
                                   record_level__denominators=None)
    assert "at least 1" in refused(record_level__dimensions=[{**one, "categories": []}],
                                   record_level__denominators=None)
    assert "pattern" in refused(record_level__dimensions=[{**one, "name": "Sex"}], record_level__denominators=None)
    assert "undeclared categories: other" in refused(
        record_level__dimensions=[{**one, "labels": {"other": "Other"}}], record_level__denominators=None)


def test_geographies_rules():
    assert "must be unique" in refused(record_level__geographies=["ct-towns", "ct-towns"])
    assert "at least 1" in refused(record_level__geographies=[])
    assert "not layer ids: CT.towns" in refused(record_level__geographies=["CT.towns"])


def test_denominator_mapping_must_use_declared_names_and_categories():
    assert "'sex' is not a declared dimension" in refused(
        record_level__denominators={"layer": "ct-tracts-2010", "categories": {"sex": {"female": "female"}}})
    assert "denominators.categories.race_ethnicity: undeclared categories latino" in refused(
        record_level__denominators={"layer": "ct-tracts-2010", "categories": {"race_ethnicity": {"latino": "hispanic"}}})


def test_privacy_budget_rules():
    assert "greater than 0" in refused(record_level__privacy={"epsilon": 0})
    assert "privacy.budget (0.5) must be at least privacy.epsilon (1)" in refused(
        record_level__privacy={"epsilon": 1.0, "budget": 0.5})
    assert "greater than or equal to 1" in refused(record_level__suppression_k=0)
    assert "finite" in refused(record_level__privacy={"epsilon": float("inf"), "budget": float("inf")})


def test_schema_exports_the_block():
    defs = LayerRecord.model_json_schema()["$defs"]
    assert {"RecordLevel", "RecordDimension", "GeoidLocation", "Denominators", "PrivacyBudget"} <= set(defs)
    assert defs["RecordLevel"]["properties"]["dimensions"]["maxItems"] == 4
