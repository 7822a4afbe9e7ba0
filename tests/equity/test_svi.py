"""SVI ranking: exact reproduction of CDC's published 2022 Pennsylvania county file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geosvc.equity.svi import INPUT_COLUMNS, THEMES, SviInputError, percent_rank, rank_svi
from geosvc.errors import InvalidParameter
from geosvc.settings import load_settings

OUTPUT_PREFIXES = ("EPL_", "SPL_", "RPL_", "F_")


@pytest.fixture(scope="module")
def cdc() -> pd.DataFrame:
    path = load_settings().data.root / "reference" / "svi2022_pa_county_cdc.csv"
    return pd.read_csv(path, encoding="utf-8-sig", dtype={"FIPS": str})


def _inputs(cdc: pd.DataFrame) -> pd.DataFrame:
    return cdc[["FIPS", "E_TOTPOP", *INPUT_COLUMNS]].copy()


def _output_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith(OUTPUT_PREFIXES)]


def test_theme_membership_matches_cdc_file(cdc):
    # CDC lists each theme's EPL_* columns right before its SPL_THEMEn column.
    header, themes, members = list(cdc.columns), {}, []
    for col in header[header.index("EPL_POV150"):header.index("SPL_THEMES")]:
        if col.startswith("EPL_"):
            members.append(col.removeprefix("EPL_"))
        elif col.startswith("SPL_"):
            themes[col.removeprefix("SPL_")], members = tuple(members), []
    assert themes == THEMES


def test_reproduces_cdc_2022_pennsylvania_counties_exactly(cdc):
    out = rank_svi(_inputs(cdc), id_column="FIPS", population="E_TOTPOP")
    assert len(out) == 67
    assert _output_columns(out) == _output_columns(cdc)  # same 47 columns, same order
    assert len(_output_columns(out)) == 47
    for col in _output_columns(cdc):
        mismatched = cdc.loc[out[col] != cdc[col], "FIPS"].tolist()
        assert not mismatched, f"{col} differs for {mismatched}"
    assert out["FIPS"].tolist() == cdc["FIPS"].tolist()


def test_ranking_ignores_row_order(cdc):
    shuffled = _inputs(cdc).sample(frac=1, random_state=7)
    out = rank_svi(shuffled, id_column="FIPS", population="E_TOTPOP").set_index("FIPS")
    expected = cdc.set_index("FIPS").loc[out.index, _output_columns(out)]
    pd.testing.assert_frame_equal(out[_output_columns(out)], expected, check_dtype=False)


def test_zero_population_units_are_left_out(cdc):
    empty = _inputs(cdc).iloc[[0]].assign(FIPS="42999", E_TOTPOP=0)
    empty[list(INPUT_COLUMNS)] = 99.9  # would top every ranking if it counted
    out = rank_svi(pd.concat([_inputs(cdc), empty], ignore_index=True), id_column="FIPS",
                   population="E_TOTPOP")
    assert out.iloc[-1][_output_columns(out)].isna().all()
    for col in _output_columns(cdc):
        assert (out[col].iloc[:-1].to_numpy() == cdc[col].to_numpy()).all(), col


def test_missing_value_minus_999_is_excluded_from_its_rankings(cdc):
    units = _inputs(cdc)
    units.loc[0, "EP_POV150"] = -999
    out = rank_svi(units, id_column="FIPS", population="E_TOTPOP")
    row = out.iloc[0]
    assert np.isnan(row["EPL_POV150"]) and np.isnan(row["SPL_THEME1"]) and np.isnan(row["RPL_THEMES"])
    assert np.isnan(row["F_POV150"]) and np.isnan(row["F_TOTAL"])
    assert row["EPL_AGE65"] == cdc.loc[0, "EPL_AGE65"] and row["RPL_THEME2"] == cdc.loc[0, "RPL_THEME2"]
    # the other 66 counties are ranked among themselves: N - 1 = 65
    pov = units["EP_POV150"].iloc[1:]
    expected = np.round((pov.rank(method="min") - 1) / 65, 4)
    assert (out["EPL_POV150"].iloc[1:] == expected).all()
    assert out["RPL_THEMES"].iloc[1:].max() == 1.0


def test_percent_rank_ties_take_lowest_rank():
    assert percent_rank([3.0, 1.0, 3.0, 2.0]).tolist() == [0.6667, 0.0, 0.6667, 0.3333]
    assert np.isnan(percent_rank([1.0])).all()


@pytest.mark.parametrize("mutate, message", [
    (lambda u: u.drop(columns=["EP_MINRTY", "EP_GROUPQ"]), "missing SVI variables: EP_MINRTY, EP_GROUPQ"),
    (lambda u: u.drop(columns=["E_TOTPOP"]), "missing column(s): E_TOTPOP"),
    (lambda u: u.assign(EP_UNEMP="x"), "non-numeric values in: EP_UNEMP"),
    (lambda u: u.assign(FIPS="42001"), "'FIPS' must be unique"),
    (lambda u: u.assign(EP_CROWD=-5.0), "negative values"),
    (lambda u: u.iloc[:1], "at least two units"),
])
def test_bad_input_names_the_problem(cdc, mutate, message):
    with pytest.raises(SviInputError) as err:
        rank_svi(mutate(_inputs(cdc)), id_column="FIPS", population="E_TOTPOP")
    assert message in str(err.value)
    assert isinstance(err.value, InvalidParameter) and isinstance(err.value, ValueError)
    assert err.value.http_status == 400 and err.value.param == "units"
