"""Cross-tab cubes of record-level data: counts, every margin, geographies that do not nest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geosvc.equity.constants import STATE, TOTAL
from geosvc.equity.crosstab import OUTSIDE, Cube, Dim
from geosvc.errors import InvalidParameter

DIMS = (Dim("race", ("w", "b", "h")), Dim("sex", ("f", "m")))
# towns a, b; tracts t1 (in a), t2 (straddles a and b), t3 (in b); p5 is in town b but no tract
PIECES = pd.DataFrame({"towns": ["a", "a", "b", "b", "b"], "tracts": ["t1", "t2", "t2", "t3", None]},
                      index=["p1", "p2", "p3", "p4", "p5"])


def _records(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    piece = rng.choice(np.array([*PIECES.index, None], dtype=object), n)
    return pd.DataFrame({"piece": piece, "race": rng.choice(["w", "b", "h"], n), "sex": rng.choice(["f", "m"], n)})


def test_base_is_the_full_domain_and_counts_every_record():
    records = _records()
    cube = Cube.from_records(records, PIECES, DIMS)
    assert len(cube.base) == 6 * 3 * 2  # 5 pieces + OUTSIDE, every combination, zeros included
    assert cube.base.sum() == len(records)
    assert cube.base.xs(OUTSIDE, level="piece").sum() == records["piece"].isna().sum()
    assert cube.base.loc[("p1", "w", "f")] == ((records["piece"] == "p1") & (records["race"] == "w")
                                               & (records["sex"] == "f")).sum()


@pytest.mark.parametrize("geography", ["towns", "tracts"])
def test_table_has_every_margin_and_adds_up(geography):
    records = _records()
    cube = Cube.from_records(records, PIECES, DIMS)
    t = cube.table(geography, ["race", "sex"])
    units = sorted(PIECES[geography].dropna().unique())
    assert t["place_id"].drop_duplicates().tolist() == [STATE, *units]
    assert len(t) == (1 + len(units)) * 4 * 3
    assert t[["race", "sex"]].iloc[:12].values.tolist() == [
        [r, s] for r in ["w", "b", "h", TOTAL] for s in ["f", "m", TOTAL]]
    idx = t.set_index(["place_id", "race", "sex"])["count"]
    assert idx[(STATE, TOTAL, TOTAL)] == len(records)  # the state counts everyone, outside included
    inside = records["piece"].map(PIECES[geography]).notna()
    assert idx.loc[units].xs((TOTAL, TOTAL), level=["race", "sex"]).sum() == inside.sum()
    for place in [STATE, *units]:
        for s in ["f", "m", TOTAL]:
            assert idx[(place, TOTAL, s)] == sum(idx[(place, r, s)] for r in "wbh")
        for r in ["w", "b", "h", TOTAL]:
            assert idx[(place, r, TOTAL)] == idx[(place, r, "f")] + idx[(place, r, "m")]
    t2 = records[records["piece"].map(PIECES[geography]) == units[-1]]
    assert idx[(units[-1], "h", "m")] == ((t2["race"] == "h") & (t2["sex"] == "m")).sum()


def test_subset_tables_are_margins_of_the_full_one():
    cube = Cube.from_records(_records(), PIECES, DIMS)
    full = cube.table("tracts", ["race", "sex"]).set_index(["place_id", "race", "sex"])["count"]
    by_sex = cube.table("tracts", ["sex"]).set_index(["place_id", "sex"])["count"]
    assert (by_sex.to_numpy() == full.xs(TOTAL, level="race").to_numpy()).all()
    swapped = cube.table("tracts", ["sex", "race"]).set_index(["place_id", "race", "sex"])["count"]
    assert swapped.reindex(full.index).equals(full)
    totals = cube.table("towns", [])
    assert totals.columns.tolist() == ["place_id", "count"] and totals["count"].tolist() == [
        400, *cube.table("towns", ["sex"]).query("sex == 'total'")["count"].iloc[1:]]


def test_bad_input_names_the_parameter():
    records = _records()
    bad = records.assign(race=records["race"].where(records.index != 7, "x"))
    with pytest.raises(InvalidParameter) as err:
        Cube.from_records(bad, PIECES, DIMS)
    assert err.value.param == "race" and "'x'" in str(err.value)
    with pytest.raises(InvalidParameter) as err:
        Cube.from_records(records.assign(piece="p9"), PIECES, DIMS)
    assert err.value.param == "piece"
    with pytest.raises(InvalidParameter) as err:
        Cube.from_records(records.drop(columns="sex"), PIECES, DIMS)
    assert err.value.param == "sex"
    cube = Cube.from_records(records, PIECES, DIMS)
    with pytest.raises(InvalidParameter) as err:
        cube.table("counties", ["sex"])
    assert err.value.param == "geography"
    with pytest.raises(InvalidParameter) as err:
        cube.table("towns", ["sex", "age"])
    assert err.value.param == "dims"
    with pytest.raises(ValueError):
        Dim("sex", ("f", TOTAL))


def test_docstring_examples_run():
    import doctest

    from geosvc.equity import crosstab

    result = doctest.testmod(crosstab)
    assert result.attempted >= 2 and result.failed == 0
