"""Who lives in a hazard zone, by group and place: the exposure table (methods §1–§3).

Population units (tracts) carry group counts. For each place j (or the whole state) and group g:

- ``population_jg = Σ_i N_ig · area(i ∩ place_j) / area(i)`` — the same areal weighting as exposure,
  against the place polygon (for the whole state: ``Σ_i N_ig``, the state being the union of units);
- ``exposed_jg = Σ_i N_ig · area(i ∩ place_j ∩ hazard) / area(i)`` (``allocate_total=False``);
  place ∩ hazard is never built as polygons: :func:`geosvc.equity.areal.area_weights` with
  ``within=hazard`` gives the same weights with less GEOS work;
- share = exposed / population, rate per 1,000; MOEs where the units carry them: counts
  ``√Σ (w·MOE)²`` (approximate), the share by the delta method over the shared sources
  (:func:`geosvc.equity.moe.moe_areal_share`), CV and reliability of the share;
- RR and RD against the reference (a group, ``"rest"`` = everyone else in the place, or
  ``"total"``) with 95% CIs (:mod:`geosvc.equity.disparity`); CIs are NaN without MOEs;
- per place, the weighted Index of Disparity over the groups (overall rate = the place's total share).

Examples
--------
The methods §7 toy (EPSG:26918; areas are taken in EPSG:5070, as always):

>>> import geopandas as gpd
>>> from shapely import box
>>> units = gpd.GeoDataFrame(
...     {"total": [1000.0, 1000.0], "hispanic": [300.0, 400.0], "hispanic_moe": [80.0, 90.0],
...      "nh_white": [600.0, 150.0], "nh_white_moe": [100.0, 60.0]},
...     geometry=[box(0, 0, 2000, 1000), box(2000, 0, 4000, 1000)], crs="EPSG:26918")
>>> zone = gpd.GeoSeries([box(1500, 0, 3500, 1000)], crs="EPSG:26918")
>>> result = exposure_table(units, zone, groups=["hispanic", "nh_white"], reference="nh_white")
>>> row = result.table.set_index("group").loc["hispanic"]
>>> [round(float(row[c]), n) for c, n in [("exposed", 1), ("exposed_moe", 2), ("share", 4), ("rr", 3)]]
[375.0, 70.4, 0.5357, 1.531]
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from geosvc.equity import areal, disparity, moe
from geosvc.equity.constants import REST, STATE, TOTAL
from geosvc.errors import InvalidParameter

METHOD = (
    f"{areal.METHOD}; population per place weighted the same way against the place polygon; "
    "MOEs approximate (fixed weights; of several zero estimates only the largest MOE counts, once), "
    "share MOE by the delta method"
)
STUDY_AREA = ("denominator a_i = the area of unit i inside the study area (the land covered by the places: "
              "sum_j area(i ∩ place_j)), so units reaching over water give all their people to the places")
WHOLE_UNIT = "denominator a_i = the whole area of unit i (no places: the units are the study area)"
COMPARISONS = ("rr", "rr_low", "rr_high", "rd_per_1000", "rd_low", "rd_high")
"""Comparison columns of the exposure and access tables (RD per 1,000)."""


@dataclass(frozen=True)
class ExposureResult:
    """The exposure table and its per-place summary.

    Attributes
    ----------
    table : DataFrame
        One row per place × group (``total`` first): ``place_id``, ``place_name``, ``group``,
        ``population``, ``population_moe``, ``exposed``, ``exposed_moe``, ``share``, ``share_moe``,
        ``rate_per_1000``, ``cv``, ``reliability``, ``use_caution``, ``rr``, ``rr_low``, ``rr_high``,
        ``rd_per_1000``, ``rd_low``, ``rd_high``.
    places : DataFrame
        Per place: ``weighted_index_of_disparity`` over the groups.
    method : str
    """

    table: pd.DataFrame
    places: pd.DataFrame
    method: str = METHOD
    outside: float = 0.0  # people of units with no area in any place (so in no place's row)


def exposure_table(
    units: gpd.GeoDataFrame,
    hazard: gpd.GeoDataFrame | gpd.GeoSeries,
    places: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    *,
    groups: list[str],
    reference: str = TOTAL,
    place_name: str | None = None,
    cache: areal.WeightCache | None = None,
    keys: dict[str, str] | None = None,
    study_area: bool = True,
    overall: str | None = None,
) -> ExposureResult:
    """Population, exposure, shares and disparities by place × group.

    Parameters
    ----------
    units : GeoDataFrame
        Polygons with a ``total`` column, one column per group, and optional ``<column>_moe``
        90% margins (see :meth:`geosvc.equity.population.GroupCounts.to_units`).
    hazard : GeoDataFrame or GeoSeries
        Hazard polygons (their union is the zone); any CRS. Outside the units: zero exposure.
    places : GeoDataFrame or GeoSeries, optional
        Place polygons indexed by place id; ``None`` = the whole state (one row per group).
    groups : list of str
        Group columns to report (``total`` is always reported).
    reference : str
        A group column, ``"rest"`` (everyone in the place not in the group) or ``"total"``.
    place_name : str, optional
        Column of ``places`` holding a display name (default: the place id).
    cache : WeightCache, optional
        Overlay weights cache; ``keys`` (``units``, ``places``, ``hazard``: layer id + version
        strings) name the inputs, otherwise they are hashed.
    study_area : bool
        With places: divide by each unit's area inside the places (:func:`~geosvc.equity.areal.over_study_area`,
        methods §1) rather than its whole area (tobler's denominator).
    overall : str, optional
        With places: add a last place with this id holding all of them (their additive line's total).

    Returns
    -------
    ExposureResult

    Raises
    ------
    InvalidParameter
        Unknown group or reference, a hazard or place that is not polygonal, missing CRS,
        overlapping units.
    """
    groups = _check_groups(units, groups, reference)
    columns = [TOTAL, *groups]
    counts = np.column_stack([pd.to_numeric(units[c], errors="coerce").to_numpy(float) for c in columns])
    errors = np.column_stack([
        pd.to_numeric(units[f"{c}_moe"], errors="coerce").to_numpy(float) if f"{c}_moe" in units.columns
        else np.full(len(units), np.nan) for c in columns
    ])
    has_moe = np.array([f"{c}_moe" in units.columns for c in columns])
    keys = keys or {}
    _check_hazard(hazard)
    if places is None:
        exposed_w = areal.area_weights(units, None, within=hazard, cache=cache,
                                       key=(keys.get("units"), areal.ALL, keys.get("hazard")))
        base = sparse.csr_matrix(np.ones((len(units), 1)))
        index = pd.Index([STATE], name="place_id")
        names = pd.Series([STATE], index=index)
        exposed = exposed_w.matrix
        outside = 0.0
    else:
        base = areal.area_weights(units, places, cache=cache, key=(keys.get("units"), keys.get("places"), "none")).matrix
        exposed = areal.area_weights(
            units, places, within=hazard, cache=cache, check_overlaps=False,
            key=(keys.get("units"), keys.get("places"), keys.get("hazard")),
        ).matrix
        index, names = places.index, place_labels(places, place_name)
        if study_area:
            base, exposed = areal.over_study_area(base, exposed)
        outside = float(np.nansum(counts[:, 0] * (1 - np.asarray(base.sum(axis=1)).ravel())))
        if overall is not None:
            base, exposed = areal.with_overall(base), areal.with_overall(exposed)
            index = index.append(pd.Index([overall])).rename(index.name)
            names = pd.concat([names, pd.Series(["all places"], index=[overall])])

    measures = _measures(exposed, base, counts, errors, has_moe)
    ref = _reference(measures, columns, reference, exposed, base, counts, errors, has_moe)
    table = _table(measures, ref, columns, reference, index, names)
    method = f"{METHOD}; {STUDY_AREA if places is not None and study_area else WHOLE_UNIT}"
    return ExposureResult(table=table, places=_disparity(measures, columns, index), method=method,
                          outside=max(outside, 0.0))


def place_labels(places: gpd.GeoDataFrame | gpd.GeoSeries, place_name: str | None) -> pd.Series:
    """Display name per place id: the ``place_name`` column, or the id itself."""
    if place_name is None:
        return pd.Series(places.index.astype(str), index=places.index)
    if not isinstance(places, gpd.GeoDataFrame) or place_name not in places.columns:
        raise InvalidParameter(f"the places have no field '{place_name}'", param="place_name")
    return places[place_name].astype(str)


def place_group_frame(index: pd.Index, names: pd.Series, columns: list[str], values: dict) -> pd.DataFrame:
    """A long place × group table: ``place_id``, ``place_name``, ``group``, then ``values``
    (each places × columns, raveled place by place)."""
    return pd.DataFrame({
        "place_id": np.repeat(index.to_numpy(), len(columns)),
        "place_name": np.repeat(names.reindex(index).to_numpy(), len(columns)),
        "group": np.tile(columns, len(index)),
        **{name: np.asarray(value).ravel() for name, value in values.items()},
    })


def _check_groups(units: gpd.GeoDataFrame, groups: list[str], reference: str) -> list[str]:
    groups = [g for g in dict.fromkeys(groups) if g != TOTAL]
    unknown = [g for g in [TOTAL, *groups] if g not in units.columns]
    if unknown:
        raise InvalidParameter(f"unknown group {', '.join(map(repr, unknown))}", param="groups")
    if reference not in (TOTAL, REST):
        if reference not in units.columns:
            raise InvalidParameter(
                f"unknown reference group {reference!r} (use a group, 'rest' or 'total')", param="reference"
            )
        if reference not in groups:
            groups.append(reference)
    return groups


def _check_hazard(hazard: gpd.GeoDataFrame | gpd.GeoSeries) -> None:
    """A hazard is polygons with a CRS (checked on the input, before any reprojection)."""
    if hazard.crs is None:
        raise InvalidParameter("has no CRS", param="hazard")
    kinds = set(hazard.geometry.geom_type.dropna()) - {"Polygon", "MultiPolygon"}
    if kinds:
        raise InvalidParameter(f"must be polygons (got {', '.join(sorted(kinds))})", param="hazard")


def _measures(exposed_w, base, counts: np.ndarray, errors: np.ndarray, has_moe: np.ndarray) -> dict[str, np.ndarray]:
    """Places × columns: population, exposed, their MOEs, share and its MOE (delta method)."""
    population, exposed = areal.weighted_sum(base, counts), areal.weighted_sum(exposed_w, counts)
    errors = np.where(has_moe, errors, 0.0)
    blank = np.where(has_moe, 0.0, np.nan)  # NaN for columns without MOE
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(population > 0, exposed / population, np.nan)
    return {
        "population": population,
        "population_moe": moe.moe_areal(base.T, errors, counts) + blank,
        "exposed": exposed,
        "exposed_moe": moe.moe_areal(exposed_w.T, errors, counts) + blank,
        "share": share,
        "share_moe": _share_moe(exposed_w, base, counts, errors, has_moe),
    }


def _share_moe(exposed_w, base, counts: np.ndarray, errors: np.ndarray, has_moe: np.ndarray) -> np.ndarray:
    out = np.full((exposed_w.shape[1], counts.shape[1]), np.nan)
    for k in np.flatnonzero(has_moe):
        out[:, k] = moe.moe_areal_share(exposed_w.T, base.T, counts[:, k], errors[:, k])
    return out


def _reference(measures, columns, reference, exposed_w, base, counts, errors, has_moe) -> tuple[np.ndarray, np.ndarray]:
    """Share and SE of each row's reference: a column of its place, or everyone else (``rest``)."""
    if reference != REST:
        at = columns.index(reference)
        share, se = measures["share"][:, [at]], moe.standard_error(measures["share_moe"][:, [at]])
        return np.broadcast_to(share, measures["share"].shape), np.broadcast_to(se, measures["share"].shape)
    rest = counts[:, [0]] - counts
    total_errors = np.broadcast_to(np.nan_to_num(errors[:, [0]]), errors.shape)  # the total's MOE counts 0 if absent
    rest_errors = moe.moe_sum(np.stack([np.broadcast_to(counts[:, [0]], counts.shape), counts]),
                              np.stack([total_errors, errors]), axis=0)
    other = _measures(exposed_w, base, rest, rest_errors, has_moe)
    return other["share"], moe.standard_error(other["share_moe"])


def _table(measures, ref, columns, reference, index, names) -> pd.DataFrame:
    """The long place × group table, with rates, reliability and RR / RD against the reference."""
    share, se = measures["share"], moe.standard_error(measures["share_moe"])
    itself = np.broadcast_to(np.array(columns) == (TOTAL if reference == REST else reference), share.shape)
    compared = disparity.compare(share, ref[0], se, ref[1], itself=itself, scale=1000, names=COMPARISONS)
    cv = moe.coefficient_of_variation(share, measures["share_moe"])
    values = {
        **measures,
        "rate_per_1000": 1000 * share,
        "cv": cv,
        "reliability": moe.reliability(cv),
        "use_caution": moe.use_caution(cv),
        **compared,
    }
    return place_group_frame(index, names, columns, values)


def _disparity(measures, columns: list[str], index: pd.Index) -> pd.DataFrame:
    """Weighted Index of Disparity per place: groups' shares against the place's total share."""
    if len(columns) == 1:
        return pd.DataFrame({"weighted_index_of_disparity": np.nan}, index=index)
    with np.errstate(divide="ignore", invalid="ignore"):
        wid = disparity.weighted_index_of_disparity(
            measures["share"][:, 1:], measures["population"][:, 1:], overall_rate=measures["share"][:, 0]
        )
    return pd.DataFrame({"weighted_index_of_disparity": wid}, index=index)
