"""Access to facilities by group: straight-line distance to the nearest one and 2SFCA (methods §6).

Each population unit is represented by its **area centroid** in EPSG:5070 (:func:`centroids`) (no finer population data
is assumed; a point unit is its own point). Distances are straight lines in EPSG:5070 metres,
reported in km.

- nearest facility: ``d_i`` from an STRtree nearest-neighbour query (vectorised); per group the
  population-weighted mean, P50 and P90 (weighted quantiles, inverted CDF: the smallest distance
  below which at least that share of the group lives) and the share within ``within_km``;
- two-step floating catchment (Luo & Wang 2003): ``R_j = S_j / Σ_{k: d_kj ≤ d0} P_k``,
  ``A_i = Σ_{j: d_ij ≤ d0} R_j`` (reported per 1,000 people); group access ``Σ N_ig A_i / N_g``.
  A facility with nobody within its catchment serves nobody (``R_j = 0``).
- by place: a unit counts in a place by the areal weight of the place in it
  (:func:`geosvc.equity.areal.area_weights`), as in exposure; without places, the whole state.
- ratios to the reference group (a group, ``"rest"`` = everyone else in the place, or ``"total"``).

Examples
--------
The methods §7 2SFCA toy (travel minutes instead of distances):

>>> fca = two_step_fca([1000, 2000, 500], [100, 50], unit=[0, 1, 1, 2], facility=[0, 0, 1, 1],
...                    distance=[5, 10, 12, 8], catchment=15)
>>> (1000 * fca).round(2).tolist()
[33.33, 53.33, 20.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike
from scipy import sparse

from geosvc.crs import normalize_crs
from geosvc.equity import areal
from geosvc.equity.constants import REST, STATE, TOTAL
from geosvc.equity.exposure import place_group_frame, place_labels
from geosvc.errors import InvalidParameter

METHOD = (
    "straight-line distance in EPSG:5070 from each unit's area centroid to the nearest facility; "
    "2SFCA (Luo & Wang 2003) with a straight-line catchment; groups weighted by population; "
    "places by areal weights over the study area (each unit shared among the places by its area inside them)"
)
_STATS = ["mean_km", "p50_km", "p90_km", "share_within", "access_per_1000"]


@dataclass(frozen=True)
class AccessResult:
    """Access by place × group, and per unit.

    Attributes
    ----------
    table : DataFrame
        ``place_id``, ``place_name``, ``group``, ``population``, ``mean_km``, ``p50_km``,
        ``p90_km``, ``share_within``, ``access_per_1000`` and, against the reference,
        ``mean_km_ratio`` and ``access_ratio``.
    units : DataFrame
        Per unit: ``distance_km`` to the nearest facility and ``access_per_1000`` (2SFCA).
    supply_served : float
        ``Σ_i P_i A_i``; equals the total capacity of the facilities that have demand in reach.
    method : str
    """

    table: pd.DataFrame
    units: pd.DataFrame
    supply_served: float
    method: str = METHOD


def centroids(units: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Area centroids of the units in EPSG:5070 (points stay as they are).

    >>> from shapely import box
    >>> pts = centroids(gpd.GeoSeries([box(0, 0, 2000, 1000)], crs="EPSG:5070"))
    >>> shapely.get_coordinates(pts).tolist()
    [[1000.0, 500.0]]
    """
    if units.crs is None:
        raise InvalidParameter("has no CRS, so distances cannot be computed", param="population")
    geoms = units.geometry
    if not normalize_crs(units.crs).equals(normalize_crs(areal.EQUAL_AREA_CRS)):
        geoms = geoms.to_crs(areal.EQUAL_AREA_CRS)
    return shapely.centroid(np.asarray(geoms.array, dtype=object))


def facility_points(facilities: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Facility locations in EPSG:5070: a Point, or a MultiPoint (one facility on several sites, whose
    distance is that of its nearest site); refuses a layer without locations or with other geometry."""
    if facilities.crs is None:
        raise InvalidParameter("has no CRS", param="facilities")
    geoms = np.asarray(facilities.geometry.to_crs(areal.EQUAL_AREA_CRS).array, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        raise InvalidParameter("has no facility with a location", param="facilities")
    kinds = shapely.get_type_id(geoms[present])
    if not np.isin(kinds, [shapely.GeometryType.POINT, shapely.GeometryType.MULTIPOINT]).all():
        raise InvalidParameter("must be points or multipoints (a facility is a location)", param="facilities")
    return geoms


def nearest_distance_km(points: np.ndarray, facilities: np.ndarray) -> np.ndarray:
    """Straight-line distance (km) from each point to the nearest facility (vectorised STRtree).

    >>> pts = shapely.points([0, 10000], [0, 4000])
    >>> nearest_distance_km(pts, shapely.points([0, 10000], [1000, 9000])).tolist()
    [1.0, 5.0]
    """
    tree = shapely.STRtree(facilities)
    (_, _), distance = tree.query_nearest(points, return_distance=True, all_matches=False)
    return distance / 1000.0


def two_step_fca(
    demand: ArrayLike, supply: ArrayLike, *, unit: ArrayLike, facility: ArrayLike, distance: ArrayLike,
    catchment: float,
) -> np.ndarray:
    """2SFCA accessibility per person of each unit from (unit, facility, distance) pairs.

    Parameters
    ----------
    demand : array, shape (n_units,)
        Population P_k of each unit (NaN makes the facilities it reaches, and their users, NaN).
    supply : array, shape (n_facilities,)
        Capacity S_j.
    unit, facility, distance : arrays of equal length
        Candidate pairs and their distance (any unit: km, minutes...); pairs beyond
        ``catchment`` are ignored.
    catchment : float
        d0, in the unit of ``distance`` (> 0).

    Returns
    -------
    ndarray, shape (n_units,)
        A_i = Σ_{j: d_ij ≤ d0} R_j with R_j = S_j / Σ_{k: d_kj ≤ d0} P_k (0 when no demand).
    """
    if not catchment > 0:
        raise InvalidParameter("the catchment must be a positive distance", param="catchment_km")
    demand, supply = np.asarray(demand, dtype=float), np.asarray(supply, dtype=float)
    unit, facility = np.asarray(unit, dtype=int), np.asarray(facility, dtype=int)
    reach = np.asarray(distance, dtype=float) <= catchment
    unit, facility = unit[reach], facility[reach]
    load = np.bincount(facility, weights=demand[unit], minlength=len(supply))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(load > 0, supply / load, np.where(np.isnan(load), np.nan, 0.0))
    return np.bincount(unit, weights=ratio[facility], minlength=len(demand))


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: ArrayLike) -> np.ndarray:
    """Inverted-CDF weighted quantiles: the smallest value with cumulative weight share ≥ q.

    NaN when the weights are all zero or any is missing.

    >>> weighted_quantiles(np.array([1.0, 2.0, 10.0]), np.array([1.0, 1.0, 2.0]), [0.5, 0.9]).tolist()
    [2.0, 10.0]
    """
    weights = np.asarray(weights, dtype=float)
    if np.isnan(weights).any() or not weights.sum() > 0:
        return np.full(len(np.atleast_1d(q)), np.nan)
    return np.quantile(values, q, weights=weights, method="inverted_cdf")


def access_table(
    units: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | gpd.GeoSeries,
    places: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    *,
    groups: list[str],
    reference: str = TOTAL,
    within_km: float = 5.0,
    catchment_km: float = 15.0,
    capacity: str | None = None,
    place_name: str | None = None,
    cache: areal.WeightCache | None = None,
    keys: dict[str, str] | None = None,
    overall: str | None = None,
) -> AccessResult:
    """Distance to the nearest facility and 2SFCA access by place × group.

    Parameters
    ----------
    units : GeoDataFrame
        Population units with a ``total`` column and one column per group (counts).
    facilities : GeoDataFrame or GeoSeries
        Facility points, any CRS.
    places : GeoDataFrame or GeoSeries, optional
        Place polygons indexed by place id (``None`` = the whole state).
    groups : list of str
        Group columns to report (``total`` always is).
    reference : str
        A group column, ``"rest"`` or ``"total"``.
    within_km, catchment_km : float
        The "share within" distance and the 2SFCA catchment d0, km (> 0).
    capacity : str, optional
        Facility column holding capacity S_j (default 1 per facility; ≥ 0, not missing).
    place_name, cache, keys, overall
        As in :func:`geosvc.equity.exposure.exposure_table` (units are shared among the places by
        their area inside the study area).

    Returns
    -------
    AccessResult

    Examples
    --------
    >>> from shapely import box, Point
    >>> units = gpd.GeoDataFrame({"total": [100.0, 300.0], "a": [50.0, 0.0]},
    ...     geometry=[box(0, 0, 2000, 2000), box(8000, 0, 10000, 2000)], crs="EPSG:5070")
    >>> hospital = gpd.GeoSeries([Point(1000, 1000)], crs="EPSG:5070")
    >>> out = access_table(units, hospital, groups=["a"], within_km=2).table
    >>> out[["group", "mean_km", "share_within", "mean_km_ratio"]].round(2).values.tolist()
    [['total', 6.0, 0.25, nan], ['a', 0.0, 1.0, 0.0]]
    """
    for name, value in (("within_km", within_km), ("catchment_km", catchment_km)):
        if not value > 0:
            raise InvalidParameter(f"must be a positive distance in km (got {value})", param=name)
    columns = _columns(units, groups, reference)
    counts = units[columns].astype(float)
    points = centroids(units)
    sites = facility_points(facilities)
    supply = _capacity(facilities, capacity)
    keep = ~(shapely.is_missing(sites) | shapely.is_empty(sites))
    sites, supply = sites[keep], supply[keep]

    distance = nearest_distance_km(points, sites)
    unit, facility = shapely.STRtree(sites).query(points, predicate="dwithin", distance=catchment_km * 1000)
    pair_km = shapely.distance(points[unit], sites[facility]) / 1000.0
    access = two_step_fca(counts[TOTAL].to_numpy(), supply, unit=unit, facility=facility, distance=pair_km,
                          catchment=catchment_km)

    if places is None:
        weights = sparse.csr_matrix(np.ones((len(units), 1)))
        index, names = pd.Index([STATE], name="place_id"), pd.Series([STATE], index=[STATE])
    else:
        keys = keys or {}
        weights = areal.area_weights(units, places, cache=cache, key=(keys.get("units"), keys.get("places"), "none")).matrix
        (weights,) = areal.over_study_area(weights)
        index, names = places.index, place_labels(places, place_name)
        if overall is not None:
            weights = areal.with_overall(weights)
            index = index.append(pd.Index([overall])).rename(index.name)
            names = pd.concat([names, pd.Series(["all places"], index=[overall])])

    stats = {c: _group_stats(weights, counts[c].to_numpy(), distance, access, within_km) for c in counts}
    table = _assemble(stats, columns, index, names)
    if reference == REST:
        rest = counts.rsub(counts[TOTAL], axis=0)
        ref = {c: _group_stats(weights, rest[c].to_numpy(), distance, access, within_km) for c in columns}
    else:
        ref = {c: stats[reference] for c in columns}
    table = _ratios(table, _assemble(ref, columns, index, names), reference)
    per_unit = pd.DataFrame({"distance_km": distance, "access_per_1000": 1000 * access}, index=units.index)
    served = float(np.nansum(counts[TOTAL].to_numpy() * access))
    return AccessResult(table=table, units=per_unit, supply_served=served)


def _columns(units: gpd.GeoDataFrame, groups: list[str], reference: str) -> list[str]:
    columns = [TOTAL, *(g for g in dict.fromkeys(groups) if g != TOTAL)]
    if reference not in (TOTAL, REST) and reference not in columns:
        columns.append(reference)
    unknown = [c for c in columns if c not in units.columns]
    if unknown:
        param = "reference" if unknown == [reference] else "groups"
        raise InvalidParameter(f"unknown group {', '.join(map(repr, unknown))}", param=param)
    return columns


def _capacity(facilities, capacity: str | None) -> np.ndarray:
    if capacity is None:
        return np.ones(len(facilities))
    if not isinstance(facilities, gpd.GeoDataFrame) or capacity not in facilities.columns:
        raise InvalidParameter(f"the facilities have no field '{capacity}'", param="capacity")
    values = pd.to_numeric(facilities[capacity], errors="coerce").to_numpy(float)
    if np.isnan(values).any() or (values < 0).any():
        raise InvalidParameter(f"'{capacity}' must be a non-negative number for every facility", param="capacity")
    return values


def _group_stats(weights, counts: np.ndarray, distance, access, within_km) -> dict[str, np.ndarray]:
    """Per place: population, weighted mean / P50 / P90 distance, share within, 2SFCA access."""
    people = sparse.csc_matrix(sparse.diags(np.nan_to_num(counts)) @ weights)
    missing = np.asarray(weights.T.astype(bool) @ np.isnan(counts)) > 0
    population = np.asarray(people.sum(axis=0)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.asarray(people.T @ distance) / population
        within = np.asarray(people.T @ (distance <= within_km)) / population
        acc = 1000 * np.asarray(people.T @ access) / population
    quantiles = np.full((people.shape[1], 2), np.nan)
    for j in range(people.shape[1]):
        rows = people.indices[people.indptr[j]: people.indptr[j + 1]]
        quantiles[j] = weighted_quantiles(distance[rows], people.data[people.indptr[j]: people.indptr[j + 1]],
                                          [0.5, 0.9])
    out = {"population": population, "mean_km": mean, "p50_km": quantiles[:, 0], "p90_km": quantiles[:, 1],
           "share_within": within, "access_per_1000": acc}
    return {k: np.where(missing, np.nan, v) for k, v in out.items()}


def _assemble(stats: dict, columns: list[str], index: pd.Index, names: pd.Series) -> pd.DataFrame:
    return place_group_frame(
        index, names, columns, {stat: np.column_stack([stats[c][stat] for c in columns]) for stat in ["population", *_STATS]}
    )


def _ratios(table: pd.DataFrame, ref: pd.DataFrame, reference: str) -> pd.DataFrame:
    out = table.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["mean_km_ratio"] = table["mean_km"] / ref["mean_km"]
        out["access_ratio"] = table["access_per_1000"] / ref["access_per_1000"]
    self_row = out["group"] == (TOTAL if reference == REST else reference)
    out.loc[self_row, ["mean_km_ratio", "access_ratio"]] = np.nan
    return out
