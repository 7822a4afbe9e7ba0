"""The glue between the store and the equity computations: resolve layers, run, protect, attribute.

:class:`EquityService` is built once per application (``create_app``) or per process (OGC API
Processes) around a store. It caches published layer frames per ``(id, version)``, the overlay
weights per layer versions + hazard filter, and whole answers per request + layer versions (the
answer of the same request on the same versions is the same, so a warm repeat costs a lookup).
Every operation returns a protected :class:`~geosvc.equity.report.Report`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from geosvc.crs import CRS84_URI
from geosvc.equity import areal
from geosvc.equity.exposure import STATE, exposure_table
from geosvc.cql2 import filter_frame
from geosvc.equity.population import GroupCounts, equity_dimensions, group_counts, select_groups
from geosvc.equity.protection import (
    ALL_PLACES, REST, TOTAL, protect_place_summary, protect_place_table, structure,
)
from geosvc.equity.report import Report
from geosvc.equity.requests import (
    AccessRequest, DisparityRequest, ExposureRequest, Hazard, SviRequest, parse_request,
)
from geosvc.equity.suppression import DERIVED, apply_disclosure_control, resolve_k
from geosvc.equity.zones import read_inline_zone
from geosvc.errors import InvalidParameter, NotFound
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer, Store

_POLYGONAL = {"Polygon", "MultiPolygon"}
_POINTS = {"Point", "MultiPoint"}
_PAD = 0.5  # degrees around the units' extent kept of a hazard zone
CRS_NOTE = {"inputs": "OGC:CRS84 (published layers; inline geometries reprojected from their crs)",
            "areas_and_distances": areal.EQUAL_AREA_CRS, "output": CRS84_URI}


@dataclass(frozen=True)
class Units:
    """A population layer resolved for a request: counts by group on the unit geometries."""

    layer: PublishedLayer
    counts: GroupCounts
    frame: gpd.GeoDataFrame  # total, groups, <column>_moe; geometry; index = unit id
    groups: list[str]  # reported groups (the reference group included)


class _Lru(OrderedDict):
    def __init__(self, maxsize: int):
        super().__init__()
        self.maxsize = maxsize

    def remember(self, key, build: Callable):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = build()
        while len(self) > self.maxsize:
            self.popitem(last=False)
        return value


class EquityService:
    """Runs equity operations on published layers.

    Parameters
    ----------
    store : Store
        Where published layers are read from.
    settings : Settings
        For the suppression floor (``suppression_k``) and the state's name.
    cache_size : int
        Frames, derived frames and answers kept (each LRU).
    """

    def __init__(self, store: Store, settings: Settings, *, cache_size: int = 32):
        self.store = store
        self.settings = settings
        self.weights = areal.WeightCache(maxsize=4 * cache_size)
        self._cache = _Lru(cache_size)
        self._answers = _Lru(max(4, cache_size // 4))  # answers keep their encodings: fewer
        self._lock = threading.RLock()

    def run(self, operation: str, request) -> Report:
        """Run ``operation`` on a request model or a plain dict (validated here); one at a time."""
        if operation not in ("exposure", "access", "disparity", "svi"):
            raise InvalidParameter(f"unknown operation '{operation}'", param="operation")
        if isinstance(request, dict):
            request = parse_request(operation, request)
        with self._lock:
            return getattr(self, operation)(request)

    # -- layers ------------------------------------------------------------------------------
    def layer(self, layer_id: str, param: str) -> PublishedLayer:
        """The latest published public vector version (404 when unknown or restricted, 400 for a raster).

        Restricted layers are not served until access control exists, so they are not analysed either.
        """
        layer = self.store.get(layer_id)
        if layer.record.sensitivity != "public":
            raise NotFound("no published version", layer=layer_id)
        if layer.kind != "vector":
            raise InvalidParameter(f"'{layer_id}' is a {layer.kind} layer, not a vector collection", param=param)
        return layer

    def frame(self, layer: PublishedLayer) -> gpd.GeoDataFrame:
        """Features of a published version in CRS84 (cached per id and version; do not mutate)."""
        return self._cache.remember(("frame", layer.id, layer.version), lambda: self.store.read_features(layer.id))

    def features(self, layer: PublishedLayer, param: str, kinds: set[str], what: str) -> gpd.GeoDataFrame:
        """Features of a layer whose geometries are all of ``kinds`` (else 400 naming ``param``)."""
        frame = self.frame(layer)
        other = set(frame.geometry.geom_type.dropna()) - kinds
        if other:
            raise InvalidParameter(f"'{layer.id}' is not a {what} layer (has {', '.join(sorted(other))})", param=param)
        return frame

    def units(self, layer_id: str, groups: list[str] | None, reference: str) -> Units:
        """Counts by group of a population layer, for the requested groups plus the reference."""
        layer = self.layer(layer_id, "population")
        dims = equity_dimensions(layer.record)
        wanted = [g.id for g in select_groups(dims, groups)]
        if reference not in (TOTAL, REST):
            known = [g.id for g in dims.groups]
            if reference not in known:
                raise InvalidParameter(
                    f"unknown reference group '{reference}' (use one of {', '.join(known)}, 'rest' or 'total')",
                    param="reference",
                )
            wanted = list(dict.fromkeys([*wanted, reference]))

        def build() -> tuple[GroupCounts, gpd.GeoDataFrame]:
            frame = self.frame(layer)
            counts = group_counts(frame, dims)
            index = frame[layer.record.id_field].astype(str) if layer.record.id_field else frame.index.astype(str)
            counts = GroupCounts(counts.counts.set_axis(index), counts.moe.set_axis(index), counts.labels)
            return counts, counts.to_units(frame.geometry.set_axis(index))

        counts, frame = self._cache.remember(("units", layer.id, layer.version), build)
        return Units(layer, counts, frame, wanted)

    def places(self, places_id: str | None, label_field: str | None):
        """Place polygons indexed by place id with a ``place_name`` column, their cache key and layer."""
        if places_id is None:
            return None, None, None
        layer = self.layer(places_id, "places")
        frame = self.features(layer, "places", _POLYGONAL, "polygon")
        label = label_field or ("NAME" if "NAME" in frame.columns else None)
        if label is not None and label not in frame.columns:
            raise InvalidParameter(f"'{places_id}' has no field '{label}'", param="place_label_field")
        id_field = layer.record.id_field

        def build() -> gpd.GeoDataFrame:
            ids = frame[id_field].astype(str) if id_field else pd.Series(frame.index.astype(str))
            names = frame[label].astype(str).to_numpy() if label else ids.to_numpy()
            return gpd.GeoDataFrame({"place_name": names}, geometry=frame.geometry.to_numpy(),
                                    index=pd.Index(ids.to_numpy(), name="place_id"), crs=frame.crs)

        places = self._cache.remember(("places", layer.id, layer.version, label), build)
        return places, f"{layer.id}@{layer.version}", layer

    def hazard(self, hazard: Hazard, units: Units):
        """The hazard zone near the units (CRS84), its cache key (None for inline), layer and notes."""
        if hazard.geometry is not None:
            zone, notes = read_inline_zone(hazard.geometry, hazard.crs)
            return zone, None, None, ["inline geometry (caller-drawn)", *notes]
        layer = self.layer(hazard.collection, "hazard.collection")
        frame = self.features(layer, "hazard.collection", _POLYGONAL, "polygon")
        key = f"{layer.id}@{layer.version}"
        notes = [f"collection '{layer.id}' version {layer.version}"]
        if hazard.filter is not None:
            text = hazard.filter if isinstance(hazard.filter, str) else orjson.dumps(
                hazard.filter, option=orjson.OPT_SORT_KEYS).decode()
            key += f"?{hazard.filter_lang}:{text}"
            frame = self._cache.remember(
                ("filtered", key), lambda: filter_frame(frame, hazard.filter, hazard.filter_lang, layer=layer.id)
            )
            notes.append(f"filter ({hazard.filter_lang}) {text}: {len(frame)} feature(s) selected")
        bounds = tuple(units.frame.total_bounds)
        zone = self._cache.remember(("zone", key, bounds), lambda: _zone(frame, bounds))
        return zone, key, layer, notes

    def remembered(self, operation: str, request, layers: list[PublishedLayer], build: Callable[[], Report]) -> Report:
        """The answer of ``request`` on these layer versions (computed once, then reused)."""
        key = (operation, request.model_dump_json(), tuple((x.id, x.version, x.checksum) for x in layers))
        return self._answers.remember(key, build)

    def access(self, request: AccessRequest) -> Report:
        """Distance to the nearest facility and 2SFCA access by group and place."""
        k = resolve_k(request.k, self.settings.suppression_k)
        units = self.units(request.population, request.groups, request.reference)
        places, places_key, places_layer = self.places(request.places, request.place_label_field)
        facilities_layer = self.layer(request.facilities, "facilities")
        used = [x for x in (units.layer, facilities_layer, places_layer) if x is not None]
        return self.remembered("access", request, used, lambda: self._access(
            request, k, units, places, places_key, places_layer, facilities_layer))

    def _access(self, request, k, units, places, places_key, places_layer, facilities_layer) -> Report:
        from geosvc.equity.access import access_table

        facilities = self.features(facilities_layer, "facilities", _POINTS, "point")
        if request.capacity_field is not None and request.capacity_field not in facilities.columns:
            raise InvalidParameter(f"'{facilities_layer.id}' has no field '{request.capacity_field}'",
                                   param="capacity_field")
        unit_key = f"{units.layer.id}@{units.layer.version}"
        run = dict(groups=units.groups, reference=request.reference, within_km=request.within_km,
                   catchment_km=request.catchment_km, capacity=request.capacity_field)
        result = access_table(units.frame, facilities, places, place_name="place_name" if places is not None else None,
                              cache=self.weights, keys={"units": unit_key, "places": places_key}, **run)
        table = result.table
        if places is not None:
            overall = access_table(units.frame, facilities, None, **run).table
            table = pd.concat([table, overall.assign(place_id=ALL_PLACES, place_name="all places")], ignore_index=True)
        else:
            table = table.assign(place_name=self.settings.state_name)
        table.insert(table.columns.get_loc("group") + 1, "group_label", table["group"].map(units.counts.labels))
        table.insert(table.columns.get_loc("population") + 1, "within", table["share_within"] * table["population"])
        counts = ("population", "within")
        stats = ["mean_km", "p50_km", "p90_km", "access_per_1000", "mean_km_ratio", "access_ratio"]
        derived = {"share_within": list(counts), **{c: ["population"] for c in stats}}
        rows, protections = protect_place_table(
            table, k=k, k_floor=self.settings.suppression_k, reference=request.reference, inline=False,
            counts=counts, derived=derived, compared=["mean_km_ratio", "access_ratio"])
        method = {
            "name": "access to facilities",
            "description": result.method,
            "within_km": request.within_km,
            "catchment_km": request.catchment_km,
            "capacity": request.capacity_field or "1 per facility",
            "within": "people whose unit's point lies within within_km of a facility (a count, protected)",
            "supply_served": "sum_i P_i A_i over the units (2SFCA invariant: the supply of facilities with demand "
                             "in reach)",
            "reference": request.reference,
            "places": request.places or f"the whole state ({self.settings.state_name})",
        }
        layers = [_provenance(units.layer, "population"), _provenance(facilities_layer, "facilities"),
                  _provenance(places_layer, "places")]
        return Report(
            operation="access", rows=rows, count_columns=list(counts), k=k, method=method, protections=protections,
            parameters=request.model_dump(mode="json", exclude_none=True), layers=[x for x in layers if x],
            geometries=self.place_geometries(places, places_key, units), crs=CRS_NOTE,
        )

    def disparity(self, request: DisparityRequest) -> Report:
        """Disparity indices over caller-given groups (no layers)."""
        return disparity_report(request, self.settings.suppression_k)

    def svi(self, request: SviRequest) -> Report:
        """SVI ranking of caller-given units (no layers)."""
        return svi_report(request, self.settings.suppression_k)

    # -- exposure ----------------------------------------------------------------------------
    def exposure(self, request: ExposureRequest) -> Report:
        """Population by group in a hazard zone, by place (area-weighted, allocate_total=False)."""
        k = resolve_k(request.k, self.settings.suppression_k)
        units = self.units(request.population, request.groups, request.reference)
        places, places_key, places_layer = self.places(request.places, request.place_label_field)
        inline = request.hazard.geometry is not None
        if not inline:  # published inputs only: the answer can be reused for the same versions
            hazard_layer = self.layer(request.hazard.collection, "hazard.collection")
            used = [x for x in (units.layer, hazard_layer, places_layer) if x is not None]
            return self.remembered("exposure", request, used,
                                   lambda: self._exposure(request, k, units, places, places_key, places_layer))
        return self._exposure(request, k, units, places, places_key, places_layer)

    def _exposure(self, request, k, units, places, places_key, places_layer) -> Report:
        zone, zone_key, hazard_layer, notes = self.hazard(request.hazard, units)
        inline = zone_key is None
        unit_key = f"{units.layer.id}@{units.layer.version}"

        def compute():
            run = dict(groups=units.groups, reference=request.reference, cache=self.weights)
            keys = {"units": unit_key, "places": places_key, "hazard": zone_key}
            result = exposure_table(units.frame, zone, places, keys=keys,
                                    place_name="place_name" if places is not None else None, **run)
            table, summary = result.table, result.places
            if places is not None:
                overall = exposure_table(units.frame, zone, None, keys={"units": unit_key, "hazard": zone_key}, **run)
                table = pd.concat([table, overall.table.assign(place_id=ALL_PLACES, place_name="all places")],
                                  ignore_index=True)
                summary = pd.concat([summary, overall.places.set_axis([ALL_PLACES])])
            else:
                table = table.assign(place_name=self.settings.state_name)
            table.insert(table.columns.get_loc("group") + 1, "group_label", table["group"].map(units.counts.labels))
            summary.index = summary.index.astype(str).rename("place_id")
            table, lines = structure(table, request.reference, ("population", "exposed"))
            return table, lines, summary, result.method

        if inline:
            table, lines, place_summary, description = compute()
        else:  # the unprotected table does not depend on k: reuse it across thresholds
            key = ("exposure-table", unit_key, places_key, zone_key, tuple(units.groups), request.reference)
            table, lines, place_summary, description = self._cache.remember(key, compute)
        rows, protections = protect_place_table(table, k=k, k_floor=self.settings.suppression_k,
                                                reference=request.reference, inline=inline, lines=lines)
        place_summary = protect_place_summary(place_summary, rows, "weighted_index_of_disparity", "share")
        layers = [_provenance(units.layer, "population"), _provenance(hazard_layer, "hazard"),
                  _provenance(places_layer, "places")]
        method = {
            "name": "area-weighted exposure",
            "description": description,
            "formula": "exposed_jg = sum_i N_ig * area(i ∩ place_j ∩ hazard) / area(i)  (allocate_total=False)",
            "rates": "share = exposed / population; rate per 1,000 = 1000 * share",
            "reference": request.reference,
            "comparisons": "RR = share_g / share_ref, RD = (share_g - share_ref) per 1,000, 95% CIs from the "
                           "inputs' MOEs (null when the inputs carry none)",
            "index_of_disparity": "weighted ID = 100 * sum_g w_g |r_g - r_T| / r_T over the reported groups",
            "places": request.places or f"the whole state ({self.settings.state_name})",
            "overall_row": f"place_id '{ALL_PLACES}': all units, the total of the places' additive line"
                           if places is not None else None,
            "hazard": notes,
        }
        return Report(
            operation="exposure", rows=rows, count_columns=["population", "exposed"], k=k, method=method,
            protections=protections, parameters=request.model_dump(mode="json", exclude_none=True),
            layers=[x for x in layers if x], places=place_summary,
            geometries=self.place_geometries(places, places_key, units), crs=CRS_NOTE,
        )

    def place_geometries(self, places, places_key, units: Units) -> pd.Series:
        """CRS84 geometries by place id as GeoJSON text (the union of the units for the whole state)."""
        if places is not None:
            return self._cache.remember(("geometries", places_key), lambda: _geojson_text(places.geometry))
        key = ("state", units.layer.id, units.layer.version)
        return self._cache.remember(key, lambda: _geojson_text(gpd.GeoSeries(
            [units.frame.geometry.make_valid().union_all()], index=pd.Index([STATE], name="place_id"),
            crs=units.frame.crs)))


_SHARED: dict[str, EquityService] = {}
_SHARED_LOCK = threading.Lock()


def shared_service(settings: Settings, store: Store | None = None) -> EquityService:
    """The process-wide service for ``settings`` (the ``/equity`` routes and the OGC processes share it).

    The first caller may give the store (``create_app`` does); later callers get the same service,
    so both interfaces use one set of caches.
    """
    key = settings.model_dump_json()
    with _SHARED_LOCK:
        if key not in _SHARED:
            if store is None:
                from geosvc.store.gpkg import GpkgStore

                store = GpkgStore(settings)
            _SHARED[key] = EquityService(store, settings)
        elif store is not None and _SHARED[key].store is not store:
            _SHARED[key] = EquityService(store, settings)  # a new app on another store object: start afresh
        return _SHARED[key]


def disparity_report(request: DisparityRequest, k_floor: int) -> Report:
    """Rates by group from events over population (or given rates), RR/RD and inequality indices."""
    from geosvc.equity import disparity as dm

    k = resolve_k(request.k, k_floor)
    ids = [g.id for g in request.groups]
    if len(set(ids)) != len(ids) or TOTAL in ids or REST in ids:
        raise InvalidParameter("group ids must be unique and not 'total' or 'rest'", param="groups")
    if request.reference not in (TOTAL, REST, *ids):
        raise InvalidParameter(
            f"unknown reference group '{request.reference}' (use one of {', '.join(ids)}, 'rest' or 'total')",
            param="reference",
        )
    per = request.per
    population = np.array([g.population for g in request.groups], dtype=float)
    events = np.array([np.nan if g.events is None else g.events for g in request.groups], dtype=float)
    given = np.array([np.nan if g.rate is None else g.rate / per for g in request.groups], dtype=float)
    from_events = ~np.isnan(events)
    if (population <= 0).any():
        raise InvalidParameter("every group needs a population > 0", param="groups")
    if from_events.any() and not from_events.all():
        raise InvalidParameter("give events for every group or rates for every group, not a mix", param="groups")
    # rows: the groups, then their total (the additive line)
    pops = np.append(population, population.sum())
    if not from_events.all():  # events implied by the rates: protected like counts (rate x population reveals them)
        events = given * population
    evs = np.append(events, events.sum())
    rates = evs / pops
    if from_events.all():
        se = dm.poisson_se(evs, pops)
        low, high = dm.garwood_interval(evs)
    else:
        se = low = high = np.full(len(pops), np.nan)
    table = pd.DataFrame({"place_id": "all", "group": [*ids, TOTAL], "population": pops, "events": evs,
                          "rate": rates * per, "rate_low": low / pops * per, "rate_high": high / pops * per,
                          "unstable": dm.unstable_rate(evs) if from_events.all() else False})
    ref = _disparity_reference(request.reference, ids, pops, evs, rates, se)
    rr, rd = dm.rate_ratio(rates, ref[0], se, ref[1]), dm.rate_difference(rates, ref[0], se, ref[1])
    for name, values in zip(["rr", "rr_low", "rr_high"], rr):
        table[name] = values
    for name, values in zip(["rd", "rd_low", "rd_high"], rd):
        table[name] = np.asarray(values) * per
    own = (table["group"] == (TOTAL if request.reference in (TOTAL, REST) else request.reference)).to_numpy()
    table.loc[own, ["rr", "rr_low", "rr_high", "rd", "rd_low", "rd_high"]] = np.nan
    counts = ("population", "events")
    compared = ["rr", "rr_low", "rr_high", "rd", "rd_low", "rd_high"]
    derived = {c: list(counts) for c in ["rate", "rate_low", "rate_high", *compared]}
    rows, protections = protect_place_table(table, k=k, k_floor=k_floor, reference=request.reference,
                                            inline=False, counts=counts, derived=derived, compared=compared)
    rows = rows.drop(columns=["place_id"])
    withheld = bool(rows["rate_suppressed"].iloc[:-1].notna().any())
    r, w = rates[:-1], population
    summary = {
        "overall_rate": None if withheld else float(rates[-1] * per),
        "index_of_disparity": None if withheld else float(dm.index_of_disparity(r, w)),
        "weighted_index_of_disparity": None if withheld else float(dm.weighted_index_of_disparity(r, w)),
        "gini": None if withheld else float(dm.gini(r, w)),
        "theil": None if withheld else float(dm.theil(r, w)),
        "suppressed": DERIVED if withheld else None,
    }
    method = {
        "name": "disparity indices",
        "rates": f"rate = events / population * {per:g}" if from_events.all()
                 else f"rates given per {per:g}; events implied as rate x population (protected as counts)",
        "intervals": "rates: Garwood exact Poisson 95%; RR: exp(ln RR ± 1.96·sqrt((SE1/p1)^2 + (SE2/p2)^2)); "
                     "RD: ± 1.96·sqrt(SE1^2 + SE2^2), SE = sqrt(D)/N" if from_events.all()
                     else "no intervals: rates were given without event counts",
        "indices": "ID = 100·mean|r_j − r_T|/r_T; weighted ID = 100·Σ w_j|r_j − r_T|/r_T; Gini and Theil "
                   "population-weighted (methods §2)",
        "reference": request.reference,
        "unstable": "rates from fewer than 20 events are flagged unstable",
    }
    return Report(operation="disparity", rows=rows, count_columns=list(counts), k=k, method=method,
                  protections=protections, parameters=request.model_dump(mode="json", exclude_none=True),
                  summary=summary, crs={})


def _disparity_reference(reference, ids, pops, evs, rates, se) -> tuple[np.ndarray, np.ndarray]:
    """Reference rate and SE for every row (the named group, the total, or everyone else)."""
    from geosvc.equity import disparity as dm

    n = len(pops)
    if reference == TOTAL:
        return np.full(n, rates[-1]), np.full(n, se[-1])
    if reference == REST:
        rest_pop, rest_ev = pops[-1] - pops, evs[-1] - evs
        with np.errstate(divide="ignore", invalid="ignore"):
            rest_rate = np.where(rest_pop > 0, rest_ev / rest_pop, np.nan)
            if np.isnan(evs).all():
                rest_rate = (rates[-1] * pops[-1] - rates * pops) / rest_pop
        return rest_rate, dm.poisson_se(rest_ev, rest_pop)
    at = ids.index(reference)
    return np.full(n, rates[at]), np.full(n, se[at])


def svi_report(request: SviRequest, k_floor: int) -> Report:
    """CDC/ATSDR SVI ranking of the given units (their population counts under disclosure control)."""
    from geosvc.equity.svi import rank_svi

    k = resolve_k(None, k_floor)
    units = pd.DataFrame(list(request.units))
    population = "E_TOTPOP" if "E_TOTPOP" in units.columns else None
    if request.id_field not in units.columns:
        raise InvalidParameter(f"no unit has the id field '{request.id_field}'", param="id_field")
    ranked = rank_svi(units, id_column=request.id_field, population=population)
    counts = [population] if population else []
    if population:
        ranked.insert(1, population, pd.to_numeric(units[population], errors="coerce"))
    rows, protections = apply_disclosure_control(ranked, count_columns=counts, k=k, k_floor=k_floor) if counts \
        else (ranked, None)
    method = {
        "name": "CDC/ATSDR Social Vulnerability Index (2020/2022 structure)",
        "ranking": "EPL = (rank_min − 1)/(N − 1) over units with population > 0 and no missing value (−999), "
                   "4 decimals; SPL = Σ EPL per theme; RPL = percent rank of SPL; flags F = EPL ≥ 0.90",
        "domain": f"the {len(units)} units given",
    }
    protections = protections.to_dict() if protections is not None else {
        "applied": [], "note": "no counts of people in the answer (only percentages and ranks)"}
    return Report(operation="svi", rows=rows, count_columns=counts, k=k if counts else None, method=method,
                  protections=protections, parameters=request.model_dump(mode="json", exclude_none=True), crs={})


def _zone(frame: gpd.GeoDataFrame, bounds: tuple[float, ...]) -> gpd.GeoSeries:
    """The union of the hazard polygons within the units' extent (padded), as one geometry.

    Parts of a national hazard layer far from the population units cannot change any answer;
    cutting them once per layer version and filter spares every request their reprojection.
    """
    geoms = frame.geometry.make_valid() if not frame.geometry.is_valid.all() else frame.geometry
    minx, miny, maxx, maxy = bounds
    window = shapely.box(minx - _PAD, miny - _PAD, maxx + _PAD, maxy + _PAD)
    return gpd.GeoSeries([shapely.intersection(geoms.union_all(), window)], crs=frame.crs)


def _geojson_text(geometries: gpd.GeoSeries) -> pd.Series:
    """Each geometry in CRS84 as GeoJSON text, indexed like ``geometries``."""
    lonlat = geometries.to_crs("OGC:CRS84")
    return pd.Series(shapely.to_geojson(np.asarray(lonlat.array, dtype=object)), index=geometries.index)


def _provenance(layer: PublishedLayer | None, role: str) -> dict | None:
    if layer is None:
        return None
    return {"role": role, "id": layer.id, "version": layer.version, "checksum": layer.checksum}
