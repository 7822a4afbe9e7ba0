"""Rates of event counts with exact (Garwood) Poisson confidence intervals (methods §2)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import chi2


def garwood_interval(count: ArrayLike, denominator: ArrayLike, confidence: float = 0.95,
                     per: float = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson interval of the rate ``per * count / denominator`` (vectorised).

    Bounds of the count: ``[χ²(α/2; 2D) / 2, χ²(1 − α/2; 2D + 2) / 2]`` with α = 1 − confidence
    (the lower bound is 0 for D = 0), divided by the denominator and scaled by ``per``.
    NaN where the count is NaN or the denominator is not positive.

    Examples
    --------
    >>> low, high = garwood_interval([0, 10, 20], [1000, 1000, 1000])
    >>> np.round(low, 3).tolist(), np.round(high, 3).tolist()
    ([0.0, 4.795, 12.217], [3.689, 18.39, 30.888])
    >>> [np.round(b, 4).tolist() for b in garwood_interval([5, np.nan, 5], [100, 100, 0], per=1)]
    [[0.0162, nan, nan], [0.1167, nan, nan]]
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    d = np.asarray(count, dtype=float)
    n = np.asarray(denominator, dtype=float)
    alpha = 1 - confidence
    valid = ~np.isnan(d) & (n > 0)
    safe_d = np.where(valid, d, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(safe_d > 0, chi2.ppf(alpha / 2, 2 * safe_d) / 2, 0.0)
        high = chi2.ppf(1 - alpha / 2, 2 * safe_d + 2) / 2
        scale = np.where(valid, per / np.where(valid, n, 1.0), np.nan)
    return low * scale, high * scale
