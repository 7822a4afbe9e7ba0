"""Record-level validation: declared categories only, ids matching a published layer, published geographies."""

from __future__ import annotations

import pytest
from support.synthetic_records import write_record_layer

from geosvc.records.models import LayerRecord
from geosvc.validate.layer import validate_layer


def validate(tmp_path, published, people, kind="csv", **fields):
    settings, store = published
    record, _ = write_record_layer(tmp_path, people, kind, **fields)
    return validate_layer(LayerRecord.model_validate(record), settings, store=store)


def findings(report, code):
    return [f for f in report.findings if f.code == code]


def test_clean_geoid_located_records_validate_and_become_points(tmp_path, published, people):
    report = validate(tmp_path, published, people)
    assert report.ok, [f.message for f in report.findings if f.severity == "error"]
    (located,) = findings(report, "records.located")
    assert located.severity == "info" and located.count == len(people)
    assert len(report.data) == len(people) and set(report.data.geom_type) == {"Point"}
    assert report.data["tract_geoid"].tolist() == people["tract_geoid"].tolist()  # ids read as text, zeros kept


def test_undeclared_and_missing_categories_are_errors_with_at_most_five_examples(tmp_path, published, people):
    bad = people.copy()
    bad.loc[:2, "race_ethnicity"] = "latino"
    bad.loc[3:10, "age_band"] = [f"band{i}" for i in range(8)]
    bad.loc[11:12, "sex"] = None
    report = validate(tmp_path, published, bad)
    assert not report.ok
    undeclared = {f.message.split("field '")[1].split("'")[0]: f for f in findings(report, "records.undeclared_category")}
    assert set(undeclared) == {"race_ethnicity", "age_band"}
    assert undeclared["race_ethnicity"].count == 3 and undeclared["race_ethnicity"].examples == ("latino",)
    assert undeclared["age_band"].count == 8 and len(undeclared["age_band"].examples) == 5
    assert all(e.startswith("band") for e in undeclared["age_band"].examples)
    (missing,) = findings(report, "records.category_missing")
    assert missing.count == 2 and "'sex'" in missing.message and missing.severity == "error"


def test_unmatched_and_blank_geoids_are_errors(tmp_path, published, people):
    bad = people.copy()
    bad.loc[:3, "tract_geoid"] = bad.loc[:3, "tract_geoid"].str.lstrip("0")  # a spreadsheet lost the zero
    bad.loc[4, "tract_geoid"] = None
    report = validate(tmp_path, published, bad)
    unmatched = findings(report, "records.location_unmatched")
    assert [f.severity for f in unmatched] == ["error", "error"]
    blank, lost = unmatched
    assert blank.count == 1 and lost.count == 4
    assert set(lost.examples) == set(bad.loc[:3, "tract_geoid"])
    assert "4 of them match once leading zeros are ignored" in lost.message
    assert not findings(report, "records.located")


def test_geographies_and_denominators_must_be_published_vectors_with_ids_and_groups(tmp_path, published, people):
    report = validate(tmp_path, published, people, geographies=None)  # default: just the tracts: fine
    assert report.ok
    block = {"dimensions": [{"name": "sex", "field": "sex", "categories": ["female", "male"]}],
             "geographies": ["ct-tracts-2010", "ct-hospitals"],
             "location": {"field": "tract_geoid", "layer": "ct-tracts-2010", "key": "GEOID10"},
             "denominators": {"layer": "ct-towns", "categories": {"sex": {"female": "women"}}}}
    report = validate(tmp_path, published, people, record_level=block)
    messages = [f.message for f in findings(report, "records.geography_invalid")]
    assert any("'ct-hospitals' is not published" in m for m in messages)
    assert any("'ct-towns' has no equity block" in m for m in messages)
    block["denominators"] = {"layer": "ct-tracts-2010", "categories": {"sex": {"female": "women"}}}
    block["geographies"] = ["ct-tracts-2010"]
    (finding,) = findings(validate(tmp_path, published, people, record_level=block), "records.geography_invalid")
    assert "groups women that layer 'ct-tracts-2010' does not carry" in finding.message


@pytest.mark.parametrize(("location", "expected"), [
    ({"field": "tract_geoid", "layer": "ct-tracts-2020", "key": "GEOID20"}, "'ct-tracts-2020' is not published"),
    ({"field": "tract_geoid", "layer": "ct-tracts-2010", "key": "GEOID20"}, "has no field 'GEOID20'"),
    ({"field": "tract_geoid", "layer": "ct-towns", "key": "STATEFP"}, "name more than one feature"),
])
def test_the_location_layer_must_be_published_with_a_unique_key(tmp_path, published, people, location, expected):
    block = {"dimensions": [{"name": "sex", "field": "sex", "categories": ["female", "male"]}],
             "geographies": ["ct-tracts-2010"], "location": location}
    report = validate(tmp_path, published, people, record_level=block)
    (finding,) = findings(report, "records.location_layer_invalid")
    assert expected in finding.message and not report.ok and report.data is None


def test_missing_fields_and_no_store(tmp_path, published, people):
    settings, _ = published
    report = validate(tmp_path, published, people.drop(columns=["age_band"]))
    (finding,) = findings(report, "records.dimension_field_missing")
    assert "'age_band'" in finding.message
    record, _ = write_record_layer(tmp_path, people.rename(columns={"tract_geoid": "geoid"}))
    report = validate_layer(LayerRecord.model_validate(record), settings, store=published[1])
    assert [f.code for f in report.findings if f.severity == "error"] == ["records.location_field_missing"]
    report = validate_layer(LayerRecord.model_validate(record), settings)
    assert [f.code for f in report.findings if f.severity == "error"] == ["records.no_store"]


def test_point_records_are_checked_against_the_state(tmp_path, published, people):
    report = validate(tmp_path, published, people, kind="gpkg")
    assert report.ok and not findings(report, "records.located")
    far = people.set_geometry(people.geometry.translate(xoff=40))  # somewhere in the Atlantic
    report = validate(tmp_path, published, far, kind="gpkg")
    assert "coords.outside_state" in {f.code for f in report.findings if f.severity == "error"}
