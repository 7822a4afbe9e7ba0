"""The glue between the store and the equity computations: resolve layers, run, protect, attribute.

:class:`EquityService` is built once per application (``create_app``: ``app.state.equity``) around
that application's store; nothing is shared between applications. It caches published layer frames
per layer version, the overlay weights per layer versions + hazard filter, and whole answers per
request + layer versions (the same request on the same versions has the same answer, so a warm
repeat costs a lookup), each cache keyed by the typed keys of :mod:`geosvc.equity.cache`. Requests
run concurrently: no lock is held while computing. Every operation returns a protected
:class:`~geosvc.equity.report.Report`; each runs under a :class:`~geosvc.equity.budget.Budget`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from geosvc.cql2 import filter_frame
from geosvc.crs import CRS84_URI
from geosvc.equity import areal
from geosvc.equity.budget import UNLIMITED, Budget
from geosvc.equity.cache import (
    AnswerKey, FrameKey, HazardKey, LayerVersion, Lru, PlacesKey, Prepared, TableKey, ZoneKey,
)
from geosvc.equity.constants import ALL_PLACES, REST, STATE, TOTAL
from geosvc.equity.exposure import exposure_table
from geosvc.equity.operations import operation as lookup_operation
from geosvc.equity.population import GroupCounts, equity_dimensions, group_counts, select_groups
from geosvc.equity.protection import protect_place_summary, protect_place_table, structure
from geosvc.equity.report import Report
from geosvc.equity.requests import AccessRequest, EquityRequest, ExposureRequest, Hazard, parse_request
from geosvc.equity.suppression import resolve_k
from geosvc.equity.zones import read_inline_zone
from geosvc.errors import InvalidParameter, NotFound
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer, Store

_POLYGONAL = {"Polygon", "MultiPolygon"}
_POINTS = {"Point", "MultiPoint"}
_PAD = 0.5  # degrees around the units' extent kept of a hazard zone
CRS_NOTE = {"inputs": "OGC:CRS84 (published layers; inline geometries reprojected from their crs)",
            "areas_and_distances": areal.EQUAL_AREA_CRS, "output": CRS84_URI}


def version_of(layer: PublishedLayer) -> LayerVersion:
    """The cache identity of a published layer version."""
    return LayerVersion(layer.id, layer.version)


@dataclass(frozen=True)
class Units:
    """A population layer resolved for a request: counts by group on the unit geometries."""

    layer: PublishedLayer
    counts: GroupCounts
    frame: gpd.GeoDataFrame  # total, groups, <column>_moe; geometry; index = unit id
    groups: list[str]  # reported groups (the reference group included)


_READABLE: contextvars.ContextVar[Mapping[str, PublishedLayer]] = contextvars.ContextVar("geosvc_equity_readable")
_RECORD_LEVEL: contextvars.ContextVar[Mapping[str, PublishedLayer]] = contextvars.ContextVar("geosvc_equity_records")


class EquityService:
    """Runs equity operations on the published layers of one store.

    Parameters
    ----------
    store : Store
        Where published layers are read from.
    settings : Settings
        For the suppression floor (``suppression_k``), the state's name and the time budget
        (``equity.time_budget_s``).
    cache_size : int
        Frames, derived frames and answers kept (each LRU).
    """

    def __init__(self, store: Store, settings: Settings, *, cache_size: int = 32):
        self.store = store
        self.settings = settings
        self.weights = areal.WeightCache(maxsize=4 * cache_size)
        self._cache: Lru = Lru(cache_size)
        self._answers: Lru[Report] = Lru(max(4, cache_size // 4))  # answers keep their encodings: fewer
        self.prepared: Prepared = Prepared()  # one-off costly values, built in the background

    def run(self, operation: str, request: EquityRequest | dict | bytes, budget: Budget | None = None,
            layers: Mapping[str, PublishedLayer] | None = None,
            record_level: Mapping[str, PublishedLayer] | None = None) -> Report:
        """Run the registered ``operation`` on a request model, a dict or a JSON body (validated here).

        ``budget`` defaults to ``settings.equity.time_budget_s`` from now; ``layers`` are the versions
        the caller may read (the request's registry view; default: the store's public layers);
        ``record_level`` the served record-level layers, which anyone may tabulate (default: the store's).
        """
        entry = lookup_operation(operation)
        if not isinstance(request, entry.request):
            request = parse_request(entry.request, request)
        if budget is None:
            budget = Budget(self.settings.equity.time_budget_s)
        token = _READABLE.set(layers if layers is not None else self.public_layers())
        records = _RECORD_LEVEL.set(record_level if record_level is not None else self.record_level_layers())
        try:
            return entry.run(self, request, budget)
        finally:
            _RECORD_LEVEL.reset(records)
            _READABLE.reset(token)

    # -- layers ------------------------------------------------------------------------------
    def layer(self, layer_id: str, param: str) -> PublishedLayer:
        """The version of a layer the caller may read (404 as for an unknown id otherwise; 400 for a raster)."""
        layer = self.readable(layer_id)
        if layer is None:
            raise NotFound("no published version", layer=layer_id)
        if layer.kind != "vector":
            raise InvalidParameter(f"'{layer_id}' is a {layer.kind} layer, not a vector collection", param=param)
        return layer

    def readable(self, layer_id: str) -> PublishedLayer | None:
        """The version of a layer the caller may read, if any."""
        readable = _READABLE.get(None)
        return (readable if readable is not None else self.public_layers()).get(layer_id)

    def record_layer(self, layer_id: str) -> PublishedLayer:
        """A served record-level layer (404 as for an unknown id otherwise, whoever asks)."""
        records = _RECORD_LEVEL.get(None)
        layer = (records if records is not None else self.record_level_layers()).get(layer_id)
        if layer is None:
            raise NotFound("no published record-level layer", layer=layer_id)
        return layer

    def record_level_layers(self) -> dict[str, PublishedLayer]:
        """The store's served record-level layers."""
        return {layer.id: layer for layer in self.store.published() if layer.record.record_level is not None}

    def public_layers(self) -> dict[str, PublishedLayer]:
        """The store's served public layers (what anyone may analyse)."""
        return {layer.id: layer for layer in self.store.published() if layer.record.sensitivity == "public"}

    def frame(self, layer: PublishedLayer) -> gpd.GeoDataFrame:
        """Features of a published version in CRS84 (cached per version; do not mutate)."""
        return self._cache.remember(FrameKey("frame", version_of(layer)), lambda: self.store.read_features(layer))

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
                    f"unknown reference group '{reference}' (use one of {', '.join(known)}, '{REST}' or '{TOTAL}')",
                    param="reference",
                )
            wanted = list(dict.fromkeys([*wanted, reference]))

        def build() -> tuple[GroupCounts, gpd.GeoDataFrame]:
            frame = self.frame(layer)
            counts = group_counts(frame, dims)
            index = frame[layer.record.id_field].astype(str) if layer.record.id_field else frame.index.astype(str)
            counts = GroupCounts(counts.counts.set_axis(index), counts.moe.set_axis(index), counts.labels)
            return counts, counts.to_units(frame.geometry.set_axis(index))

        counts, frame = self._cache.remember(FrameKey("units", version_of(layer)), build)
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

        key = PlacesKey(version_of(layer), label)
        return self._cache.remember(key, build), key, layer

    def hazard(self, hazard: Hazard, units: Units):
        """The hazard zone near the units (CRS84), its cache key (None for inline), layer and notes."""
        if hazard.geometry is not None:
            zone, notes = read_inline_zone(hazard.geometry, hazard.crs)
            return zone, None, None, ["inline geometry (caller-drawn)", *notes]
        layer = self.layer(hazard.collection, "hazard.collection")
        frame = self.features(layer, "hazard.collection", _POLYGONAL, "polygon")
        key = HazardKey(version_of(layer))
        notes = [f"collection '{layer.id}' version {layer.version}"]
        if hazard.filter is not None:
            text = hazard.filter if isinstance(hazard.filter, str) else orjson.dumps(
                hazard.filter, option=orjson.OPT_SORT_KEYS).decode()
            key = HazardKey(key.layer, hazard.filter_lang, text)
            frame = self._cache.remember(
                key, lambda: filter_frame(frame, hazard.filter, hazard.filter_lang, layer=layer.id))
            notes.append(f"filter ({hazard.filter_lang}) {text}: {len(frame)} feature(s) selected")
        bounds = tuple(float(b) for b in units.frame.total_bounds)
        zone = self._cache.remember(ZoneKey(key, bounds), lambda: _zone(frame, bounds))
        return zone, key, layer, notes

    def remembered(self, operation: str, request, layers: list[PublishedLayer], build: Callable[[], Report]) -> Report:
        """The answer of ``request`` on these layer versions (computed once, then reused)."""
        key = AnswerKey(operation, request.model_dump_json(), tuple((x.id, x.version, x.checksum) for x in layers))
        return self._answers.remember(key, build)

    def access(self, request: AccessRequest, budget: Budget = UNLIMITED) -> Report:
        """Distance to the nearest facility and 2SFCA access by group and place."""
        k = resolve_k(request.k, self.settings.equity.suppression_k)
        units = self.units(request.population, request.groups, request.reference)
        places, places_key, places_layer = self.places(request.places, request.place_label_field)
        facilities_layer = self.layer(request.facilities, "facilities")
        budget.check("reading the layers")
        used = [x for x in (units.layer, facilities_layer, places_layer) if x is not None]
        return self.remembered("access", request, used, lambda: self._access(
            request, k, units, places, places_key, places_layer, facilities_layer, budget))

    def _access(self, request, k, units, places, places_key, places_layer, facilities_layer, budget) -> Report:
        from geosvc.equity.access import access_table

        facilities = self.features(facilities_layer, "facilities", _POINTS, "point")
        if request.capacity_field is not None and request.capacity_field not in facilities.columns:
            raise InvalidParameter(f"'{facilities_layer.id}' has no field '{request.capacity_field}'",
                                   param="capacity_field")
        unit_key = str(version_of(units.layer))
        run = dict(groups=units.groups, reference=request.reference, within_km=request.within_km,
                   catchment_km=request.catchment_km, capacity=request.capacity_field)
        result = access_table(units.frame, facilities, places, place_name="place_name" if places is not None else None,
                              cache=self.weights, keys={"units": unit_key, "places": _text(places_key)},
                              overall=ALL_PLACES, **run)
        budget.check("access by place")
        table = result.table
        if places is None:
            table = table.assign(place_name=self.settings.state.name)
        table.insert(table.columns.get_loc("group") + 1, "group_label", table["group"].map(units.counts.labels))
        table.insert(table.columns.get_loc("population") + 1, "within", table["share_within"] * table["population"])
        counts = ("population", "within")
        stats = ["mean_km", "p50_km", "p90_km", "access_per_1000", "mean_km_ratio", "access_ratio"]
        derived = {"share_within": list(counts), **{c: ["population"] for c in stats}}
        rows, protections = protect_place_table(
            table, k=k, k_floor=self.settings.equity.suppression_k, reference=request.reference, inline=False,
            counts=counts, derived=derived, compared=["mean_km_ratio", "access_ratio"])
        budget.check("disclosure control")
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
            "places": request.places or f"the whole state ({self.settings.state.name})",
        }
        layers = [_provenance(units.layer, "population"), _provenance(facilities_layer, "facilities"),
                  _provenance(places_layer, "places")]
        return Report(
            operation="access", rows=rows, count_columns=list(counts), k=k, method=method, protections=protections,
            parameters=request.model_dump(mode="json", exclude_none=True), layers=[x for x in layers if x],
            geometries=self.place_geometries(places, places_key, units), crs=CRS_NOTE,
        )

    # -- exposure ----------------------------------------------------------------------------
    def exposure(self, request: ExposureRequest, budget: Budget = UNLIMITED) -> Report:
        """Population by group in a hazard zone, by place (area-weighted, allocate_total=False)."""
        k = resolve_k(request.k, self.settings.equity.suppression_k)
        units = self.units(request.population, request.groups, request.reference)
        places, places_key, places_layer = self.places(request.places, request.place_label_field)
        budget.check("reading the layers")
        inline = request.hazard.geometry is not None
        if not inline:  # published inputs only: the answer can be reused for the same versions
            hazard_layer = self.layer(request.hazard.collection, "hazard.collection")
            used = [x for x in (units.layer, hazard_layer, places_layer) if x is not None]
            return self.remembered("exposure", request, used, lambda: self._exposure(
                request, k, units, places, places_key, places_layer, budget))
        return self._exposure(request, k, units, places, places_key, places_layer, budget)

    def _exposure(self, request, k, units, places, places_key, places_layer, budget) -> Report:
        zone, zone_key, hazard_layer, notes = self.hazard(request.hazard, units)
        budget.check("building the hazard zone")
        inline = zone_key is None
        unit_key = str(version_of(units.layer))

        def compute():
            run = dict(groups=units.groups, reference=request.reference, cache=self.weights)
            keys = {"units": unit_key, "places": _text(places_key), "hazard": _text(zone_key)}
            result = exposure_table(units.frame, zone, places, keys=keys, overall=ALL_PLACES,
                                    place_name="place_name" if places is not None else None, **run)
            budget.check("exposure by place")
            table, summary = result.table, result.places
            if places is None:
                table = table.assign(place_name=self.settings.state.name)
            table.insert(table.columns.get_loc("group") + 1, "group_label", table["group"].map(units.counts.labels))
            summary.index = summary.index.astype(str).rename("place_id")
            table, lines = structure(table, request.reference, ("population", "exposed"))
            return table, lines, summary, (result.method, result.outside)

        if inline:
            table, lines, place_summary, description = compute()
        else:  # the unprotected table does not depend on k: reuse it across thresholds
            key = TableKey(version_of(units.layer), places_key, zone_key, tuple(units.groups), request.reference)
            table, lines, place_summary, description = self._cache.remember(key, compute)
        budget.check("exposure")
        rows, protections = protect_place_table(table, k=k, k_floor=self.settings.equity.suppression_k,
                                                reference=request.reference, inline=inline, lines=lines)
        place_summary = protect_place_summary(place_summary, rows, "weighted_index_of_disparity", "share")
        budget.check("disclosure control")
        layers = [_provenance(units.layer, "population"), _provenance(hazard_layer, "hazard"),
                  _provenance(places_layer, "places")]
        method = {
            "name": "area-weighted exposure",
            "description": description[0],
            "formula": "exposed_jg = sum_i N_ig * area(i ∩ place_j ∩ hazard) / a_i  (allocate_total=False)",
            "denominator": "a_i = area of unit i inside the study area (the land covered by the places layer)"
                           if places is not None else "a_i = area of unit i (no places: the units are the study area)",
            "outside_study_area": _outside_note(description[1]) if places is not None else None,
            "rates": "share = exposed / population; rate per 1,000 = 1000 * share",
            "reference": request.reference,
            "comparisons": "RR = share_g / share_ref, RD = (share_g - share_ref) per 1,000, 95% CIs from the "
                           "inputs' MOEs (null when the inputs carry none)",
            "index_of_disparity": "weighted ID = 100 * sum_g w_g |r_g - r_T| / r_T over the reported groups",
            "places": request.places or f"the whole state ({self.settings.state.name})",
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

    def place_geometries(self, places, places_key: PlacesKey | None, units: Units) -> pd.Series:
        """CRS84 geometries by place id as GeoJSON text (the union of the units for the whole state)."""
        if places is not None:
            return self._cache.remember(FrameKey("geometries", places_key.layer),
                                        lambda: _geojson_text(places.geometry))
        return self._cache.remember(FrameKey("state", version_of(units.layer)), lambda: _geojson_text(gpd.GeoSeries(
            [units.frame.geometry.make_valid().union_all()], index=pd.Index([STATE], name="place_id"),
            crs=units.frame.crs)))


def _outside_note(people: float) -> str:
    """How many people live in units that lie in no place at all (rounded: a note, not a count cell)."""
    rounded = int(round(people / 100.0) * 100)
    return (f"about {rounded:,} people live in units with no area in any place (in no place's row)" if rounded
            else "every unit has area in the places")


def _text(key) -> str | None:
    """A cache key as the text naming it in the overlay weight keys (``None`` stays ``None``)."""
    return None if key is None else str(key)


def _zone(frame: gpd.GeoDataFrame, bounds: tuple[float, ...]) -> gpd.GeoSeries:
    """The union of the hazard polygons within the units' extent (padded), as one (Multi)Polygon.

    Parts of a national hazard layer far from the population units cannot change any answer;
    cutting them once per layer version and filter spares every request their reprojection.
    """
    geoms = frame.geometry.make_valid() if not frame.geometry.is_valid.all() else frame.geometry
    minx, miny, maxx, maxy = bounds
    window = shapely.box(minx - _PAD, miny - _PAD, maxx + _PAD, maxy + _PAD)
    cut = shapely.intersection(geoms.union_all(), window)
    polygons = [p for p in shapely.get_parts(cut) if p.geom_type in _POLYGONAL and not p.is_empty]
    # nothing selected (or only edges touching the window): an empty zone, so nobody is exposed
    zone = shapely.multipolygons(polygons) if polygons else shapely.Polygon()
    return gpd.GeoSeries([zone], crs=frame.crs)


def _geojson_text(geometries: gpd.GeoSeries) -> pd.Series:
    """Each geometry in CRS84 as GeoJSON text, indexed like ``geometries``."""
    lonlat = geometries.to_crs("OGC:CRS84")
    return pd.Series(shapely.to_geojson(np.asarray(lonlat.array, dtype=object)), index=geometries.index)


def _provenance(layer: PublishedLayer | None, role: str) -> dict | None:
    if layer is None:
        return None
    return {"role": role, "id": layer.id, "version": layer.version, "checksum": layer.checksum}
