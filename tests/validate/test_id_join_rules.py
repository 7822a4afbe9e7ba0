"""Identifier rules and join rules (including the duplicated-key policy)."""

from __future__ import annotations

import pandas as pd

from geosvc.validate.ids import check_ids
from geosvc.validate.join import lossy_duplicates


def _by_code(findings):
    return {f.code: f for f in findings}


def test_ids_clean_unique_pass(make_record):
    assert check_ids(pd.DataFrame({"site_id": [3, 1, 2]}), make_record()) == []


def test_blank_and_null_ids_are_missing(make_record):
    frame = pd.DataFrame({"site_id": ["a", None, "  ", "b"]})
    found = _by_code(check_ids(frame, make_record()))
    assert (found["id.missing"].count, found["id.missing"].examples) == (2, ("row 1", "row 2"))
    assert "id.duplicate" not in found  # two missing ids are not duplicates of each other


def test_duplicates_count_features_and_list_values(make_record):
    found = _by_code(check_ids(pd.DataFrame({"site_id": [1, 2, 2, 3, 3, 3, 4]}), make_record()))
    dup = found["id.duplicate"]
    assert (dup.severity, dup.count, dup.examples) == ("error", 5, ("2", "3"))


def test_undeclared_and_absent_id_field(make_record):
    frame = pd.DataFrame({"code": [1]})
    assert [f.code for f in check_ids(frame, make_record(id_field=None))] == ["id.undeclared"]
    (absent,) = check_ids(frame, make_record(id_field="gid"))
    assert absent.code == "id.field_missing" and "code" in absent.message


def test_placeholder_duplicates_are_lossless():
    table = pd.DataFrame({"k": ["a", "a", "b"], "pop": [10.0, None, 5.0], "pct": [1.5, None, 2.0]})
    assert lossy_duplicates(table, "k").empty


def test_exact_duplicate_rows_are_lossless():
    table = pd.DataFrame({"k": ["a", "a"], "pop": [10, 10]})
    assert lossy_duplicates(table, "k").empty


def test_conflicting_or_split_duplicates_are_lossy():
    conflicting = pd.DataFrame({"k": ["a", "a", "b"], "pop": [10, 11, 5]})
    assert lossy_duplicates(conflicting, "k").tolist() == ["a"]
    split = pd.DataFrame({"k": ["a", "a"], "pop": [10, None], "pct": [None, 2.0]})  # no row holds both
    assert lossy_duplicates(split, "k").tolist() == ["a"]


def test_real_planning_database_duplicates_are_placeholders_over_the_joined_fields(settings_real):
    """The 2 duplicated GIDTR of the real PDB table: one row of values, one mostly 'na'.

    Over the fields the tracts record joins, the extra rows are all-NA (lossless); over all columns
    they are not, because the placeholder rows alone carry Mail_Return_Rate_CEN_2010.
    """
    from geosvc.records.loader import load_record

    join = load_record(settings_real.layers.dir / "ct-tracts-2010.yaml").join
    table = pd.read_csv(
        settings_real.data.root / join.path, dtype={join.right_key: str}, na_values=join.na_values, low_memory=False
    )
    assert table[join.right_key].duplicated().sum() == 2
    assert lossy_duplicates(table[[join.right_key, *join.fields]], join.right_key).empty
    assert lossy_duplicates(table, join.right_key).tolist() == ["09011702600", "09011980000"]
