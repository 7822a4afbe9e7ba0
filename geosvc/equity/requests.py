"""Request models of the equity operations, shared by the HTTP routes and the OGC API Processes.

Pure pydantic (no web framework): field descriptions and examples feed both OpenAPI and the
process descriptions.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from geosvc.errors import InvalidParameter

Reference = str
_REFERENCE = Field(
    "total",
    description='Reference group for RR/RD: a group id, "rest" (everyone not in the group) or "total"',
    examples=["nh_white", "rest", "total"],
)
_K = Field(
    None,
    description="Suppression threshold: counts 1..k-1 are withheld. Default and minimum: the configured floor",
    examples=[11],
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hazard(_Request):
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

    @model_validator(mode="after")
    def _one_source(self) -> Hazard:
        if (self.collection is None) == (self.geometry is None):
            raise ValueError("give exactly one of 'collection' or 'geometry'")
        if self.geometry is not None and self.filter is not None:
            raise ValueError("'filter' applies to a collection, not to an inline geometry")
        if self.collection is not None and self.crs is not None:
            raise ValueError("'crs' applies to an inline geometry (published collections are in CRS84)")
        return self


class _PopulationRequest(_Request):
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


class GroupCount(_Request):
    """Events and population of one group (or a rate and its population weight)."""

    id: str = Field(description="Group id", examples=["black"])
    population: float = Field(ge=0, description="Population (denominator, a count)", examples=[40_000_000])
    events: float | None = Field(None, ge=0, description="Event count (numerator)", examples=[563_240])
    rate: float | None = Field(None, ge=0, description="Rate per `per` people, when events are not given")

    @model_validator(mode="after")
    def _events_or_rate(self) -> GroupCount:
        if (self.events is None) == (self.rate is None):
            raise ValueError("give exactly one of 'events' or 'rate'")
        return self


class DisparityRequest(_Request):
    """Disparity indices over groups: ID, weighted ID, Gini, Theil, RR/RD with CIs."""

    groups: list[GroupCount] = Field(min_length=2, description="At least two groups")
    reference: Reference = _REFERENCE
    per: float = Field(100_000, gt=0, description="Rates are expressed per this many people")
    k: int | None = _K

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "groups": [{"id": "white", "population": 200e6, "events": 70800},
                   {"id": "black", "population": 40e6, "events": 563240},
                   {"id": "hispanic", "population": 55e6, "events": 52360}],
        "reference": "white",
    }]})


class SviRequest(_Request):
    """CDC/ATSDR SVI ranking of units from their EP_* estimates."""

    units: list[dict[str, Any]] = Field(
        min_length=2,
        description="One object per unit: an id field plus EP_* percentages (and E_TOTPOP if known)",
    )
    id_field: str = Field("FIPS", description="Field of each unit holding its id")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id_field": "FIPS",
        "units": [{"FIPS": "42001", "E_TOTPOP": 103852, "EP_POV150": 16.6},
                  {"FIPS": "42003", "E_TOTPOP": 1245310, "EP_POV150": 18.4}],
    }]})


OPERATIONS: dict[str, type[_Request]] = {
    "exposure": ExposureRequest,
    "access": AccessRequest,
    "disparity": DisparityRequest,
    "svi": SviRequest,
}
"""Operation name -> request model."""


def describe_validation_error(exc: ValidationError) -> InvalidParameter:
    """One clear :class:`InvalidParameter` naming the first offending field."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    message = first["msg"].removeprefix("Value error, ")
    return InvalidParameter(f"{message}{more}", param=where)


def parse_request(operation: str, data: Any) -> _Request:
    """Validate ``data`` as the request of ``operation``; raise :class:`InvalidParameter` if malformed.

    Examples
    --------
    >>> parse_request("access", {"facilities": "h", "population": "p", "within_km": -1})
    Traceback (most recent call last):
    ...
    geosvc.errors.InvalidParameter: parameter 'within_km': Input should be greater than 0
    """
    try:
        return OPERATIONS[operation].model_validate(data)
    except ValidationError as exc:
        raise describe_validation_error(exc) from exc
