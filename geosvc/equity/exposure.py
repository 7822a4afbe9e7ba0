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
from geosvc.equity.population import TOTAL
from geosvc.errors import InvalidParameter

STATE = "state"
"""Place id of the whole-state row when no places are given."""
REST = "rest"
METHOD = (
    f"{areal.METHOD}; population per place weighted the same way against the place polygon; "
    "MOEs approximate (fixed weights), share MOE by the delta method"
)
_COMPARE = ["rr", "rr_low", "rr_high", "rd_per_1000", "rd_low", "rd_high"]


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
    counts = units[columns].astype(float)
    moes = units[[f"{c}_moe" for c in columns if f"{c}_moe" in units.columns]].astype(float)
    moes.columns = [c.removesuffix("_moe") for c in moes.columns]
    keys = keys or {}
    _check_hazard(hazard)
    if places is None:
        exposed_w = areal.area_weights(units, None, within=hazard, cache=cache,
                                       key=(keys.get("units"), areal.ALL, keys.get("hazard")))
        base = sparse.csr_matrix(np.ones((len(units), 1)))
        index = pd.Index([STATE], name="place_id")
        names = pd.Series([STATE], index=index)
    else:
        base = areal.area_weights(units, places, cache=cache, key=(keys.get("units"), keys.get("places"), "none")).matrix
        exposed_w = areal.area_weights(
            units, places, within=hazard, cache=cache, check_overlaps=False,
            key=(keys.get("units"), keys.get("places"), keys.get("hazard")),
        )
        index, names = places.index, place_labels(places, place_name)

    table = _assemble(exposed_w.matrix, base, counts, moes, columns, index, names)
    table = _compare(table, reference, exposed_w.matrix, base, counts, moes)
    return ExposureResult(table=table, places=_disparity(table, groups))


def place_labels(places: gpd.GeoDataFrame | gpd.GeoSeries, place_name: str | None) -> pd.Series:
    """Display name per place id: the ``place_name`` column, or the id itself."""
    if place_name is None:
        return pd.Series(places.index.astype(str), index=places.index)
    if not isinstance(places, gpd.GeoDataFrame) or place_name not in places.columns:
        raise InvalidParameter(f"the places have no field '{place_name}'", param="place_name")
    return places[place_name].astype(str)


def place_group_rows(index: pd.Index, names: pd.Series, columns: list[str]) -> pd.DataFrame:
    """The ``place_id``, ``place_name``, ``group`` columns of a long place × group table."""
    return pd.DataFrame({
        "place_id": np.repeat(index.to_numpy(), len(columns)),
        "place_name": np.repeat(names.reindex(index).to_numpy(), len(columns)),
        "group": np.tile(columns, len(index)),
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


def _sums(matrix: sparse.csr_matrix, frame: pd.DataFrame, moes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Targets × columns weighted sums (missing stays missing) and ``<column>_moe`` where MOEs exist."""
    weights = areal.AreaWeights(matrix, frame.index, pd.RangeIndex(matrix.shape[1]), np.ones(len(frame)))
    return areal.interpolate(weights, frame, moes)


def _weighted(matrix: sparse.csr_matrix, counts: pd.DataFrame, moes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Targets × columns sums and their approximate MOEs (NaN where a column has no MOE)."""
    values = _sums(matrix, counts, moes.reindex(columns=[c for c in counts if c in moes]))
    errors = np.column_stack(
        [values[f"{c}_moe"] if f"{c}_moe" in values else np.full(len(values), np.nan) for c in counts]
    )
    return values[list(counts.columns)].to_numpy(), errors


def _share_moe(exposed_w, base, estimates: np.ndarray, errors: np.ndarray | None) -> np.ndarray:
    if errors is None:
        return np.full(exposed_w.shape[1], np.nan)
    return moe.moe_areal_share(exposed_w.T, base.T, estimates, errors)


def _assemble(exposed_w, base, counts, moes, columns, index, names) -> pd.DataFrame:
    population, population_moe = _weighted(base, counts, moes)
    exposed, exposed_moe = _weighted(exposed_w, counts, moes)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(population > 0, exposed / population, np.nan)
    share_moe = np.column_stack(
        [_share_moe(exposed_w, base, counts[c].to_numpy(), moes[c].to_numpy() if c in moes else None) for c in columns]
    )
    frame = place_group_rows(index, names, columns).assign(
        population=population.ravel(), population_moe=population_moe.ravel(), exposed=exposed.ravel(),
        exposed_moe=exposed_moe.ravel(), share=share.ravel(), share_moe=share_moe.ravel(),
    )
    frame["rate_per_1000"] = 1000 * frame["share"]
    cv = moe.coefficient_of_variation(frame["share"], frame["share_moe"])
    frame["cv"] = cv
    frame["reliability"] = moe.reliability(cv)
    frame["use_caution"] = moe.use_caution(cv)
    return frame


def _compare(table, reference, exposed_w, base, counts, moes) -> pd.DataFrame:
    """RR / RD (per 1,000) of every row against the reference of its place, with 95% CIs."""
    n_groups = table["group"].nunique()
    share = table["share"].to_numpy().reshape(-1, n_groups)
    se = moe.standard_error(table["share_moe"].to_numpy()).reshape(-1, n_groups)
    columns = list(counts.columns)
    if reference == REST:
        ref_share, ref_se = _rest(exposed_w, base, counts, moes)
    else:
        at = columns.index(reference)
        ref_share, ref_se = share[:, [at]].repeat(n_groups, 1), se[:, [at]].repeat(n_groups, 1)
    rr = disparity.rate_ratio(share, ref_share, se, ref_se)
    rd = disparity.rate_difference(share, ref_share, se, ref_se)
    out = table.copy()
    for name, values in zip(_COMPARE, [*rr, *(1000 * np.asarray(v) for v in rd)]):
        out[name] = np.asarray(values).ravel()
    if reference != REST:
        out.loc[out["group"] == reference, _COMPARE] = np.nan
    else:
        out.loc[out["group"] == TOTAL, _COMPARE] = np.nan
    return out


def _rest(exposed_w, base, counts: pd.DataFrame, moes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Share and SE of everyone else (total − group) per place and group."""
    rest = counts.rsub(counts[TOTAL], axis=0)
    total_moe = moes[TOTAL].to_numpy() if TOTAL in moes else np.zeros(len(counts))
    exposed = _sums(exposed_w, rest).to_numpy()
    population = _sums(base, rest).to_numpy()
    rest = rest.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(population > 0, exposed / population, np.nan)
    ses = []
    for n, column in enumerate(counts.columns):
        errors = np.sqrt(total_moe**2 + moes[column].to_numpy() ** 2) if column in moes else None
        ses.append(moe.standard_error(_share_moe(exposed_w, base, rest[:, n], errors)))
    return share, np.column_stack(ses)


def _disparity(table: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """Weighted Index of Disparity per place: groups' shares against the place's total share."""
    wide = table.pivot(index="place_id", columns="group", values=["share", "population"])
    order = table["place_id"].drop_duplicates()
    wide = wide.reindex(order)
    if not groups:
        return pd.DataFrame({"weighted_index_of_disparity": np.nan}, index=wide.index)
    with np.errstate(divide="ignore", invalid="ignore"):
        wid = disparity.weighted_index_of_disparity(
            wide["share"][groups].to_numpy(), wide["population"][groups].to_numpy(),
            overall_rate=wide["share"][TOTAL].to_numpy(),
        )
    return pd.DataFrame({"weighted_index_of_disparity": wid}, index=wide.index)
