"""Validating the real sample catalog (layers/*.yaml on the Connecticut bundle) gives no errors."""

from __future__ import annotations

import datetime as dt

import pytest

from geosvc.records.loader import load_records
from geosvc.validate import validate_layers


@pytest.fixture(scope="module")
def reports(settings_real):
    records = load_records(settings_real.layers.dir)
    assert records, "no layer records"
    return {r.layer: r for r in validate_layers(records.values(), settings_real, today=dt.date(2026, 11, 25))}


def test_no_errors(reports):
    errors = [f for r in reports.values() for f in r.findings if f.severity == "error"]
    assert errors == []
    assert all(r.ok for r in reports.values())


def test_vector_data_is_kept_for_publish_in_native_crs(reports):
    tracts = reports["ct-tracts-2010"]
    assert len(tracts.data) == 833
    assert tracts.data.crs.to_epsg() == 4269
    assert tracts.data["Tot_Population_ACS_12_16"].notna().all()
    assert reports["ct-towns"].completeness == 1.0


def test_known_quirks_are_explained_warnings(reports):
    def codes(layer):
        return {f.code: f for f in reports[layer].findings}

    dup = codes("ct-tracts-2010")["join.duplicate_key"]
    assert dup.severity == "warning" and set(dup.examples) == {"09011702600", "09011980000"}
    hospitals = codes("ct-hospitals")["coords.outside_state"]
    assert hospitals.severity == "info" and 7000 < hospitals.count < 7596  # national layer, outside ones dropped
    drought = codes("us-drought-20161004")["coords.outside_state"]
    assert (drought.severity, drought.count) == ("info", 1) and "outside_state_extent: keep" in drought.message
    assert "time.unparsable" not in codes("ct-hospitals")  # VAL_DATE is a real date field
    null = codes("ct-public-schools-csv")["geometry.null"]
    assert (null.severity, null.count) == ("warning", 40)
    assert codes("ct-population-density").keys() == {"raster.derived"}
