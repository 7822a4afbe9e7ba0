"""Formal-privacy release (geosvc.equity.privacy): noise distribution, ε accounting, checks, serialisation.

OpenDP draws noise from a CSPRNG that cannot be seeded, so the noise is tested statistically: moments
and point probabilities of the discrete Laplace over many cells, with tolerances of several standard
errors (a false failure is far below one in a million runs).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from geosvc.equity import privacy
from geosvc.errors import InvalidParameter

CELLS = 40_000


def noise_of(epsilon: float, cells: int = CELLS, seed: int = 7) -> np.ndarray:
    """Noise drawn by one release of a seeded base histogram (``cells`` cells)."""
    counts = np.random.default_rng(seed).integers(0, 50, cells)
    base = pd.Series(counts, index=pd.MultiIndex.from_product([range(cells // 8), range(8)], names=["piece", "d"]))
    noisy = privacy.release(base, epsilon)
    assert noisy.index.equals(base.index) and noisy.dtype == np.int64
    return (noisy - base).to_numpy()


@pytest.mark.parametrize("epsilon", [0.5, 2.0])
def test_noise_is_discrete_laplace_of_scale_one_over_epsilon(epsilon):
    noise = noise_of(epsilon)
    alpha = math.exp(-epsilon)
    var = 2 * alpha / (1 - alpha) ** 2
    assert privacy.noise_scale(epsilon) == pytest.approx(1 / epsilon)
    assert privacy.variance(epsilon) == pytest.approx(var)
    # kurtosis κ of the discrete Laplace: 6.1 at ε = 0.5, 8.8 at ε = 2; sd of the sample variance ≈ var·sqrt((κ-1)/N)
    assert abs(noise.mean()) < 6 * math.sqrt(var / CELLS)
    assert noise.var() == pytest.approx(var, rel=6 * math.sqrt(8 / CELLS))
    for k in (-2, -1, 0, 1, 3):
        p = (1 - alpha) / (1 + alpha) * alpha ** abs(k)
        assert (noise == k).mean() == pytest.approx(p, abs=6 * math.sqrt(p * (1 - p) / CELLS))
    assert np.array_equal(noise, np.round(noise))  # integer noise: counts stay integers


def test_noise_is_fresh_per_release_and_symmetric():
    first, second = noise_of(1.0, 8_000), noise_of(1.0, 8_000)
    assert not np.array_equal(first, second)  # drawn again on every call: the store keeps one release
    assert abs((first > 0).mean() - (first < 0).mean()) < 0.05


def test_epsilon_accounting_is_opendps_privacy_map():
    for epsilon in (0.01, 0.3, 1.0, 4.0):
        meas = privacy.mechanism(epsilon)
        assert privacy.spent(epsilon) == meas.map(1) == pytest.approx(epsilon)
        assert meas.check(1, epsilon) and not meas.check(1, epsilon * 0.99)
        assert meas.map(2) == pytest.approx(2 * epsilon)  # two people moved: twice the loss


@pytest.mark.parametrize("bad", [0, -0.5, float("nan"), float("inf"), "abc", None])
def test_bad_epsilon_is_invalid_parameter(bad):
    base = pd.Series([1, 2], index=pd.MultiIndex.from_product([["a"], ["x", "y"]], names=["piece", "d"]))
    for call in (lambda: privacy.release(base, bad), lambda: privacy.noise_scale(bad), lambda: privacy.spent(bad),
                 lambda: privacy.half_width(bad)):
        with pytest.raises(InvalidParameter) as exc:
            call()
        assert exc.value.param == "epsilon" and exc.value.http_status == 400


def test_domain_is_every_piece_times_every_category_combination():
    cells = privacy.domain(["09001", "09003", "09005"], {"sex": ["F", "M"], "age": [0, 18, 65]}, piece="tract")
    assert list(cells.names) == ["tract", "sex", "age"] and len(cells) == 18 and cells.is_unique
    with pytest.raises(InvalidParameter) as exc:
        privacy.domain(["a", "a"], {"d": [1]})
    assert exc.value.param == "piece"


def test_release_refuses_what_is_not_a_full_base_histogram():
    base = pd.Series([3, 0, 1, 2], index=pd.MultiIndex.from_product([["a", "b"], ["x", "y"]], names=["piece", "d"]))
    for bad in (base.iloc[1:], base.astype(float), base - 1, base.droplevel("d").groupby(level=0).sum()):
        with pytest.raises(InvalidParameter) as exc:
            privacy.release(bad, 1.0)
        assert exc.value.param == "base"


def test_clamping_answered_cells_biases_zeros_by_alpha_over_one_minus_alpha_squared():
    noise = noise_of(1.0)  # the noisy value of a true 0
    alpha = math.exp(-1.0)
    clamped = privacy.nonnegative(pd.Series(noise))
    assert (clamped >= 0).all() and (clamped[noise > 0] == noise[noise > 0]).all()
    assert clamped.mean() == pytest.approx(alpha / (1 - alpha**2), abs=6 * clamped.std() / math.sqrt(CELLS))


def exact_half_width(epsilon: float, cells: int, confidence: float) -> int:
    """By direct convolution of the discrete Laplace PMF (support truncated where its mass is < 1e-15)."""
    alpha = math.exp(-epsilon)
    k = np.arange(-int(40 / epsilon), int(40 / epsilon) + 1)
    pmf = one = (1 - alpha) / (1 + alpha) * alpha ** np.abs(k)
    for _ in range(cells - 1):
        pmf = np.convolve(pmf, one)
    centre = len(pmf) // 2
    return next(h for h in range(centre) if pmf[centre - h : centre + h + 1].sum() >= confidence)


def test_half_width_is_exact_for_one_cell_and_for_sums():
    epsilon = 0.5
    alpha = math.exp(-epsilon)
    h = privacy.half_width(epsilon, 1, 0.90)
    assert h == 5  # smallest h with P(|noise| > h) = 2α^(h+1)/(1+α) <= 0.10
    assert 2 * alpha ** (h + 1) / (1 + alpha) <= 0.10 < 2 * alpha**h / (1 + alpha)
    for eps, cells, confidence in ((0.5, 1, 0.95), (1.0, 2, 0.90), (1.0, 3, 0.95), (2.0, 5, 0.90), (0.3, 12, 0.80),
                                   (4.0, 2, 0.90)):
        assert privacy.half_width(eps, cells, confidence) == exact_half_width(eps, cells, confidence)

    noise = noise_of(epsilon)  # and the drawn noise agrees
    for width in (h, h - 1):
        inside = 1 - 2 * alpha ** (width + 1) / (1 + alpha)  # 0.938 and 0.898
        assert (np.abs(noise) <= width).mean() == pytest.approx(inside, abs=6 * math.sqrt(0.09 / CELLS))
    sums = noise.reshape(-1, 25).sum(axis=1)  # table cells summing 25 base cells
    wide = privacy.half_width(epsilon, 25, 0.90)
    se = math.sqrt(0.09 / len(sums))
    assert (np.abs(sums) <= wide).mean() >= 0.90 - 5 * se and (np.abs(sums) <= wide - 2).mean() < 0.90 + 5 * se
    normal = 1.6449 * math.sqrt(100_000 * privacy.variance(0.1))  # many cells: the normal limit
    assert privacy.half_width(0.1, 100_000) == pytest.approx(normal, rel=1e-3)
    for name, kwargs in (("cells", {"cells": 0}), ("cells", {"cells": 2.5}), ("cells", {"cells": 1.0}),
                         ("confidence", {"confidence": 1.0})):
        with pytest.raises(InvalidParameter) as exc:
            privacy.half_width(epsilon, **kwargs)
        assert exc.value.param == name


def test_serialisation_round_trip_is_exact_and_compact():
    cells = privacy.domain([f"09{n:03d}" for n in range(1, 201)], {"sex": ["F", "M"], "age": [0, 18, 65, 85]})
    base = pd.Series(np.random.default_rng(5).integers(0, 30, len(cells)), index=cells)
    noisy = privacy.release(base, 1.0)
    payload = privacy.to_bytes(noisy)
    assert isinstance(payload, bytes) and payload[:4] == b"PAR1"
    assert len(payload) < 4 * len(noisy)  # well under the 8 bytes of a raw int64 per cell
    back = privacy.from_bytes(payload)
    pd.testing.assert_series_equal(back, noisy)
    assert list(back.index.names) == ["piece", "sex", "age"] and back.index.get_level_values("age").dtype == np.int64

