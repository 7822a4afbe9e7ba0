"""Metadata completeness, referenced fields, and freshness."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from dateutil.relativedelta import relativedelta

from geosvc.records.models import REQUIRED_METADATA
from geosvc.validate.fields import check_fields
from geosvc.validate.freshness import check_freshness, is_stale, parse_cadence
from geosvc.validate.metadata import check_metadata, completeness


def test_complete_record_scores_one(make_record):
    record = make_record()
    assert completeness(record) == 1.0
    assert check_metadata(record) == []


def test_missing_fields_are_listed_and_scored(make_record):
    record = make_record(description="", keywords=[], attribution=None, license=None)
    assert completeness(record) == pytest.approx(1 - 4 / len(REQUIRED_METADATA))
    found = {f.code: f for f in check_metadata(record)}
    assert set(found) == {"metadata.missing", "metadata.no_license"}
    assert found["metadata.missing"].examples == ("description", "keywords", "attribution")
    assert all(f.severity == "warning" for f in found.values())


def test_equity_and_time_fields_must_exist(make_record):
    equity = {
        "total_field": "pop",
        "total_moe_field": "pop_moe",
        "groups": [{"id": "old", "label": "65+", "field": "old", "moe_field": "old_moe"}],
    }
    record = make_record(equity=equity, time_field="seen")
    frame = pd.DataFrame({"pop": [1], "old": [1], "old_moe": [0.5]})
    found = {f.code: f for f in check_fields(frame, record)}
    assert found["equity.field_missing"].examples == ("pop_moe",)
    assert found["equity.field_missing"].severity == found["time.field_missing"].severity == "error"
    assert check_fields(frame.assign(pop_moe=1, seen="2020-01-01"), record) == []


def test_equity_fields_must_be_numbers_and_percentages_in_range(make_record):
    equity = {
        "total_field": "pop",
        "groups": [{"id": "a", "label": "A", "field": "pct_a", "kind": "percent"}, {"id": "b", "label": "B", "field": "b"}],
    }
    frame = pd.DataFrame({"site_id": [7, 8, 9], "pop": ["1", "2", "x"], "pct_a": [10.0, 101.0, -1.0], "b": [1, 2, 3]})
    found = {f.code: f for f in check_fields(frame, make_record(equity=equity))}
    assert found["equity.field_not_numeric"].examples == ("pop",)
    assert found["equity.field_not_numeric"].severity == "error"
    out = found["equity.percent_out_of_range"]
    assert (out.severity, out.count, out.examples) == ("error", 2, ("8", "9"))  # never published as a warning


def test_time_values_must_parse(make_record):
    record = make_record(time_field="seen")
    frame = pd.DataFrame({"site_id": [1, 2, 3, 4], "seen": ["2020-01-01", "2020-02-30", None, "yesterday"]})
    (finding,) = check_fields(frame, record)
    assert (finding.code, finding.severity, finding.count, finding.examples) == ("time.unparsable", "warning", 2, ("2", "4"))
    dates = pd.DataFrame({"seen": [dt.date(2020, 1, 1), None]})
    assert check_fields(dates, record) == []


@pytest.mark.parametrize(
    ("cadence", "expected"),
    [("P1Y", relativedelta(years=1)), ("P3M", relativedelta(months=3)), ("P2W", relativedelta(weeks=2)),
     ("P1DT12H", relativedelta(days=1, hours=12)), ("static", None)],
)
def test_parse_cadence(cadence, expected):
    assert parse_cadence(cadence) == expected


def test_stale_exactly_after_the_due_date(make_record):
    record = make_record(update_cadence="P1M", last_updated="2024-01-31")
    assert not is_stale(record, dt.date(2024, 2, 29))  # due 2024-02-29 (month end clipped)
    assert is_stale(record, dt.date(2024, 3, 1))
    (finding,) = check_freshness(record, dt.date(2024, 3, 1))
    assert (finding.code, finding.severity) == ("freshness.stale", "warning")
    assert "1 days overdue" in finding.message


def test_static_never_stale_and_unknown_reported(make_record):
    assert check_freshness(make_record(update_cadence="static", last_updated="1990-01-01"), dt.date(2026, 1, 1)) == []
    (finding,) = check_freshness(make_record(last_updated=None))
    assert finding.code == "freshness.unknown"
