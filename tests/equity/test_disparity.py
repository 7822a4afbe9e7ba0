"""Rate comparisons and inequality indices against the published references of methods §7."""

from __future__ import annotations

import numpy as np
import pytest

from geosvc.equity.disparity import (
    dissimilarity,
    garwood_interval,
    gini,
    index_of_disparity,
    poisson_se,
    rate_difference,
    rate_ratio,
    theil,
    unstable_rate,
    weighted_index_of_disparity,
)
from geosvc.equity.moe import Z90, moe_areal, moe_areal_share

# Chesson et al. 2017, Sex Transm Dis 44(9): White, Black, Hispanic, Asian, AI/AN
CHESSON_POP = np.array([200e6, 40e6, 55e6, 20e6, 3e6])
CHESSON_CASES = np.array([70800, 563240, 52360, 4480, 2820])
CHESSON_RATE = CHESSON_CASES / CHESSON_POP


def test_chesson_index_of_disparity():
    assert round(float(index_of_disparity(CHESSON_RATE, CHESSON_POP)), 1) == 166.5
    overall = CHESSON_CASES.sum() / CHESSON_POP.sum()
    assert index_of_disparity(CHESSON_RATE, overall_rate=overall) == pytest.approx(
        index_of_disparity(CHESSON_RATE, CHESSON_POP))


def test_chesson_weighted_index_of_disparity():
    assert round(float(weighted_index_of_disparity(CHESSON_RATE, CHESSON_POP)), 1) == 137.2


def test_chesson_gini():
    assert round(float(gini(CHESSON_RATE, CHESSON_POP)), 3) == 0.724


def test_chesson_black_white_rate_ratio():
    se = poisson_se(CHESSON_CASES, CHESSON_POP)
    rr = rate_ratio(CHESSON_RATE[1], CHESSON_RATE[0], se[1], se[0])
    assert round(float(rr.estimate), 1) == 39.8
    assert rr.lower < rr.estimate < rr.upper


def test_indices_are_vectorised_over_places():
    rates = np.stack([CHESSON_RATE, CHESSON_RATE[::-1] * 2])
    pops = np.stack([CHESSON_POP, CHESSON_POP[::-1]])
    for fn in (index_of_disparity, weighted_index_of_disparity, gini, theil):
        both = fn(rates, pops)
        assert both.shape == (2,)
        assert both[0] == pytest.approx(fn(CHESSON_RATE, CHESSON_POP))
        # reversing groups and doubling rates changes nothing: all four are scale-free
        assert both[1] == pytest.approx(both[0])


def test_equal_rates_give_zero_inequality():
    rates, pop = np.full(4, 0.2), np.array([10, 20, 30, 40])
    assert index_of_disparity(rates, pop) == 0
    assert weighted_index_of_disparity(rates, pop) == 0
    assert gini(rates, pop) == 0
    assert theil(rates, pop) == pytest.approx(0)
    assert theil(CHESSON_RATE, CHESSON_POP) > 0


def test_index_of_disparity_needs_an_overall_rate():
    with pytest.raises(ValueError, match="overall_rate"):
        index_of_disparity(CHESSON_RATE)


def test_garwood_exact_intervals():
    lo, hi = garwood_interval([10, 20])
    assert lo.round(3).tolist() == [4.795, 12.217]
    assert hi.round(3).tolist() == [18.390, 30.888]
    lo0, hi0 = garwood_interval([0])
    assert lo0[0] == 0 and hi0[0] == pytest.approx(-np.log(0.025))  # P(0 events | μ) = e^-μ
    lo90, hi90 = garwood_interval([10], level=0.90)
    assert 4.795 < lo90[0] and hi90[0] < 18.390


def test_unstable_rates_have_fewer_than_20_events():
    assert unstable_rate([0, 1, 19, 20, 500]).tolist() == [True, True, True, False, False]
    # relative SE of a Poisson count, 1/√D, exceeds 22% below 20 events
    assert 1 / np.sqrt(19) > 0.22 > 1 / np.sqrt(21)


def test_toy_exposure_rate_ratio_and_difference(toy_weights):
    """§7 toy: exposed shares ± MOE from the tracts' counts, then RR and RD with 95% CIs."""
    w, whole = toy_weights, np.ones((1, 2))
    groups = {"hispanic": ([300, 400], [80, 90]), "nh_white": ([600, 150], [100, 60])}
    share, se = {}, {}
    for g, (est, moe) in groups.items():
        exposed = (w @ np.asarray(est, float))[0]
        share[g] = exposed / sum(est)
        se[g] = moe_areal_share(w, whole, est, moe)[0] / Z90
    assert moe_areal(w, groups["hispanic"][1])[0] == pytest.approx(70.40, abs=0.005)
    assert round(share["hispanic"], 4) == 0.5357 and round(share["nh_white"], 3) == 0.350

    rr = rate_ratio(share["hispanic"], share["nh_white"], se["hispanic"], se["nh_white"])
    assert [round(float(v), 3) for v in rr] == [1.531, 1.315, 1.781]
    rd = rate_difference(share["hispanic"], share["nh_white"], se["hispanic"], se["nh_white"])
    assert [round(1000 * float(v), 1) for v in rd] == [185.7, 120.2, 251.3]


def test_rate_ratio_is_vectorised():
    rr = rate_ratio([0.2, 0.3], [0.1, 0.1], [0.01, 0.02], [0.01, 0.01])
    assert rr.estimate == pytest.approx([2.0, 3.0])
    assert (rr.lower < rr.estimate).all() and (rr.estimate < rr.upper).all()
    # the log interval is symmetric on the log scale
    assert np.log(rr.upper) - np.log(rr.estimate) == pytest.approx(np.log(rr.estimate) - np.log(rr.lower))


@pytest.mark.filterwarnings("error")
def test_degenerate_inputs_give_nan_quietly():
    zeros, pop = np.zeros(3), np.array([10, 20, 30])
    for value in (index_of_disparity(zeros, pop), weighted_index_of_disparity(zeros, pop),
                  gini(zeros, pop), theil(zeros, pop),
                  rate_ratio(0.0, 0.0, 0.0, 0.0).estimate):
        assert np.isnan(value)


def test_dissimilarity_toy():
    assert dissimilarity([10, 20, 30, 40], [100, 100, 100, 100]) == pytest.approx(0.26667, abs=5e-6)
    assert dissimilarity([10, 20], [100, 200]) == pytest.approx(0)
    assert dissimilarity([50, 0], [50, 50]) == pytest.approx(1)


def test_disparity_answer_carries_dissimilarity_and_acs_margins_of_error():
    """Estimated events (ACS-style, with MOEs): rate MOEs by the proportion formula, RR MOEs by the ratio one."""
    from geosvc.equity.disparity import disparity_report
    from geosvc.equity.moe import moe_proportion, moe_ratio
    from geosvc.equity.requests import DisparityRequest

    request = DisparityRequest.model_validate({"reference": "a", "groups": [
        {"id": "a", "population": 630_498, "population_moe": 831.1, "events": 203_119, "events_moe": 5070.46},
        {"id": "b", "population": 200_000, "population_moe": 900, "events": 30_000, "events_moe": 2_000}]})
    report = disparity_report(request, 11)
    rows = report.rows.set_index("group")
    assert rows.loc["a", "rate_moe"] == pytest.approx(0.0080 * 100_000, abs=5)  # the handbook proportion
    rate_b = moe_proportion(30_000, 200_000, 2_000, 900)
    expected = moe_ratio(30_000 / 200_000, 203_119 / 630_498, rate_b, moe_proportion(203_119, 630_498, 5070.46, 831.1))
    assert rows.loc["b", "rr_moe"] == pytest.approx(float(expected))
    assert np.isnan(rows.loc["a", "rr_moe"])  # the reference against itself
    assert report.summary["dissimilarity"] == pytest.approx(
        float(dissimilarity([203_119, 30_000], [630_498, 200_000])))
    without = disparity_report(DisparityRequest.model_validate({"groups": [
        {"id": "a", "population": 1000, "events": 20}, {"id": "b", "population": 1000, "events": 40}]}), 11)
    assert "rate_moe" not in without.rows and without.summary["dissimilarity"] is not None
