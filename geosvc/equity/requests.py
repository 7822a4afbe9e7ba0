"""Request models of the equity operations, shared by the HTTP routes and the OGC API Processes.

Pure pydantic (no web framework): field descriptions and examples feed both OpenAPI and the
process descriptions.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geosvc.cql2 import check_filter
from geosvc.errors import InvalidParameter

Reference = str
_REFERENCE = Field(
    "total",
    description='Reference group for RR/RD: a group id, "rest" (everyone not in the group) or "total"',
    examples=["nh_white", "rest", "total"],
)
MAX_COUNT = 1e12
"""Largest population, event count or rate accepted (beyond any real population; sums stay exact)."""
MAX_GROUPS = 1000
"""Most groups in a disparity request (the Gini index compares every pair)."""
MAX_UNITS = 100_000
"""Most units in an SVI request."""
_K = Field(
    None, ge=1, le=10_000,
    description="Suppression threshold: counts 1..k-1 are withheld. Default and minimum: the configured floor",
    examples=[11],
)


class EquityRequest(BaseModel):
    """Base of the request models: unknown fields refused, NaN and infinities refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Hazard(EquityRequest):
    """A hazard zone: a published polygon collection (optionally filtered) or an inline geometry."""

    collection: str | None = Field(
        None, description="Id of a published polygon collection", examples=["us-drought-20161004"]
    )
    filter: str | dict[str, Any] | None = Field(
        None, description="CQL2 expression selecting hazard features", examples=["DM >= 2"]
    )
    filter_lang: Literal["cql2-text", "cql2-json"] = Field("cql2-text", description="Language of `filter`")
    geometry: dict[str, Any] | None = Field(
        None,
        description="Inline GeoJSON Polygon/MultiPolygon, Feature or FeatureCollection (CRS84 unless `crs`)",
        examples=[{"type": "Polygon", "coordinates": [[[-72.8, 41.6], [-72.6, 41.6], [-72.6, 41.8],
                                                       [-72.8, 41.8], [-72.8, 41.6]]]}],
    )
    crs: str | None = Field(None, description="CRS of the inline geometry (default CRS84)", examples=["EPSG:26918"])

    @field_validator("filter")
    @classmethod
    def _bounded_filter(cls, value: str | dict | None) -> str | dict | None:
        if value is not None:
            check_filter(value)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Hazard:
        if (self.collection is None) == (self.geometry is None):
            raise ValueError("give exactly one of 'collection' or 'geometry'")
        if self.geometry is not None and self.filter is not None:
            raise ValueError("'filter' applies to a collection, not to an inline geometry")
        if self.collection is not None and self.crs is not None:
            raise ValueError("'crs' applies to an inline geometry (published collections are in CRS84)")
        return self


class _PopulationRequest(EquityRequest):
    population: str = Field(
        description="Id of a published collection whose record declares equity dimensions",
        examples=["ct-tracts-2010"],
    )
    groups: list[str] | None = Field(
        None, description="Group ids to report (default: all groups of the population layer)",
        examples=[["hispanic", "nh_white", "nh_black"]],
    )
    places: str | None = Field(
        None, description="Id of a published polygon collection to report by; omitted = the whole state",
        examples=["ct-towns"],
    )
    place_label_field: str | None = Field(
        None, description="Field of the places layer holding a readable name (default NAME if present)"
    )
    reference: Reference = _REFERENCE
    k: int | None = _K


class ExposureRequest(_PopulationRequest):
    """Who lives in the hazard zone, by group and place (area-weighted, allocate_total=False)."""

    hazard: Hazard

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "hazard": {"collection": "us-drought-20161004", "filter": "DM >= 2"},
        "population": "ct-tracts-2010", "groups": ["hispanic", "nh_white", "nh_black"],
        "places": "ct-towns", "reference": "nh_white",
    }]})


class AccessRequest(_PopulationRequest):
    """Straight-line distance to the nearest facility and 2SFCA accessibility, by group and place."""

    facilities: str = Field(description="Id of a published point collection", examples=["ct-hospitals"])
    capacity_field: str | None = Field(
        None, description="Facility supply field for 2SFCA, non-negative for every facility (default: every facility supplies 1)"
    )
    within_km: float = Field(10.0, gt=0, le=500, description="Report the share of each group within this distance (km)")
    catchment_km: float = Field(15.0, gt=0, le=500, description="2SFCA catchment radius (km)")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "facilities": "ct-hospitals", "population": "ct-tracts-2010",
        "groups": ["hispanic", "nh_white"], "within_km": 10, "catchment_km": 15, "reference": "nh_white",
    }]})


class GroupCount(EquityRequest):
    """Events and population of one group (or a rate and its population weight)."""

    id: str = Field(description="Group id", examples=["black"])
    population: float = Field(ge=0, le=MAX_COUNT, description="Population (denominator, a count)",
                              examples=[40_000_000])
    events: float | None = Field(None, ge=0, le=MAX_COUNT, description="Event count (numerator)", examples=[563_240])
    rate: float | None = Field(None, ge=0, le=MAX_COUNT, description="Rate per `per` people, when events are not given")
    events_moe: float | None = Field(
        None, ge=0, le=MAX_COUNT,
        description="90% margin of error of `events` when it is a survey estimate (e.g. ACS people in poverty)")
    population_moe: float | None = Field(
        None, ge=0, le=MAX_COUNT, description="90% margin of error of `population` (with `events_moe`; default 0)")

    @model_validator(mode="after")
    def _events_or_rate(self) -> GroupCount:
        if (self.events is None) == (self.rate is None):
            raise ValueError("give exactly one of 'events' or 'rate'")
        if self.events is None and (self.events_moe is not None or self.population_moe is not None):
            raise ValueError("margins of error apply to events and population, not to a given rate")
        if self.population_moe is not None and self.events_moe is None:
            raise ValueError("'population_moe' needs 'events_moe' (the margin of error of the events)")
        return self


class DisparityRequest(EquityRequest):
    """Disparity indices over groups: ID, weighted ID, Gini, Theil, RR/RD with CIs."""

    groups: list[GroupCount] = Field(min_length=2, max_length=MAX_GROUPS, description="At least two groups")
    reference: Reference = _REFERENCE
    per: float = Field(100_000, gt=0, le=1e9, description="Rates are expressed per this many people")
    k: int | None = _K

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "groups": [{"id": "white", "population": 200e6, "events": 70800},
                   {"id": "black", "population": 40e6, "events": 563240},
                   {"id": "hispanic", "population": 55e6, "events": 52360}],
        "reference": "white",
    }]})


class SviRequest(EquityRequest):
    """CDC/ATSDR SVI ranking of units from their EP_* estimates."""

    units: list[dict[str, Any]] = Field(
        min_length=2, max_length=MAX_UNITS,
        description="One object per unit: an id field plus EP_* percentages (and E_TOTPOP if known)",
    )
    id_field: str = Field("FIPS", description="Field of each unit holding its id")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id_field": "FIPS",
        "units": [{"FIPS": "42001", "E_TOTPOP": 103852, "EP_POV150": 16.6},
                  {"FIPS": "42003", "E_TOTPOP": 1245310, "EP_POV150": 18.4}],
    }]})


class TabulateRequest(EquityRequest):
    """Counts and rates from a record-level layer by a published geography x declared dimensions.

    Only fixed, published geographies and the record's declared dimensions can be asked for: no
    caller-drawn areas and no filters on the records. Disclosure control is decided once per layer
    version and geographies, so a cell is withheld in every answer or in none.
    """

    layer: str = Field(description="Id of a record-level layer", examples=["ct-cases-synthetic"])
    geography: str = Field(description="One of the layer's declared geographies (a published polygon layer)",
                           examples=["ct-towns"])
    dimensions: list[str] = Field(
        default_factory=list, max_length=4,
        description="Declared dimensions to cross (every intersection and margin is returned); none: place totals",
        examples=[["race_ethnicity", "sex"]],
    )
    method: Literal["suppression", "dp"] = Field(
        "suppression",
        description="suppression: exact counts with primary and complementary suppression; dp: the layer's "
                    "differentially private release (noisy counts, nothing withheld, one release per version)",
    )
    confidence: float = Field(0.95, ge=0.5, le=0.999, description="Confidence level of the rate intervals")
    per: float = Field(1000, gt=0, le=1e9, description="Rates are expressed per this many people")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "layer": "ct-cases-synthetic", "geography": "ct-towns", "dimensions": ["race_ethnicity", "sex"],
    }]})

    @field_validator("dimensions")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each dimension may be asked for once")
        return value


def _inline_refs(schema: Any, defs: dict) -> Any:
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline_refs(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline_refs(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline_refs(v, defs) for v in schema]
    return schema


def request_schema(model: type[EquityRequest]) -> dict[str, Any]:
    """The JSON Schema of a request model with every ``$ref`` inlined (OpenAPI and process descriptions).

    >>> "$ref" in str(request_schema(ExposureRequest)), request_schema(ExposureRequest)["required"]
    (False, ['population', 'hazard'])
    """
    schema = model.model_json_schema()
    return _inline_refs(schema, schema.get("$defs", {}))


def describe_validation_error(exc: ValidationError) -> InvalidParameter:
    """One clear :class:`InvalidParameter` naming the first offending field."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    message = first["msg"].removeprefix("Value error, ")
    return InvalidParameter(f"{message}{more}", param=where)


def parse_request(model: type[EquityRequest], data: bytes | dict[str, Any]) -> EquityRequest:
    r"""Validate ``data`` (a JSON body or a decoded dict) as ``model``; :class:`InvalidParameter` if malformed.

    A body is decoded strictly: lone surrogates, ``NaN``/``Infinity`` and numbers that overflow a
    double are refused here, so they never reach the computations.

    Examples
    --------
    >>> parse_request(AccessRequest, {"facilities": "h", "population": "p", "within_km": -1})
    Traceback (most recent call last):
    ...
    geosvc.errors.InvalidParameter: parameter 'within_km': Input should be greater than 0
    >>> parse_request(DisparityRequest, b'{"groups": [{"id": "a\\ud800", "population": 1, "events": 1}]}')
    Traceback (most recent call last):
    ...
    geosvc.errors.InvalidParameter: parameter 'body': not valid JSON (no low surrogate in string: line 1 column 22 (char 21))
    """
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidParameter(f"not valid JSON ({exc})", param="body") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(exc) from exc
