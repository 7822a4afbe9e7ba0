"""Every generated broken input yields its expected finding code with the expected severity."""

from __future__ import annotations

import datetime as dt

import pytest

from geosvc.records.models import LayerRecord
from geosvc.settings import load_settings
from geosvc.validate import validate_layer
from support.broken_inputs import CASES, ERROR_CASES, clean_layer

TODAY = dt.date(2026, 11, 25)


def _validate(record: dict, data_root, tmp_path):
    settings = load_settings(data_root=data_root, store_dir=tmp_path / "store", layers_dir=tmp_path / "layers")
    return validate_layer(LayerRecord.model_validate(record), settings, today=TODAY)


def test_enough_cases():
    assert len(CASES) >= 24
    assert len(ERROR_CASES) >= 20
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_yields_expected_code(case, tmp_path):
    record, data_root = case.build(tmp_path)
    report = _validate(record, data_root, tmp_path)
    found = {(f.code, f.severity) for f in report.findings}
    assert (case.expected_code, case.severity) in found, report.findings
    assert report.ok is (case.severity != "error" and all(f.severity != "error" for f in report.findings))
    if case.severity == "error":
        assert not report.ok
    else:
        assert report.ok, [f for f in report.findings if f.severity == "error"]


def test_clean_layer_has_no_findings_above_info(tmp_path):
    record, data_root = clean_layer(tmp_path)
    report = _validate(record, data_root, tmp_path)
    assert report.ok
    assert [f for f in report.findings if f.severity != "info"] == []
    assert len(report.data) == 5
