"""Disclosure control: primary, complementary, derived suppression, rounding, minimum population."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geosvc.equity.suppression import (
    COMPLEMENTARY,
    DERIVED,
    MIN_POPULATION,
    PRIMARY,
    additive_lines,
    apply_disclosure_control,
    resolve_k,
    round_counts,
)
from geosvc.errors import InvalidParameter
from geosvc.settings import load_settings

COUNTS = ["population", "exposed"]


def _table(pop: np.ndarray, exposed: np.ndarray, *, reference: str | None = None) -> pd.DataFrame:
    """Place × group table plus place totals (group 'total') and overall rows (place 'all')."""
    n_places, n_groups = pop.shape
    rows = []
    for p in range(n_places):
        for g in range(n_groups):
            rows.append((f"p{p}", f"g{g}", pop[p, g], exposed[p, g]))
        rows.append((f"p{p}", "total", pop[p].sum(), exposed[p].sum()))
    for g in range(n_groups):
        rows.append(("all", f"g{g}", pop[:, g].sum(), exposed[:, g].sum()))
    rows.append(("all", "total", pop.sum(), exposed.sum()))
    t = pd.DataFrame(rows, columns=["place", "group", "population", "exposed"])
    with np.errstate(invalid="ignore", divide="ignore"):
        t["rate"] = 1000 * t["exposed"] / t["population"]
    if reference is not None:
        ref = t[t["group"] == reference]
        t["ref_row"] = t["place"].map(pd.Series(ref.index, index=ref["place"]))
        t["rr"] = t["rate"] / t["place"].map(ref.set_index("place")["rate"])
    return t


def _lines(t: pd.DataFrame):
    return additive_lines(t, place="place", group="group", total_group="total", columns=COUNTS,
                          overall_place="all")


def _control(t, **kw):
    derived = {"rate": ["exposed", "population"]}
    if "rr" in t:
        derived["rr"] = ["exposed", "population"]
        kw.setdefault("reference", "ref_row")
        kw.setdefault("compared_columns", ["rr"])
    return apply_disclosure_control(t, count_columns=COUNTS, derived_columns=derived,
                                    lines=_lines(t), **kw)


def test_floor_comes_from_settings_and_cannot_be_lowered():
    floor = load_settings().equity.suppression_k
    assert floor == 11
    assert resolve_k(None, floor) == 11
    assert resolve_k(25, floor) == 25
    for bad in (floor - 1, 0, -3, 2.5, True, "20"):
        with pytest.raises(InvalidParameter) as err:
            resolve_k(bad, floor)
        assert err.value.param == "k" and err.value.http_status == 400


def test_primary_suppression_withholds_1_to_k_minus_1_and_shows_zero():
    t = pd.DataFrame({"n": [0, 1, 10, 11, 10.5, 0.2, 50]})
    out, prot = apply_disclosure_control(t, count_columns=["n"], k=11, k_floor=11)
    assert out["n"].isna().tolist() == [False, True, True, False, True, True, False]
    assert out.loc[0, "n"] == 0 and out.loc[3, "n"] == 11 and out.loc[6, "n"] == 50
    assert (out.loc[out["n"].isna(), "n_suppressed"] == PRIMARY).all()
    assert out["suppressed"].tolist() == out["n"].isna().tolist()
    assert prot.withheld[PRIMARY] == 4 and prot.k == 11


def test_raised_k_suppresses_more():
    t = pd.DataFrame({"n": [12, 19, 20]})
    out, prot = apply_disclosure_control(t, count_columns=["n"], k=20, k_floor=11)
    assert out["n"].isna().tolist() == [True, True, False]
    assert prot.to_dict()["k"] == 20


def test_complementary_picks_the_smallest_non_zero_cell():
    pop = np.array([[5, 0, 40, 30]])  # one place; 5 is primary; next smallest non-zero is 30
    t = _table(pop, np.zeros_like(pop))
    out, prot = _control(t)
    pop_reason = out.set_index(["place", "group"])["population_suppressed"]
    assert pop_reason[("p0", "g0")] == PRIMARY
    assert pop_reason[("p0", "g3")] == COMPLEMENTARY
    assert pd.isna(pop_reason[("p0", "g1")]) and pd.isna(pop_reason[("p0", "g2")])
    # the overall rows duplicate the single place, so they need the same protection
    assert pop_reason[("all", "g0")] == PRIMARY and pop_reason[("all", "g3")] == COMPLEMENTARY
    assert prot.withheld[COMPLEMENTARY] >= 2


def test_complementary_iterates_across_lines():
    # p0: g0 = 3 suppressed -> complement g1 (12) in p0; then the g1 column (12 + 14 = all)
    # has one withheld cell, so p1's g1 (14) goes too, then p1 needs another, and so on.
    pop = np.array([[3, 12, 100], [50, 14, 100]])
    out, _ = _control(_table(pop, np.zeros_like(pop)))
    assert 1 not in _hidden_per_line(out, _lines(out))
    assert out.loc[(out.place == "p1") & (out.group == "g1"), "population_suppressed"].item() == COMPLEMENTARY


def test_derived_and_compared_columns_follow_their_counts():
    pop = np.array([[200, 300, 150]])
    exposed = np.array([[5, 40, 100]])
    out, prot = _control(_table(pop, exposed, reference="g1"))
    g = out.set_index(["place", "group"])
    assert np.isnan(g.loc[("p0", "g0"), "rate"]) and g.loc[("p0", "g0"), "rate_suppressed"] == DERIVED
    # the reference g1 (40) is the smallest non-zero complement of 5 in p0's exposed line ...
    assert g.loc[("p0", "g1"), "exposed_suppressed"] == COMPLEMENTARY
    # ... so g2 keeps its own rate but every rate ratio against g1 is withheld
    assert g.loc[("p0", "g2"), "rate"] == pytest.approx(1000 * 100 / 150)
    assert pd.isna(g.loc[("p0", "g2"), "rate_suppressed"])
    assert g.loc[["p0"], "rr"].isna().all()
    assert (g.loc[["p0"], "rr_suppressed"] == DERIVED).all()
    assert prot.withheld[DERIVED] >= 4


def test_compared_column_needs_reference_row_published():
    t = pd.DataFrame({"n": [5, 50, 60, 70], "d": [100] * 4, "r": [0.05, 0.5, 0.6, 0.7],
                      "ref": [None, 0, 0, 3]})
    out, _ = apply_disclosure_control(t, count_columns=["n", "d"], derived_columns={"r": ["n", "d"]},
                                      reference="ref", compared_columns=["r"], k_floor=11)
    # rows 1 and 2 compare with row 0 (n = 5); row 3 with itself
    assert out["r"].isna().tolist() == [True, True, True, False]
    assert out["r_suppressed"].tolist()[:3] == [DERIVED] * 3


def test_min_population_withholds_whole_small_areas_and_rounding():
    t = pd.DataFrame({"place": ["tiny", "tiny", "big", "big", "big", "empty"],
                      "population": [30, 20, 1000, 62, 1062, 0], "exposed": [30, 20, 497, 11, 508, 0],
                      "place_pop": [50, 50, 1062, 1062, 1062, 0]})
    t["share"] = t["exposed"] / t["population"].replace(0, np.nan)

    def rerate(rounded: pd.DataFrame) -> pd.DataFrame:
        return rounded.assign(share=rounded["exposed"] / rounded["population"].replace(0, np.nan))

    out, prot = apply_disclosure_control(
        t, count_columns=COUNTS, derived_columns={"share": COUNTS}, k_floor=11,
        lines=[[(2, c), (3, c), (4, c)] for c in COUNTS],
        min_population=100, place_population="place_pop", rounding_base=5, recompute=rerate)
    assert out.loc[:1, ["population", "exposed", "share"]].isna().all().all()
    assert (out.loc[:1, ["population_suppressed", "share_suppressed"]] == MIN_POPULATION).all().all()
    # rounded first: 11 -> 10 is then below k, so it and its complement are withheld
    assert out.loc[3, "population"] == 60 and out.loc[3, "exposed_suppressed"] == PRIMARY
    assert out.loc[2, "exposed_suppressed"] == COMPLEMENTARY and out.loc[4, "exposed"] == 510
    # derived values come from the rounded counts, so they reveal nothing finer
    assert out.loc[4, "share"] == pytest.approx(510 / 1060)
    assert out.loc[5, "population"] == 0  # an empty area reveals nobody
    d = prot.to_dict()
    assert d["applied"][0] == "minimum_population" and "rounding" in d["applied"]
    assert d["withheld"][MIN_POPULATION] == 6 and d["rounding_base"] == 5


def test_round_counts_keeps_nan_and_rejects_bad_base():
    assert round_counts(np.array([7.4, 7.5, np.nan]), 5)[:2].tolist() == [5.0, 10.0]
    assert np.isnan(round_counts([np.nan])[0])
    with pytest.raises(InvalidParameter):
        round_counts([1], 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"count_columns": ["nope"]}, "no column"),
    ({"count_columns": ["n"], "derived_columns": {"r": ["x"]}}, "must be count columns"),
    ({"count_columns": ["n"], "lines": [[(0, "n")]]}, "fewer than two"),
    ({"count_columns": ["n"], "lines": [[(0, "n"), (9, "n")]]}, "not in the table"),
    ({"count_columns": ["n"], "min_population": 10}, "place_population"),
    ({"count_columns": ["n"], "recompute": lambda t: t}, "rounding_base"),
])
def test_malformed_calls_raise_value_error(kwargs, message):
    t = pd.DataFrame({"n": [1.0, 2.0], "r": [0.1, 0.2]})
    with pytest.raises(ValueError, match=message):
        apply_disclosure_control(t, **kwargs)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        apply_disclosure_control(pd.DataFrame({"n": [-1.0]}), count_columns=["n"])


@st.composite
def tables(draw):
    n_places = draw(st.integers(1, 5))
    n_groups = draw(st.integers(1, 4))
    cells = st.integers(0, 60)
    pop = np.array(draw(st.lists(st.lists(cells, min_size=n_groups, max_size=n_groups),
                                 min_size=n_places, max_size=n_places)))
    frac = np.array(draw(st.lists(st.floats(0, 1), min_size=pop.size, max_size=pop.size)))
    exposed = np.floor(pop * frac.reshape(pop.shape))
    if draw(st.booleans()):  # a missing input stays missing (and so do the sums holding it)
        exposed[draw(st.integers(0, n_places - 1)), draw(st.integers(0, n_groups - 1))] = np.nan
    floor = draw(st.integers(2, 15))
    k = draw(st.integers(floor, floor + 25))
    reference = draw(st.sampled_from([None, "g0"]))
    return _table(pop, exposed, reference=reference), floor, k


def _hidden_per_line(out: pd.DataFrame, lines) -> list[int]:
    hidden = out[COUNTS].isna().to_numpy()
    pos = {c: j for j, c in enumerate(COUNTS)}
    return [sum(hidden[out.index.get_loc(label), pos[col]] for label, col in line) for line in lines]


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from([None, 5]))
def test_properties_hold_on_random_tables(case, rounding_base):
    t, floor, k = case
    out, prot = _control(t, k=k, k_floor=floor, rounding_base=rounding_base)
    assert prot.k == k >= floor
    published_input = t.copy()
    if rounding_base:
        published_input[COUNTS] = round_counts(t[COUNTS], rounding_base)
    derived_cols = [c for c in ("rate", "rr") if c in t]
    for col in COUNTS:
        shown = out[col].dropna()
        # no published count lies in 1..k-1
        assert not ((shown > 0) & (shown < k)).any()
        if rounding_base:
            assert (shown % rounding_base == 0).all()
        # unsuppressed values are unchanged (after rounding); suppressed ones carry a reason
        kept, given = out[col].notna(), t[col].notna()
        assert (out.loc[kept, col] == published_input.loc[kept, col]).all()
        assert out.loc[given & ~kept, f"{col}_suppressed"].isin([PRIMARY, COMPLEMENTARY]).all()
        assert out.loc[kept | ~given, f"{col}_suppressed"].isna().all()
    # no additive line has exactly one withheld cell
    assert 1 not in _hidden_per_line(out, _lines(t))
    # derived values from withheld counts are withheld, the rest unchanged
    src_hidden = out["population"].isna() | out["exposed"].isna()
    for col in derived_cols:
        assert out.loc[src_hidden, col].isna().all()
        both = out[col].notna()
        assert np.allclose(out.loc[both, col], t.loc[both, col])
    if "rr" in t:
        ref_hidden = src_hidden.to_numpy()[t["ref_row"].to_numpy(dtype=int)]
        assert out.loc[ref_hidden, "rr"].isna().all()
