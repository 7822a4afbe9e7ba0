"""ACS margins of error (methods §3; ACS General Handbook 2018, ch. 8).

ACS MOEs are 90% margins: SE = MOE / 1.645 and CV = SE / estimate. All functions take array-likes,
broadcast like numpy and return float arrays (or floats for scalar input); NaN stays NaN.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

Z90 = 1.645
"""z-value of the ACS 90% margin of error."""

CV_HIGH = 0.12
CV_CAUTION = 0.30
CV_UNRELIABLE = 0.40


def _out(x: np.ndarray):
    return x.item() if x.ndim == 0 else x


def standard_error(moe: ArrayLike, z: float = Z90) -> np.ndarray:
    """Standard error from a margin of error.

    Examples
    --------
    >>> round(standard_error(1.645), 6)
    1.0
    """
    return _out(np.asarray(moe, dtype=float) / z)


def coefficient_of_variation(estimate: ArrayLike, moe: ArrayLike, z: float = Z90) -> np.ndarray:
    """CV = SE / estimate as a fraction (NaN where the estimate is 0 or missing).

    Examples
    --------
    >>> coefficient_of_variation([1000, 100, 0], [164.5, 82.25, 10]).round(3).tolist()
    [0.1, 0.5, nan]
    """
    est = np.asarray(estimate, dtype=float)
    safe = np.where(est == 0, np.nan, est)
    return _out(np.abs(np.asarray(moe, dtype=float) / z / safe))


def reliability(cv: ArrayLike) -> np.ndarray:
    """Reliability label per CV: ``high`` (≤ 12%), ``medium`` (12–40%), ``low`` (> 40%), ``None`` if NaN.

    Examples
    --------
    >>> reliability([0.05, 0.12, 0.3, 0.41, float("nan")]).tolist()
    ['high', 'high', 'medium', 'low', None]
    """
    cv = np.asarray(cv, dtype=float)
    label = np.where(cv <= CV_HIGH, "high", np.where(cv <= CV_UNRELIABLE, "medium", "low")).astype(object)
    label[np.isnan(cv)] = None
    return label


def use_caution(cv: ArrayLike) -> np.ndarray:
    """True where CV > 30% ("use with caution").

    Examples
    --------
    >>> use_caution([0.3, 0.31]).tolist()
    [False, True]
    """
    return np.asarray(cv, dtype=float) > CV_CAUTION


def moe_sum(estimates: ArrayLike, moes: ArrayLike, axis: int = -1) -> np.ndarray:
    """MOE of a sum (or difference) of estimates along ``axis``: √Σ MOE².

    Where several estimates are zero, only the largest of their MOEs is included (once).

    Examples
    --------
    ACS handbook: 135,173 ± 3,860 + 43,104 ± 2,642 + 24,842 ± 1,957.

    >>> round(moe_sum([135173, 43104, 24842], [3860, 2642, 1957]), 2)
    5070.46

    Zero estimates: only the largest zero-estimate MOE (30) counts.

    >>> round(moe_sum([0, 0, 50], [20, 30, 40]), 2)
    50.0
    """
    est = np.asarray(estimates, dtype=float)
    moe = np.asarray(moes, dtype=float)
    est, moe = np.broadcast_arrays(est, moe)
    zero = est == 0
    nonzero_sq = np.where(zero, 0.0, moe**2).sum(axis=axis)
    zero_max = np.where(zero, moe, 0.0).max(axis=axis)
    return _out(np.sqrt(nonzero_sq + zero_max**2))


def moe_ratio(numerator: ArrayLike, denominator: ArrayLike, moe_numerator: ArrayLike,
              moe_denominator: ArrayLike) -> np.ndarray:
    """MOE of a ratio R = X / Y where X is not a subset of Y: √(MOE_X² + R²·MOE_Y²) / Y.

    Examples
    --------
    ACS handbook: 226,840 (MOE from 4,222, 2,819, 2,259) over 203,119 ± 5,070.46.

    >>> x_moe = moe_sum([1, 1, 1], [4222, 2819, 2259])
    >>> round(moe_ratio(226840, 203119, x_moe, 5070.46), 3)
    0.039
    """
    x, y = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    mx, my = np.asarray(moe_numerator, dtype=float), np.asarray(moe_denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = x / y
        return _out(np.sqrt(mx**2 + r**2 * my**2) / y)


def moe_proportion(numerator: ArrayLike, denominator: ArrayLike, moe_numerator: ArrayLike,
                   moe_denominator: ArrayLike) -> np.ndarray:
    """MOE of a proportion p = X / Y with X ⊂ Y: √(MOE_X² − p²·MOE_Y²) / Y.

    Where the radicand is negative, the ratio formula (:func:`moe_ratio`) is used instead.

    Examples
    --------
    ACS handbook: 203,119 ± 5,070.46 over 630,498 ± 831.1.

    >>> round(203119 / 630498, 3), round(moe_proportion(203119, 630498, 5070.46, 831.1), 4)
    (0.322, 0.008)

    Negative radicand (p = 0.5, MOE_Y large): falls back to the ratio formula.

    >>> float(moe_proportion(50, 100, 5, 20)) == float(moe_ratio(50, 100, 5, 20))
    True
    """
    x, y = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    mx, my = np.asarray(moe_numerator, dtype=float), np.asarray(moe_denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / y
        radicand = mx**2 - p**2 * my**2
        radicand = np.where(radicand < 0, mx**2 + p**2 * my**2, radicand)
        return _out(np.sqrt(radicand) / y)


def moe_product(x: ArrayLike, y: ArrayLike, moe_x: ArrayLike, moe_y: ArrayLike) -> np.ndarray:
    """MOE of a product X·Y: √(X²·MOE_Y² + Y²·MOE_X²).

    Examples
    --------
    ACS handbook: 74,506,512 ± 228,238 × 0.824 ± 0.001.

    >>> round(moe_product(74506512, 0.824, 228238, 0.001))
    202289
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    mx, my = np.asarray(moe_x, dtype=float), np.asarray(moe_y, dtype=float)
    return _out(np.sqrt(x**2 * my**2 + y**2 * mx**2))


def moe_areal(weights, moes: ArrayLike, estimates: ArrayLike | None = None) -> np.ndarray:
    """Approximate MOE of areally weighted sums: MOE_j ≈ √Σ_i (w_ij·MOE_i)² (label it approximate).

    With ``estimates``, the Census rule for sums of several zero estimates applies: of the sources
    whose estimate is 0, only the largest ``w_ij·MOE_i`` is counted, once (as :func:`moe_sum`).
    A missing (NaN) MOE makes every target it has weight in missing.

    Parameters
    ----------
    weights : array or scipy sparse array, shape (n_targets, n_sources)
        Fixed weights w_ij (e.g. a_ij / a_i).
    moes : array, shape (n_sources,) or (n_sources, n_groups)
        MOEs of the source estimates.
    estimates : array, optional
        The source estimates (same shape as ``moes``).

    Returns
    -------
    ndarray, shape (n_targets,) or (n_targets, n_groups)

    Examples
    --------
    Toy exposure (§7): weights 0.25 and 0.75 of tracts with Hispanic MOEs 80 and 90.

    >>> moe_areal([[0.25, 0.75]], [80, 90]).round(2).tolist()
    [70.4]

    Three whole tracts, two of them zero estimates: the larger zero MOE (30) counts once.

    >>> moe_areal([[1, 1, 1]], [20, 30, 40], estimates=[0, 0, 50]).tolist()
    [50.0]
    """
    w = sparse.csr_array(weights, dtype=float)
    m = np.asarray(moes, dtype=float)
    missing = np.isnan(m)
    m = np.where(missing, 0.0, m)
    zero = np.zeros(m.shape, bool) if estimates is None else np.asarray(estimates, dtype=float) == 0
    squared = w.multiply(w) @ np.where(zero, 0.0, m) ** 2
    if zero.any():
        columns = zero.reshape(len(m), -1).T
        values = m.reshape(len(m), -1).T
        largest = np.column_stack([
            (w @ sparse.diags_array(np.where(z, v, 0.0))).max(axis=1).toarray().ravel() if z.any()
            else np.zeros(w.shape[0]) for z, v in zip(columns, values)
        ])
        squared = squared + largest.reshape(squared.shape) ** 2
    out = np.sqrt(squared)
    if missing.any():
        touched = (w.astype(bool).astype(float) @ missing.astype(float)) > 0
        out = np.where(touched, np.nan, out)
    return out


def moe_areal_share(weights, base_weights, estimates: ArrayLike, moes: ArrayLike) -> np.ndarray:
    """MOE of a share p_j = Σ_i u_ij N_i / Σ_i v_ij N_i of areally weighted sums of one estimate.

    Numerator and denominator share the sources, so they are not independent: by the delta method
    MOE_p = √Σ_i ((u_ij − p_j·v_ij)·MOE_i)² / Σ_i v_ij N_i. (The handbook's proportion formula
    assumes nothing about the split and gives a different, approximate value.)

    Parameters
    ----------
    weights : array or scipy sparse array, shape (n_targets, n_sources)
        Numerator weights u_ij (e.g. share of unit i's area in place j and the hazard).
    base_weights : array or scipy sparse array, shape (n_targets, n_sources)
        Denominator weights v_ij (e.g. share of unit i's area in place j; all ones for whole units).
    estimates, moes : array, shape (n_sources,)
        Source estimates N_i and their MOEs.

    Returns
    -------
    ndarray, shape (n_targets,)

    Examples
    --------
    Toy exposure (§7): Hispanic 300 ± 80 and 400 ± 90, 25% and 75% in the zone → share 0.5357 ± 0.0427.

    >>> moe_areal_share([[0.25, 0.75]], [[1, 1]], [300, 400], [80, 90]).round(4).tolist()
    [0.0427]
    """
    u = sparse.csr_array(weights, dtype=float)
    v = sparse.csr_array(base_weights, dtype=float)
    n = np.asarray(estimates, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = v @ n
        p = (u @ n) / total
        d = u - sparse.diags_array(p) @ v
        return np.sqrt(d.multiply(d) @ np.asarray(moes, dtype=float) ** 2) / total
