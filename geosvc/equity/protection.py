"""Disclosure control applied to the equity answers (methods §4), on top of :mod:`~geosvc.equity.suppression`.

A place × group table (exposure, access) gets: rounding first for caller-drawn zones (so the
threshold is applied to what is published, rates recomputed from the rounded counts), then primary, complementary (groups of a place +
its total; places + the overall row) and derived suppression, with rates and comparisons withheld
when their own counts or their reference row's counts are. Per-place summaries (the weighted
Index of Disparity) are withheld when any group value they are computed from is.

Every null value carries a reason code in ``<column>_suppressed``: a disclosure code of
:mod:`~geosvc.equity.suppression`, or one of :data:`NULL_REASONS` (:func:`explain_nulls`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geosvc.equity import disparity
from geosvc.equity.constants import ALL_PLACES, REST, TOTAL
from geosvc.equity.exposure import COMPARISONS
from geosvc.equity.moe import coefficient_of_variation, standard_error
from geosvc.equity.suppression import DERIVED, additive_lines, apply_disclosure_control

INLINE_MIN_POPULATION = 250
"""Minimum population of a caller-drawn zone (per place) before any of its counts is published."""
INLINE_ROUNDING = 5
"""Counts from caller-drawn zones are rounded to a multiple of this before suppression."""
UNSTABLE = "rates with CV > 30% carry use_caution = true; CV > 40% have reliability 'low'"
MISSING_INPUT = "missing_input"
"""A unit the value is computed from has no value for the group (missing stays missing, never 0)."""
IS_REFERENCE = "is_reference"
"""A comparison of the reference row with itself."""
NO_MARGIN = "no_margin_of_error"
"""An MOE, interval or CV whose inputs carry no margin of error (or event count)."""
UNDEFINED = "undefined"
"""A ratio with a zero denominator: nobody in the place or group, nobody exposed, or a reference rate of 0."""
NO_DENOMINATOR = "no_denominator"
"""A rate whose group the population layer carries no count of (e.g. race × sex from race-only counts)."""
NULL_REASONS = (MISSING_INPUT, IS_REFERENCE, NO_MARGIN, UNDEFINED, NO_DENOMINATOR)
_UNCERTAINTY = ("_moe", "_low", "_high")


def reference_rows(table: pd.DataFrame, reference: str) -> pd.Series:
    """Per row, the label of the row of the same place it is compared with (NA for the reference itself)."""
    target = TOTAL if reference in (TOTAL, REST) else reference
    is_target = (table["group"] == target).to_numpy()
    row_of_place = pd.Series(table.index[is_target], index=table["place_id"].to_numpy()[is_target])
    rows = pd.Series(table["place_id"].map(row_of_place).to_numpy(), index=table.index, dtype="Int64")
    rows[is_target] = pd.NA
    return rows


def rerate(table: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Recompute shares, rates and RR/RD from (rounded) counts so derived values reveal no more than counts."""
    t = table.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        t["share"] = np.where(t["population"] > 0, t["exposed"] / t["population"], np.nan)
    t["rate_per_1000"] = 1000 * t["share"]
    t["cv"] = coefficient_of_variation(t["share"], t["share_moe"])
    se = standard_error(t["share_moe"].to_numpy(float))
    ref = reference_rows(t, reference).fillna(-1).to_numpy(int)
    has = ref >= 0
    at = np.where(has, ref, 0)
    if reference == REST:
        total = t.iloc[at]
        ref_share = disparity.rest_rate(t["exposed"], t["population"], total["exposed"], total["population"])
    else:
        ref_share = t["share"].to_numpy(float)[at]
    compared = disparity.compare(t["share"].to_numpy(float), ref_share, se, se[at], itself=~has, scale=1000,
                                 names=COMPARISONS)
    return t.assign(**compared)


def structure(table: pd.DataFrame, reference: str, counts: tuple[str, ...]) -> tuple[pd.DataFrame, list]:
    """The table with a ``reference_row`` column, and its additive lines (both independent of k).

    Computed once per unprotected table, so a request that changes only ``k`` reuses them.
    """
    table = table.reset_index(drop=True)
    table["reference_row"] = reference_rows(table, reference)
    lines = additive_lines(table, place="place_id", group="group", total_group=TOTAL, columns=list(counts),
                           overall_place=ALL_PLACES)
    return table, lines


def protect_place_table(
    table: pd.DataFrame, *, k: int, k_floor: int, reference: str, inline: bool,
    counts: tuple[str, ...] = ("population", "exposed"), derived: dict[str, list[str]] | None = None,
    compared: list[str] | None = None, lines: list | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Disclosure control for a place × group table; returns the protected table and ``protections``.

    Parameters
    ----------
    table : DataFrame
        Columns ``place_id``, ``group`` (with ``total`` rows), the ``counts`` and derived columns.
    k, k_floor : int
        Threshold and its configured floor.
    reference : str
        Reference group of the comparisons (``total``, ``rest`` or a group id).
    inline : bool
        Caller-drawn zone: round counts, recompute rates from them, enforce a minimum population.
    counts : tuple of str
        Count columns (``population`` is the place-group population, ``exposed`` the zone count).
    derived : dict, optional
        Derived column -> count columns it is computed from (default: every other numeric column
        derived from all counts).
    compared : list of str, optional
        Derived columns that also depend on the reference row (default: RR/RD columns present).
    lines : list, optional
        Additive lines of ``table`` as returned (with the table) by :func:`structure`.
    """
    if lines is None:
        table, lines = structure(table, reference, counts)
    else:
        table = table.copy()
    if derived is None:
        skip = {*counts, "place_id", "place_name", "group", "group_label"}
        skip.add("reference_row")
        derived = {c: list(counts) for c in table.columns
                   if c not in skip and pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])}
    if compared is None:
        compared = [c for c in COMPARISONS if c in derived]
    extra = {}
    if inline:
        zone_population = table["exposed"].where(table["group"] == TOTAL).groupby(table["place_id"]).transform("max")
        table["zone_population"] = zone_population.fillna(0)
        extra = {"min_population": INLINE_MIN_POPULATION, "place_population": "zone_population",
                 "rounding_base": INLINE_ROUNDING, "recompute": lambda t: rerate(t, reference)}
    out, protections = apply_disclosure_control(
        table, count_columns=list(counts), k=k, k_floor=k_floor, derived_columns=derived, lines=lines,
        reference="reference_row", compared_columns=compared, **extra,
    )
    out = out.drop(columns=["reference_row", "zone_population"], errors="ignore")
    summary = protections.to_dict()
    if inline:
        summary["note"] = ("caller-drawn zone: counts rounded to a multiple of "
                           f"{INLINE_ROUNDING} before suppression, rates recomputed from the rounded counts, "
                           f"places whose zone holds fewer than {INLINE_MIN_POPULATION} people withheld")
    summary["unstable_rates"] = UNSTABLE
    out = explain_nulls(out, reference=reference, compared=compared, population=counts[0])
    return _flags_for_withheld(out), summary


def explain_nulls(rows: pd.DataFrame, *, reference: str, compared: list[str], population: str) -> pd.DataFrame:
    """Give every null value without a disclosure reason the reason it is null (:data:`NULL_REASONS`).

    In order: the row's ``population`` is missing (:data:`MISSING_INPUT`); a comparison on the
    reference row itself (:data:`IS_REFERENCE`); an MOE / interval / CV while the estimate exists
    (:data:`NO_MARGIN`); anything else is a ratio over zero (:data:`UNDEFINED`).

    >>> t = pd.DataFrame({"group": ["total", "a", "b"], "population": [10.0, np.nan, 0.0],
    ...                   "share": [0.5, np.nan, np.nan], "share_moe": [np.nan, np.nan, np.nan],
    ...                   "rr": [np.nan, np.nan, np.nan]})
    >>> t = t.assign(**{f"{c}_suppressed": None for c in ("population", "share", "share_moe", "rr")})
    >>> out = explain_nulls(t, reference="total", compared=["rr"], population="population")
    >>> out[["share_suppressed", "share_moe_suppressed", "rr_suppressed"]].values.tolist()
    [[None, 'no_margin_of_error', 'is_reference'], ['missing_input', 'missing_input', 'missing_input'], ['undefined', 'undefined', 'undefined']]
    """
    out = rows.copy()
    missing = out[population].isna().to_numpy()
    itself = (out["group"] == (TOTAL if reference in (TOTAL, REST) else reference)).to_numpy()
    for column in [c for c in out.columns if f"{c}_suppressed" in out.columns]:
        reason = out[f"{column}_suppressed"].astype(object)
        unexplained = (out[column].isna() & reason.isna()).to_numpy()
        if not unexplained.any():
            continue
        estimate = column.removesuffix("_moe") if column.endswith("_moe") else None
        if column.endswith(("_low", "_high")):
            estimate = column.rsplit("_", 1)[0]
        if column == "cv":
            estimate = "share"
        has_estimate = (out[estimate].notna().to_numpy() if estimate in out.columns
                        else np.zeros(len(out), bool))
        code = np.select(
            [missing, itself & (column in compared),
             has_estimate & (column.endswith(_UNCERTAINTY) or column == "cv")],
            [MISSING_INPUT, IS_REFERENCE, NO_MARGIN], UNDEFINED).astype(object)
        out[f"{column}_suppressed"] = reason.where(~unexplained, pd.Series(code, index=out.index))
    return out


def _flags_for_withheld(out: pd.DataFrame) -> pd.DataFrame:
    """Reliability flags describe a value: when the value is withheld, so is its flag."""
    if "share_suppressed" in out:
        hidden = out["share_suppressed"].notna()
        for column in ("reliability", "use_caution"):
            if column in out:
                out[column] = out[column].astype(object).where(~hidden, None)
    return out


def protect_place_summary(summary: pd.DataFrame, rows: pd.DataFrame, column: str, inputs: str) -> pd.DataFrame:
    """Withhold a per-place value computed from group values when any of those (``inputs``) is withheld;
    a null that is not withheld gets its reason (:data:`MISSING_INPUT` or :data:`UNDEFINED`)."""
    hidden = rows[f"{inputs}_suppressed"].notna().groupby(rows["place_id"]).any()
    hidden = hidden.reindex(summary.index, fill_value=False).to_numpy()
    out = summary.copy()
    missing = rows["population"].isna().groupby(rows["place_id"]).any().reindex(summary.index, fill_value=False)
    unexplained = out[column].isna().to_numpy() & ~hidden  # e.g. nobody exposed: the overall rate is 0
    out[f"{column}_suppressed"] = np.where(hidden, DERIVED, np.where(
        unexplained, np.where(missing.to_numpy(), MISSING_INPUT, UNDEFINED), None))
    out.loc[hidden, column] = np.nan
    return out
