"""Rate comparisons and inequality indices (methods §2, §4), and the ``disparity`` operation.

Functions take array-likes and work along the last axis (groups), so one call can handle many
places at once: ``rates`` of shape ``(n_places, n_groups)`` give one index per place.
:func:`compare` is the one RR/RD computation of every equity answer.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from geosvc.equity.constants import REST, TOTAL
from geosvc.equity.moe import moe_proportion, moe_ratio, moe_sum
from geosvc.equity.report import Report
from geosvc.equity.requests import DisparityRequest
from geosvc.equity.suppression import DERIVED, resolve_k
from geosvc.errors import InvalidParameter

Z95 = 1.959963984540054
"""z-value of a two-sided 95% interval."""

UNSTABLE_EVENTS = 20
"""Rates from fewer events are flagged unstable (relative SE > 22%; NCHS)."""


class Interval(NamedTuple):
    """An estimate with the bounds of its confidence interval."""

    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def _f(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=float)


def rate_ratio(rate: ArrayLike, reference_rate: ArrayLike, se: ArrayLike, reference_se: ArrayLike,
               z: float = Z95) -> Interval:
    """Rate ratio RR = p / p_ref with the log interval exp(ln RR ± z·√((SE/p)² + (SE_ref/p_ref)²)).

    Parameters
    ----------
    rate, reference_rate : array-like
        Rates or shares of the group and of the reference.
    se, reference_se : array-like
        Their standard errors (ACS: MOE / 1.645; event counts: √D / N).
    z : float
        Normal quantile (default 95%).

    Examples
    --------
    Toy exposure (§7): shares 0.5357 (SE 0.0427/1.645) and 0.35 (SE 0.0347/1.645).

    >>> rr = rate_ratio(0.53571, 0.35, 0.042716 / 1.645, 0.034667 / 1.645)
    >>> [round(float(v), 3) for v in rr]
    [1.531, 1.315, 1.781]
    """
    p, q, s, t = _f(rate), _f(reference_rate), _f(se), _f(reference_se)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = p / q
        half = z * np.sqrt((s / p) ** 2 + (t / q) ** 2)
    return Interval(rr, rr * np.exp(-half), rr * np.exp(half))


def rate_difference(rate: ArrayLike, reference_rate: ArrayLike, se: ArrayLike, reference_se: ArrayLike,
                    z: float = Z95) -> Interval:
    """Rate difference RD = p − p_ref with the interval RD ± z·√(SE² + SE_ref²).

    Examples
    --------
    Toy exposure (§7), per 1,000:

    >>> rd = rate_difference(0.53571, 0.35, 0.042716 / 1.645, 0.034667 / 1.645)
    >>> [round(1000 * float(v), 1) for v in rd]
    [185.7, 120.2, 251.3]
    """
    p, q, s, t = _f(rate), _f(reference_rate), _f(se), _f(reference_se)
    rd = p - q
    half = z * np.sqrt(s**2 + t**2)
    return Interval(rd, rd - half, rd + half)


COMPARISONS = ("rr", "rr_low", "rr_high", "rd", "rd_low", "rd_high")
"""Columns of :func:`compare`: RR and RD, each with its 95% interval."""


def compare(rate: ArrayLike, reference_rate: ArrayLike, se: ArrayLike, reference_se: ArrayLike, *,
            itself: ArrayLike | None = None, scale: float = 1.0,
            names: tuple[str, ...] = COMPARISONS) -> dict[str, np.ndarray]:
    """RR and RD with 95% CIs of every rate against its reference: the one comparison of the service.

    ``scale`` multiplies the RD columns (e.g. 1000 for per 1,000); ``itself`` marks the rows that
    are the reference (their comparisons are NaN); ``names`` renames the six columns.

    Examples
    --------
    >>> out = compare([0.53571, 0.35], 0.35, [0.042716 / 1.645, 0.034667 / 1.645], 0.034667 / 1.645,
    ...               itself=[False, True], scale=1000)
    >>> round(float(out["rr"][0]), 3), round(float(out["rd"][0]), 1), bool(np.isnan(out["rr"][1]))
    (1.531, 185.7, True)
    """
    rr = rate_ratio(rate, reference_rate, se, reference_se)
    rd = rate_difference(rate, reference_rate, se, reference_se)
    values = [*rr, *(scale * np.asarray(v, dtype=float) for v in rd)]
    hide = np.zeros(np.shape(values[0]), bool) if itself is None else np.asarray(itself, bool)
    return {name: np.where(hide, np.nan, np.asarray(v, dtype=float)) for name, v in zip(names, values)}


def rest_rate(events: ArrayLike, population: ArrayLike, total_events: ArrayLike,
              total_population: ArrayLike) -> np.ndarray:
    """Rate of everyone else: (E_total − E) / (N_total − N); NaN where nobody else is left.

    >>> rest_rate([10, 0], [100, 400], 30, 500).tolist()
    [0.05, 0.3]
    """
    rest_population = _f(total_population) - _f(population)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rest_population > 0, (_f(total_events) - _f(events)) / rest_population, np.nan)


def poisson_se(events: ArrayLike, population: ArrayLike) -> np.ndarray:
    """Standard error √D / N of a rate D / N from an event count (no sampling frame).

    Examples
    --------
    >>> float(poisson_se(25, 1000))
    0.005
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(_f(events)) / _f(population)


def garwood_interval(events: ArrayLike, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Garwood exact Poisson interval for an event count D: [χ²(α/2; 2D)/2, χ²(1−α/2; 2D+2)/2].

    The lower bound is 0 for D = 0. Divide by the population for a rate interval.

    Examples
    --------
    >>> lo, hi = garwood_interval([10, 20, 0])
    >>> lo.round(3).tolist(), hi.round(3).tolist()
    ([4.795, 12.217, 0.0], [18.39, 30.888, 3.689])
    """
    d = _f(events)
    alpha = 1 - level
    from scipy.stats import chi2  # imported when used: scipy.stats costs ~1 s of start-up per worker

    lower = np.where(d > 0, chi2.ppf(alpha / 2, 2 * np.where(d > 0, d, 1)) / 2, 0.0)
    upper = chi2.ppf(1 - alpha / 2, 2 * d + 2) / 2
    lower = np.where(np.isnan(d), np.nan, lower)
    return lower, upper


def unstable_rate(events: ArrayLike, threshold: int = UNSTABLE_EVENTS) -> np.ndarray:
    """True where a rate rests on fewer than ``threshold`` events (missing counts are not flagged).

    Examples
    --------
    >>> unstable_rate([0, 19, 20, float("nan")]).tolist()
    [True, True, False, False]
    """
    return _f(events) < threshold


def _overall(rates: np.ndarray, weights: ArrayLike | None, overall_rate: ArrayLike | None) -> np.ndarray:
    if overall_rate is not None:
        return _f(overall_rate)
    if weights is None:
        raise ValueError("give population weights or overall_rate")
    w = _f(weights)
    return (w * rates).sum(axis=-1) / w.sum(axis=-1)


def index_of_disparity(rates: ArrayLike, weights: ArrayLike | None = None, *,
                       overall_rate: ArrayLike | None = None) -> np.ndarray:
    """Index of Disparity ID = 100 · mean_j |r_j − r_T| / r_T.

    Parameters
    ----------
    rates : array-like, shape (..., n_groups)
        Group rates.
    weights : array-like, optional
        Group populations (or shares), used to compute r_T = Σ w r / Σ w.
    overall_rate : array-like, optional
        r_T given directly (e.g. when the groups do not partition the population).

    Examples
    --------
    Chesson et al. 2017: rates from cases over populations (millions).

    >>> pop = [200, 40, 55, 20, 3]
    >>> rate = [c / p for c, p in zip([70800, 563240, 52360, 4480, 2820], pop)]
    >>> round(float(index_of_disparity(rate, pop)), 1)
    166.5
    """
    r = _f(rates)
    total = _overall(r, weights, overall_rate)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100 * np.abs(r - total[..., None]).mean(axis=-1) / total


def weighted_index_of_disparity(rates: ArrayLike, weights: ArrayLike, *,
                                overall_rate: ArrayLike | None = None) -> np.ndarray:
    """Weighted Index of Disparity 100 · Σ_j w_j |r_j − r_T| / r_T with w_j population shares.

    Examples
    --------
    >>> pop = [200, 40, 55, 20, 3]
    >>> rate = [c / p for c, p in zip([70800, 563240, 52360, 4480, 2820], pop)]
    >>> round(float(weighted_index_of_disparity(rate, pop)), 1)
    137.2
    """
    r, w = _f(rates), _f(weights)
    total = _overall(r, w, overall_rate)
    share = w / w.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100 * (share * np.abs(r - total[..., None])).sum(axis=-1) / total


def _with_shares(rates: ArrayLike, weights: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Rates and population shares (weights normalised along the last axis), broadcast together."""
    r, w = np.broadcast_arrays(_f(rates), _f(weights))
    with np.errstate(divide="ignore", invalid="ignore"):
        return r, w / w.sum(axis=-1, keepdims=True)


def gini(rates: ArrayLike, weights: ArrayLike) -> np.ndarray:
    """Population-weighted Gini = Σ_i Σ_j w_i w_j |r_i − r_j| / (2 r̄), r̄ = Σ w_j r_j.

    Examples
    --------
    >>> pop = [200, 40, 55, 20, 3]
    >>> rate = [c / p for c, p in zip([70800, 563240, 52360, 4480, 2820], pop)]
    >>> round(float(gini(rate, pop)), 3)
    0.724
    """
    r, w = _with_shares(rates, weights)
    mean = (w * r).sum(axis=-1)
    pairs = w[..., :, None] * w[..., None, :] * np.abs(r[..., :, None] - r[..., None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        return pairs.sum(axis=(-2, -1)) / (2 * mean)


def theil(rates: ArrayLike, weights: ArrayLike) -> np.ndarray:
    """Population-weighted Theil index Σ_j w_j (r_j / r̄) ln(r_j / r̄), with 0·ln 0 = 0.

    Examples
    --------
    >>> float(theil([5.0, 5.0], [1, 3]))
    0.0
    >>> round(float(theil([0.0, 2.0], [1, 1])), 4)  # = ln 2: all of it in half the population
    0.6931
    """
    r, w = _with_shares(rates, weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = r / (w * r).sum(axis=-1, keepdims=True)
        terms = np.where(rel == 0, 0.0, rel * np.log(rel))
    return (w * terms).sum(axis=-1)


def dissimilarity(group: ArrayLike, total: ArrayLike) -> np.ndarray:
    """Dissimilarity index D = ½ Σ_i |g_i / G − o_i / O| of a group against everyone else (o = t − g).

    Parameters
    ----------
    group, total : array-like, shape (..., n_units)
        Group and total populations per unit.

    Examples
    --------
    >>> round(float(dissimilarity([10, 20, 30, 40], [100, 100, 100, 100])), 5)
    0.26667
    """
    g, t = _f(group), _f(total)
    other = t - g
    with np.errstate(divide="ignore", invalid="ignore"):
        return 0.5 * np.abs(g / g.sum(axis=-1, keepdims=True)
                        - other / other.sum(axis=-1, keepdims=True)).sum(axis=-1)


def _estimate_moes(request: DisparityRequest, events: np.ndarray, population: np.ndarray) -> np.ndarray | None:
    """Proportion MOEs (events within population) of the groups and their total (the last of ``events``
    and ``population``), if every group has them; the total's MOEs by the Census sum rule."""
    given = [g.events_moe is not None for g in request.groups]
    if not any(given):
        return None
    if not all(given):
        raise InvalidParameter("give events_moe for every group or for none", param="groups")
    event_moes = np.array([g.events_moe for g in request.groups], dtype=float)
    population_moes = np.array([g.population_moe or 0.0 for g in request.groups], dtype=float)
    event_moes = np.append(event_moes, moe_sum(events[:-1], event_moes))
    population_moes = np.append(population_moes, moe_sum(population[:-1], population_moes))
    return moe_proportion(events, population, event_moes, population_moes)


def disparity_report(request: DisparityRequest, k_floor: int) -> Report:
    """The ``disparity`` operation: rates by group from events over population (or given rates),
    RR/RD against the reference and the inequality indices, under disclosure control."""
    from geosvc.equity.protection import protect_place_table  # protection compares with this module

    k = resolve_k(request.k, k_floor)
    ids = [g.id for g in request.groups]
    if len(set(ids)) != len(ids) or TOTAL in ids or REST in ids:
        raise InvalidParameter(f"group ids must be unique and not '{TOTAL}' or '{REST}'", param="groups")
    if request.reference not in (TOTAL, REST, *ids):
        raise InvalidParameter(
            f"unknown reference group '{request.reference}' (use one of {', '.join(ids)}, 'rest' or 'total')",
            param="reference",
        )
    per = request.per
    population = _f([g.population for g in request.groups])
    if (population <= 0).any():
        raise InvalidParameter("every group needs a population > 0", param="groups")
    from_events = np.array([g.events is not None for g in request.groups])
    if from_events.any() and not from_events.all():
        raise InvalidParameter("give events for every group or rates for every group, not a mix", param="groups")
    from_events = bool(from_events.all())
    # events implied by given rates are protected like counts (rate x population reveals them)
    events = _f([g.events if from_events else g.rate / per * g.population for g in request.groups])
    # rows: the groups, then their total (the additive line)
    pops, evs = np.append(population, population.sum()), np.append(events, events.sum())
    if not np.isfinite(evs).all() or not np.isfinite(pops).all():
        raise InvalidParameter("populations and events are too large to add up", param="groups")
    rates = evs / pops
    if from_events:
        se = poisson_se(evs, pops)
        low, high = garwood_interval(evs)
    else:
        se = low = high = np.full(len(pops), np.nan)
    table = pd.DataFrame({"place_id": "all", "group": [*ids, TOTAL], "population": pops, "events": evs,
                          "rate": rates * per, "rate_low": low / pops * per, "rate_high": high / pops * per,
                          "unstable": unstable_rate(evs) if from_events else False})
    estimated = _estimate_moes(request, evs, pops)
    if estimated is not None:
        table["rate_moe"] = estimated * per
    if request.reference == TOTAL:
        ref_rate, ref_se = np.full(len(pops), rates[-1]), np.full(len(pops), se[-1])
    elif request.reference == REST:
        ref_rate = rest_rate(evs, pops, evs[-1], pops[-1])
        ref_se = poisson_se(evs[-1] - evs, pops[-1] - pops)
    else:
        at = ids.index(request.reference)
        ref_rate, ref_se = np.full(len(pops), rates[at]), np.full(len(pops), se[at])
    itself = table["group"].to_numpy() == (TOTAL if request.reference in (TOTAL, REST) else request.reference)
    table = table.assign(**compare(rates, ref_rate, se, ref_se, itself=itself, scale=per))
    if estimated is not None and request.reference != REST:
        ref_moe = estimated[-1] if request.reference == TOTAL else estimated[ids.index(request.reference)]
        table["rr_moe"] = np.where(itself, np.nan, moe_ratio(rates, ref_rate, estimated, ref_moe))
    counts = ("population", "events")
    extra = [c for c in ("rate_moe", "rr_moe") if c in table]
    derived = {c: list(counts) for c in ["rate", "rate_low", "rate_high", *COMPARISONS, *extra]}
    rows, protections = protect_place_table(table, k=k, k_floor=k_floor, reference=request.reference,
                                            inline=False, counts=counts, derived=derived,
                                            compared=[*COMPARISONS, *(["rr_moe"] if "rr_moe" in table else [])])
    rows = rows.drop(columns=["place_id"])
    withheld = bool(rows["rate_suppressed"].iloc[:-1].notna().any())
    r = rates[:-1]
    summary = {
        "overall_rate": None if withheld else float(rates[-1] * per),
        "index_of_disparity": None if withheld else float(index_of_disparity(r, population)),
        "weighted_index_of_disparity": None if withheld else float(weighted_index_of_disparity(r, population)),
        "gini": None if withheld else float(gini(r, population)),
        "theil": None if withheld else float(theil(r, population)),
        "dissimilarity": None if withheld or not from_events else float(dissimilarity(events, population)),
        "suppressed": DERIVED if withheld else None,
    }
    method = {
        "name": "disparity indices",
        "rates": f"rate = events / population * {per:g}" if from_events
                 else f"rates given per {per:g}; events implied as rate x population (protected as counts)",
        "intervals": "rates: Garwood exact Poisson 95%; RR: exp(ln RR ± 1.96·sqrt((SE1/p1)^2 + (SE2/p2)^2)); "
                     "RD: ± 1.96·sqrt(SE1^2 + SE2^2), SE = sqrt(D)/N" if from_events
                     else "no intervals: rates were given without event counts",
        "indices": "ID = 100·mean|r_j − r_T|/r_T; weighted ID = 100·Σ w_j|r_j − r_T|/r_T; Gini and Theil "
                   "population-weighted (methods §2); dissimilarity D = ½ Σ_j |e_j/E − o_j/O| of the people with "
                   "the event against those without (o = population − events) over the groups",
        "margins_of_error": "with events_moe: rate MOE by the ACS proportion formula (events within the "
                            "population), RR MOE by the ratio formula (90%)" if estimated is not None else None,
        "reference": request.reference,
        "unstable": "rates from fewer than 20 events are flagged unstable",
    }
    return Report(operation="disparity", rows=rows, count_columns=list(counts), k=k, method=method,
                  protections=protections, parameters=request.model_dump(mode="json", exclude_none=True),
                  summary=summary, crs={})
