"""Garwood exact Poisson intervals of rates (methods §2 and §7 reference values)."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from geosvc.equity import rates
from geosvc.equity.rates import garwood_interval


def test_reference_values():
    low, high = garwood_interval(np.array([0, 1, 10, 20]), np.full(4, 1000.0))
    assert low[0] == 0 and high[0] == pytest.approx(3.689, abs=5e-4)  # the "rule of 3.69" for 0 events
    assert (low[1], high[1]) == (pytest.approx(0.0253, abs=5e-5), pytest.approx(5.572, abs=5e-4))
    assert (low[2], high[2]) == (pytest.approx(4.795, abs=5e-4), pytest.approx(18.390, abs=5e-4))
    assert (low[3], high[3]) == (pytest.approx(12.217, abs=5e-4), pytest.approx(30.888, abs=5e-4))


def test_rate_scaling_confidence_and_missing():
    low, high = garwood_interval([10, 10], [5000, 5000], per=100_000)
    assert low[0] == pytest.approx(4.795 * 20, rel=1e-4) and high[1] == pytest.approx(18.390 * 20, rel=1e-4)
    l90, h90 = garwood_interval(10, 1000, confidence=0.90)
    assert 4.795 < l90 < 10 < h90 < 18.39 and l90 == pytest.approx(5.425, abs=5e-3)
    low, high = garwood_interval([np.nan, 3, 3], [100, 0, -5])
    assert np.isnan(low).all() and np.isnan(high).all()
    with pytest.raises(ValueError):
        garwood_interval(1, 1, confidence=1.5)


def test_docstring_examples_run():
    result = doctest.testmod(rates)
    assert result.attempted >= 2 and result.failed == 0
