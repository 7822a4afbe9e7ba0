"""``tabulate``: counts and rates from a record-level layer by a published geography × declared dimensions.

The records (one row per person or event, restricted) never leave the service; what anyone may ask
for is a protected table:

1. each record is placed in one unit of every geography the layer declares (point in polygon), so
   the records fall into *pieces* (a town ∩ tract, say): :func:`pieces_of`;
2. the counts over pieces × every combination of the declared categories form one
   :class:`~geosvc.equity.crosstab.Cube` per (layer version, geography versions);
3. ``method: suppression`` — disclosure control is decided *once* on that cube
   (:func:`geosvc.equity.crosstab_protection.protect`: primary, complementary across every margin
   of every geography and across geographies, audited), so a cell is withheld in every answer or in
   none, whatever else is asked; ``method: dp`` — the geography's base table is released once with
   calibrated noise (:mod:`geosvc.equity.privacy`), stored and charged to the layer version's
   privacy budget in the store, and every answer is computed from that one release;
4. rates use population denominators from a population layer (area-weighted over the study area)
   where the layer declares them, with Garwood intervals; a rate is withheld with its count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geosvc.crs import CRS84_URI
from geosvc.equity import areal, privacy
from geosvc.equity.cache import FrameKey, LayerVersion
from geosvc.equity.constants import STATE, TOTAL
from geosvc.equity.crosstab import OUTSIDE, Cube, Dim
from geosvc.equity.crosstab_protection import protect
from geosvc.equity.disparity import garwood_interval
from geosvc.equity.protection import NO_DENOMINATOR
from geosvc.equity.report import Report
from geosvc.equity.requests import TabulateRequest
from geosvc.equity.suppression import DERIVED
from geosvc.errors import InvalidParameter, StoreError
from geosvc.store.base import PublishedLayer

if TYPE_CHECKING:
    from geosvc.equity.budget import Budget
    from geosvc.equity.service import EquityService

GROUP_SEPARATOR = "__"
"""Joins the categories of a row into its ``group`` id (``hispanic__female``); ``total`` for the place total."""
CRS_NOTE = {"inputs": "OGC:CRS84 (published layers)", "assignment": "point in polygon",
            "output": CRS84_URI}


@dataclass(frozen=True)
class CubeKey:
    """The cube of a record-level layer version over its geographies' versions."""

    records: LayerVersion
    geographies: tuple[LayerVersion, ...]


def tabulate_report(service: EquityService, request: TabulateRequest, budget: Budget) -> Report:
    """The protected answer of a ``tabulate`` request."""
    layer = service.record_layer(request.layer)
    spec = layer.record.record_level
    if request.geography not in spec.geographies:
        raise InvalidParameter(f"'{layer.id}' is tabulated by {', '.join(spec.geographies)}, not "
                               f"'{request.geography}'", param="geography")
    declared = {d.name: d for d in spec.dimensions}
    unknown = [d for d in request.dimensions if d not in declared]
    if unknown:
        raise InvalidParameter(f"'{layer.id}' declares no dimension '{unknown[0]}' (use {', '.join(declared)})",
                               param="dimensions")
    geographies = {g: _geography(service, layer, g) for g in spec.geographies}
    dims = tuple(Dim(d.name, tuple(d.categories)) for d in spec.dimensions)
    k = max(service.settings.equity.suppression_k, spec.suppression_k or 0)
    budget.check("reading the layers")
    key = CubeKey(LayerVersion(layer.id, layer.version),
                  tuple(LayerVersion(g.id, g.version) for g in geographies.values()))
    places = {g: service.places(g, None)[0] for g in geographies}
    # the cube and its protection are built once per versions, in the background (503 + Retry-After meanwhile)
    cube = service.prepared.get(key, lambda: _cube(service.frame(layer), layer, places, dims), budget.remaining())
    if request.method == "suppression":
        protected = service.prepared.get(("protected", key, k), lambda: protect(cube, k), budget.remaining())
        table = protected.table(request.geography, request.dimensions)
        protections = _suppression_note(k, table)
    else:
        table, protections = _dp_table(service, layer, geographies[request.geography], places[request.geography],
                                       cube, dims, request)
    budget.check("disclosure control")
    population_layer, population = _denominators(service, spec, geographies[request.geography],
                                                 places[request.geography], request, table, budget)
    rows = _rows(table, request, places[request.geography], declared, population, dp=request.method == "dp")
    method = _method(layer, spec, request, k, population_layer)
    layers = [_provenance(layer, "records"), _provenance(geographies[request.geography], "geography"),
              _provenance(population_layer, "denominators")]
    return Report(
        operation="tabulate", rows=rows, count_columns=["count"], k=k if request.method == "suppression" else None,
        method=method, protections=protections, parameters=request.model_dump(mode="json", exclude_none=True),
        layers=[x for x in layers if x], geometries=service.place_geometries(*service.places(request.geography, None)[:2], None),
        crs=CRS_NOTE, descriptors=list(request.dimensions),
    )


def _geography(service: EquityService, layer: PublishedLayer, geography_id: str) -> PublishedLayer:
    """A declared geography, which must be served as a public polygon layer."""
    geography = service.readable(geography_id)
    if geography is None or geography.record.sensitivity != "public":
        raise StoreError(f"'{layer.id}' cannot be tabulated now: its geography '{geography_id}' is not "
                         "published as a public layer")
    return geography


def assign_units(points: gpd.GeoSeries, polygons: gpd.GeoDataFrame) -> pd.Series:
    """The id of the polygon each point lies in (NA outside all; on a shared edge, the smallest id).

    >>> polys = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
    ...                          index=pd.Index(["b", "a"], name="place_id"))
    >>> assign_units(gpd.GeoSeries(shapely.points([0.5, 1, 5], [0.5, 0.5, 5])), polys).tolist()
    ['b', 'a', <NA>]
    """
    tree = shapely.STRtree(np.asarray(polygons.geometry.array, dtype=object))
    left, right = tree.query(np.asarray(points.array, dtype=object), predicate="intersects")
    ids = polygons.index.astype(str).to_numpy()[right]
    found = pd.DataFrame({"point": left, "id": ids}).sort_values(["point", "id"]).drop_duplicates("point")
    out = pd.Series(pd.NA, index=range(len(points)), dtype="string")
    out.iloc[found["point"].to_numpy()] = found["id"].to_numpy()
    return out.set_axis(points.index)


def pieces_of(units: pd.DataFrame, every: dict[str, Sequence[str]]) -> tuple[pd.Series, pd.DataFrame]:
    """Each record's piece id and the pieces (index = piece id, a column per geography: its unit or NA).

    A piece is one combination of units the records occur in (the finest relations between the
    geographies, so the protection sees every one an attacker could use); a unit of ``every``
    geography holding no record gets an empty piece of its own, so it is answered (with zeros). A
    record in no unit of any geography is in no piece (NA: counted in the state total only).

    >>> units = pd.DataFrame({"town": ["a", "a", None], "tract": ["1", "2", None]})
    >>> piece, pieces = pieces_of(units, {"town": ["a", "b"], "tract": ["1", "2"]})
    >>> piece.tolist(), pieces.to_dict("index")
    (['a|1', 'a|2', <NA>], {'a|1': {'town': 'a', 'tract': '1'}, 'a|2': {'town': 'a', 'tract': '2'}, 'b|': {'town': 'b', 'tract': None}})
    """
    columns = list(units.columns)
    seen = units.astype(object).drop_duplicates()
    missing = [pd.DataFrame({g: sorted(set(every[g]) - set(seen[g].dropna()))}) for g in columns]
    combos = pd.concat([seen, *missing], ignore_index=True).reindex(columns=columns).astype(object)
    combos = combos[combos.notna().any(axis=1)]
    names = combos[columns[0]].fillna("").astype(str)
    for g in columns[1:]:
        names = names + "|" + combos[g].fillna("").astype(str)
    pieces = combos.set_axis(names.to_numpy()).sort_index().astype("string")
    key = pd.MultiIndex.from_frame(units.astype(object).fillna("\0"))
    lookup = pd.Series(names.to_numpy(), index=pd.MultiIndex.from_frame(combos.fillna("\0")))
    piece = pd.Series(lookup.reindex(key).to_numpy(), index=units.index, dtype=object)
    return piece.where(piece.notna(), pd.NA), pieces


def _cube(frame: gpd.GeoDataFrame, layer: PublishedLayer, places: dict[str, gpd.GeoDataFrame],
          dims: Sequence[Dim]) -> Cube:
    """The counts of a record-level version over the pieces of its geographies."""
    spec = layer.record.record_level
    points = frame.geometry.representative_point()
    units = pd.DataFrame({g: assign_units(points, polygons).to_numpy() for g, polygons in places.items()},
                         index=frame.index)
    piece, pieces = pieces_of(units, {g: list(polygons.index.astype(str)) for g, polygons in places.items()})
    records = pd.DataFrame({"piece": piece.to_numpy()}, index=frame.index)
    for declared in spec.dimensions:
        records[declared.name] = frame[declared.field].astype("string").to_numpy()
    return Cube.from_records(records.reset_index(drop=True), pieces, dims)


def _suppression_note(k: int, table: pd.DataFrame) -> dict:
    withheld = table["count_suppressed"].dropna().value_counts().to_dict()
    return {
        "applied": ["primary_suppression", "complementary_suppression", "derived_suppression"],
        "k": k,
        "withheld": {str(reason): int(n) for reason, n in withheld.items()},
        "decided": "once per layer version and geography versions, over every geography, every combination "
                   "of the declared dimensions and every margin: a cell is withheld in every answer or in none",
        "inputs": "record-level (restricted): only published geographies and declared dimensions; no filters",
    }


def _dp_table(service: EquityService, layer: PublishedLayer, geography: PublishedLayer,
              polygons: gpd.GeoDataFrame, cube: Cube, dims: Sequence[Dim], request: TabulateRequest):
    """The geography's table from the layer version's one noisy release of it (made on first use)."""
    spec = layer.record.record_level
    base = cube.base.groupby(_unit_index(cube, geography.id)).sum()
    units = [*polygons.index.astype(str), OUTSIDE]
    cells = privacy.domain(units, {d.name: d.categories for d in dims}, piece=base.index.names[0])
    base = base.reindex(cells, fill_value=0)
    release_key = f"{geography.id}@{geography.version}"
    release = service.store.privacy_release(
        layer.id, layer.version, release_key, privacy.spent(spec.privacy.epsilon), spec.privacy.budget,
        lambda: privacy.to_bytes(privacy.release(base, spec.privacy.epsilon)))
    epsilon = release.epsilon  # as charged when released (the record may have changed since)
    noisy = privacy.from_bytes(release.payload)
    pieces = pd.DataFrame({geography.id: [u if u != OUTSIDE else pd.NA for u in units]}, index=units)
    noisy_cube = Cube(noisy, pieces, tuple(dims))
    table = noisy_cube.table(geography.id, request.dimensions)
    summed = pd.Series(_cells_summed(table, request, dims, len(units)))
    widths = {n: privacy.half_width(epsilon, int(n), request.confidence) for n in summed.unique()}
    table["count"] = privacy.nonnegative(table["count"])
    table["count_noise_halfwidth"] = summed.map(widths).to_numpy()
    table["count_suppressed"] = None
    protections = {
        "applied": ["differential_privacy"],
        "mechanism": "discrete Laplace (OpenDP), sensitivity 1 per person, on the geography's base table",
        "epsilon": epsilon,
        "privacy_budget": spec.privacy.budget,
        "spent_after_release": release.spent_after,
        "released": release.created.isoformat(),
        "release": release_key,
        "post_processing": "margins are sums of the noisy base cells (unbiased); a negative answered count is "
                           "shown as 0",
        "count_noise_halfwidth": f"± half-width of the {request.confidence:.0%} interval of the noise in each count",
    }
    return table, protections


def _unit_index(cube: Cube, geography: str) -> list:
    """Group keys mapping the cube's base to (unit of ``geography`` or OUTSIDE, categories...)."""
    index = cube.base.index
    unit = cube.pieces[geography].reindex(index.get_level_values(0)).fillna(OUTSIDE).to_numpy()
    return [pd.Index(unit, name="piece"), *(index.get_level_values(n) for n in range(1, index.nlevels))]


def _cells_summed(table: pd.DataFrame, request: TabulateRequest, dims: Sequence[Dim], units: int) -> np.ndarray:
    """How many noisy base cells each row of a dp table sums."""
    n = np.ones(len(table))
    for dim in dims:
        if dim.name in request.dimensions:
            n *= np.where(table[dim.name].to_numpy() == TOTAL, len(dim.categories), 1)
        else:
            n *= len(dim.categories)
    return n * np.where(table["place_id"].to_numpy() == STATE, units, 1)


def _denominators(service: EquityService, spec, geography: PublishedLayer, polygons: gpd.GeoDataFrame,
                  request: TabulateRequest, table: pd.DataFrame, budget: Budget):
    """Population per row where the layer declares denominators for the row's categories."""
    nothing = pd.DataFrame({"population": np.nan}, index=table.index)
    if spec.denominators is None:
        return None, nothing
    units = service.units(spec.denominators.layer, None, TOTAL)
    key = ("denominators", LayerVersion(units.layer.id, units.layer.version),
           LayerVersion(geography.id, geography.version))

    def allocate() -> pd.DataFrame:
        weights = areal.area_weights(units.frame, polygons, cache=service.weights, key=(
            str(key[1]), str(key[2]), "none")).matrix
        (weights,) = areal.over_study_area(weights)
        values = units.counts.counts
        return pd.DataFrame(areal.weighted_sum(areal.with_overall(weights), values.to_numpy(float)),
                            index=[*polygons.index.astype(str), STATE], columns=values.columns)

    by_place = service.prepared.get(key, allocate, budget.remaining())
    dims = list(request.dimensions)
    specific = (table[dims] != TOTAL).to_numpy() if dims else np.zeros((len(table), 0), bool)
    group = np.full(len(table), TOTAL, dtype=object)
    usable = specific.sum(axis=1) <= 1  # a single-dimension group (or the total) may have a denominator
    for n, name in enumerate(dims):
        rows = usable & specific[:, n]
        mapped = table[name].map(spec.denominators.categories.get(name, {})).to_numpy(dtype=object)
        usable &= ~(rows & pd.isna(mapped))
        group = np.where(rows, mapped, group)
    population = np.full(len(table), np.nan)
    places = table["place_id"].astype(str).to_numpy()
    for name in pd.unique(group[usable]):
        rows = usable & (group == name)
        if name in by_place.columns:
            population[rows] = by_place[name].reindex(places[rows]).to_numpy()
    return units.layer, pd.DataFrame({"population": population}, index=table.index)


def _rows(table: pd.DataFrame, request: TabulateRequest, polygons: gpd.GeoDataFrame, declared: dict,
          population: pd.DataFrame, dp: bool) -> pd.DataFrame:
    """The answer's long table: place, categories, group, count, population, rate and its interval."""
    out = table.copy()
    names = polygons["place_name"].copy()
    names.index = names.index.astype(str)
    out.insert(1, "place_name", out["place_id"].map(names).fillna("all records"))
    dims = list(request.dimensions)
    group = out[dims].astype(str).agg(GROUP_SEPARATOR.join, axis=1) if dims else pd.Series(TOTAL, index=out.index)
    specific = (out[dims] != TOTAL) if dims else pd.DataFrame(index=out.index)
    group = group.where(specific.any(axis=1), TOTAL) if dims else group
    labels = _labels(out, dims, declared)
    at = out.columns.get_loc(dims[-1]) + 1 if dims else 2
    out.insert(at, "group", group.to_numpy())
    out.insert(at + 1, "group_label", labels)
    out["population"] = population["population"].to_numpy()
    count = out["count"].to_numpy(float)
    denominator = out["population"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(denominator > 0, count / denominator * request.per, np.nan)
    low_count = np.maximum(count - out["count_noise_halfwidth"].to_numpy(float), 0) if dp else count
    high_count = count + out["count_noise_halfwidth"].to_numpy(float) if dp else count
    low, _ = garwood_interval(low_count, request.confidence)
    _, high = garwood_interval(high_count, request.confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(denominator > 0, request.per / denominator, np.nan)
    out["rate"], out["rate_low"], out["rate_high"] = rate, low * scale, high * scale
    withheld = out["count"].isna().to_numpy()
    out["count"] = out["count"].round().astype("Int64")  # counts are whole numbers (withheld: empty)
    reason = np.where(withheld, DERIVED, np.where(~(denominator > 0), NO_DENOMINATOR, None))
    out["rate_suppressed"] = pd.Series(reason, index=out.index, dtype=object).where(np.isnan(rate), None)
    return out.reset_index(drop=True)


def _labels(table: pd.DataFrame, dims: list[str], declared: dict) -> list[str]:
    """Each row's group label, e.g. "Hispanic or Latino × Female" ("everyone" for a place total)."""
    if not dims:
        return ["everyone"] * len(table)
    combos = table[dims].drop_duplicates()
    text = {tuple(row): " × ".join(declared[d].labels.get(c, c) for d, c in zip(dims, row) if c != TOTAL) or "everyone"
            for row in combos.itertuples(index=False)}
    return [text[row] for row in table[dims].itertuples(index=False)]


def _method(layer: PublishedLayer, spec, request: TabulateRequest, k: int,
            population_layer: PublishedLayer | None) -> dict:
    return {
        "name": "tabulation of record-level data",
        "records": f"'{layer.id}' version {layer.version}: one row per person or event; each record is placed "
                   "in the unit of the geography its point lies in (records located by a geographic id carry "
                   "that unit's representative point)",
        "geography": request.geography,
        "dimensions": {d.name: {"categories": list(d.categories), "scheme": d.scheme}
                       for d in spec.dimensions if d.name in request.dimensions},
        "margins": "every intersection of the asked dimensions, each dimension alone, each place total and "
                   f"the whole-state row (place_id '{STATE}', all records, also those in no unit)",
        "group": f"the row's categories joined by '{GROUP_SEPARATOR}'; '{TOTAL}' for a place total",
        "disclosure": (f"counts 1..{k - 1} withheld; complementary suppression over every margin of every "
                       "declared geography and across geographies" if request.method == "suppression" else
                       f"one differentially private release per geography version (epsilon "
                       f"{spec.privacy.epsilon}); nothing withheld"),
        "rates": (f"rate = count / population × {request.per:g} with Garwood (exact Poisson) "
                  f"{request.confidence:.0%} intervals; the denominator is treated as fixed"
                  + (" and widened by the noise interval" if request.method == "dp" else "")),
        "denominators": (f"'{population_layer.id}' version {population_layer.version}, area-weighted to the "
                         "geography over the study area; rows whose categories the population layer does not "
                         f"carry have no rate (reason '{NO_DENOMINATOR}')" if population_layer is not None
                         else "none declared: counts only"),
    }


def _provenance(layer: PublishedLayer | None, role: str) -> dict | None:
    if layer is None:
        return None
    return {"role": role, "id": layer.id, "version": layer.version, "checksum": layer.checksum}
