"""ACS margin-of-error algebra against the ACS General Handbook (2018, ch. 8) examples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from geosvc.equity.moe import (
    coefficient_of_variation,
    moe_areal,
    moe_areal_share,
    moe_product,
    moe_proportion,
    moe_ratio,
    moe_sum,
    reliability,
    standard_error,
    use_caution,
)


def test_handbook_sum():
    assert moe_sum([135173, 43104, 24842], [3860, 2642, 1957]) == pytest.approx(5070.46, abs=0.005)
    assert sum([135173, 43104, 24842]) == 203119


def test_sum_counts_the_largest_zero_estimate_moe_once():
    assert moe_sum([0, 0, 50], [20, 30, 40]) == pytest.approx(50.0)
    assert moe_sum([0, 0, 0], [20, 30, 10]) == pytest.approx(30.0)
    assert moe_sum([5, 7], [3, 4]) == pytest.approx(5.0)
    # vectorised over rows
    got = moe_sum(np.array([[0, 0, 50], [1, 1, 1]]), np.array([[20, 30, 40], [20, 30, 40]]))
    assert got == pytest.approx([50.0, np.sqrt(2900)])


def test_handbook_product():
    assert round(74506512 * 0.824) == 61393366
    assert moe_product(74506512, 0.824, 228238, 0.001) == pytest.approx(202289, abs=0.5)


def test_cv_and_reliability_labels():
    cv = coefficient_of_variation([1000, 1000, 1000, 1000, 0], [1.645 * 120, 1.645 * 121, 1.645 * 301,
                                                                1.645 * 401, 5])
    assert cv[:4] == pytest.approx([0.12, 0.121, 0.301, 0.401])
    assert np.isnan(cv[4])
    assert reliability(cv).tolist() == ["high", "medium", "medium", "low", None]
    assert use_caution(cv).tolist() == [False, False, True, True, False]
    assert standard_error(3.29) == pytest.approx(2.0)


def test_toy_exposure_counts_and_moes(toy_weights):
    w = toy_weights
    assert w.tolist() == [[0.25, 0.75]]
    est = np.array([[300, 600], [400, 150]])  # tracts × (Hispanic, NH White)
    moe = np.array([[80, 100], [90, 60]])
    exposed = w @ est
    assert exposed.tolist() == [[375.0, 262.5]]
    assert moe_areal(w, moe) == pytest.approx(np.array([[70.40, 51.48]]), abs=0.005)
    assert moe_areal(sparse.csr_array(w), moe) == pytest.approx(moe_areal(w, moe))


def test_toy_exposure_share_moes(toy_weights):
    w, whole = toy_weights, np.ones((1, 2))
    hisp = moe_areal_share(w, whole, [300, 400], [80, 90])
    white = moe_areal_share(w, whole, [600, 150], [100, 60])
    assert hisp == pytest.approx([0.0427], abs=0.00005)
    assert white == pytest.approx([0.0347], abs=0.00005)


def test_share_moe_is_the_delta_method():
    rng = np.random.default_rng(3)
    u = rng.uniform(0, 1, (4, 6)) * (rng.uniform(size=(4, 6)) > 0.3)
    v = np.clip(u + rng.uniform(0, 0.5, (4, 6)), 0, 1)
    n, moe = rng.uniform(100, 1000, 6), rng.uniform(10, 200, 6)
    # numerical gradient of p_j = (u @ n) / (v @ n) with respect to each n_i
    h = 1e-4
    grad = np.stack([((u @ (n + h * e)) / (v @ (n + h * e)) - (u @ (n - h * e)) / (v @ (n - h * e))) / (2 * h)
                     for e in np.eye(6)], axis=1)
    expected = np.sqrt((grad**2) @ moe**2)
    assert moe_areal_share(u, v, n, moe) == pytest.approx(expected, rel=1e-6)


def test_handbook_proportion():
    moe_x = moe_sum([135173, 43104, 24842], [3860, 2642, 1957])
    p = 203119 / 630498
    assert round(p, 3) == 0.322
    assert moe_proportion(203119, 630498, moe_x, 831.1) == pytest.approx(0.0080, abs=0.00005)


def test_proportion_falls_back_to_ratio_formula_when_radicand_is_negative():
    # 5² − 0.5²·20² = −75 < 0
    assert moe_proportion(50, 100, 5, 20) == pytest.approx(moe_ratio(50, 100, 5, 20))
    assert moe_proportion(50, 100, 5, 20) == pytest.approx(np.sqrt(25 + 100) / 100)
    # radicand ≥ 0: the proportion formula, smaller than the ratio one
    got = moe_proportion([50, 50], [100, 100], [5, 20], [20, 5])
    assert got == pytest.approx([np.sqrt(125) / 100, np.sqrt(400 - 6.25) / 100])


def test_handbook_ratio():
    moe_x = moe_sum([1, 1, 1], [4222, 2819, 2259])
    assert round(226840 / 203119, 3) == 1.117
    assert moe_ratio(226840, 203119, moe_x, 5070.46) == pytest.approx(0.039, abs=0.0005)
