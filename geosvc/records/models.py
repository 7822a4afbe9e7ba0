"""Pydantic models of a layer record (one YAML file per layer in ``layers/``).

The JSON Schema of :class:`LayerRecord` is exported by ``geosvc schema`` so editors can check records.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

LAYER_ID = r"^[a-z][a-z0-9_-]{1,62}$"
ISO_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")

GeometryType = Literal[
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Model):
    name: str = Field(description="Person or desk to contact about the layer")
    email: EmailStr


class Publisher(_Model):
    agency: str = Field(description="State agency (or federal source) that publishes the layer")
    url: str | None = None


class License(_Model):
    name: str = Field(description="Licence name, e.g. 'Public domain' or 'CC-BY-4.0'")
    url: str | None = None


class CsvOptions(_Model):
    """How to build point geometry from a CSV."""

    x: str = Field(description="Column holding x / longitude")
    y: str = Field(description="Column holding y / latitude")


class Source(_Model):
    """Where the layer's data comes from: a path under the data root, or a URL."""

    path: str | None = Field(None, description="Path relative to the configured data root")
    url: str | None = Field(None, description="HTTP(S) URL read through GDAL's /vsicurl/")
    layer: str | None = Field(None, description="Layer inside a zip / GeoPackage / multi-layer source")
    csv: CsvOptions | None = Field(None, description="CSV x/y columns for point geometry")
    assume_crs: str | None = Field(
        None, description="CRS to assume when the file declares none (e.g. CSV, TopoJSON)"
    )
    encoding: str | None = None

    @model_validator(mode="after")
    def _one_location(self) -> Source:
        if bool(self.path) == bool(self.url):
            raise ValueError("give exactly one of 'path' or 'url'")
        return self


class Join(_Model):
    """An attribute table joined to the features by key."""

    path: str = Field(description="Table (CSV) relative to the data root")
    left_key: str = Field(description="Key field in the layer")
    right_key: str = Field(description="Key column in the table (read as text)")
    na_values: list[str] = Field(default_factory=list, description="Extra strings meaning 'missing'")
    fields: list[str] | None = Field(None, description="Columns to keep (default: all)")
    how: Literal["left", "inner"] = "left"


class DerivedRaster(_Model):
    """A raster computed at publish time from another published layer."""

    method: Literal["population_density"] = "population_density"
    input_layer: str = Field(description="Id of the vector layer it is made from")
    value_field: str = Field(description="Count field spread over the input polygons")
    cell_size: float = Field(250.0, gt=0, description="Cell size in metres")
    crs: str = Field("EPSG:5070", description="Equal-area CRS of the grid")


TOTAL_GROUP = "total"
"""Group id of everyone (the total population): reserved, a record's group may not use it."""
REST_GROUP = "rest"
"""Group id of everyone not in the compared group (a reference): reserved likewise."""


class EquityGroup(_Model):
    """One population group carried by a layer (its id is neither ``total`` nor ``rest``)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    field: str = Field(description="Field holding the group's count or percentage")
    kind: Literal["count", "percent"] = "count"
    moe_field: str | None = Field(None, description="90% margin of error of the field (same unit)")

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in (TOTAL_GROUP, REST_GROUP):
            raise ValueError(f"group id '{value}' is reserved (the equity API uses it for everyone / everyone else)")
        return value


class EquityDimensions(_Model):
    """Which fields give population by group."""

    total_field: str = Field(description="Total population field (a count)")
    total_moe_field: str | None = None
    groups: list[EquityGroup] = Field(min_length=1)
    universe: str = Field("total population", description="What the counts count")
    vintage: str | None = Field(None, description="e.g. 'ACS 2012-2016 5-year'")


class TemporalExtent(_Model):
    start: dt.date | None = None
    end: dt.date | None = None


class LayerRecord(_Model):
    """A state layer: what it is, who publishes it, where it comes from and how to check it."""

    id: str = Field(pattern=LAYER_ID, description="Lowercase slug without dots (QGIS breaks on dots)")
    kind: Literal["vector", "raster"] = "vector"
    title: str = Field(min_length=1)
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    theme: str = Field(description="e.g. boundaries, demographics, health, education, hazards")
    publisher: Publisher | None = None
    contact: Contact | None = None
    license: License | None = None
    attribution: str | None = None

    source: Source | None = None
    derived: DerivedRaster | None = None
    join: Join | None = None
    id_field: str | None = Field(None, description="Unique feature identifier field")
    geometry_type: GeometryType | None = Field(
        None, description="Expected geometry type (the Multi- variant is accepted too)"
    )
    crs: str | None = Field(
        None, description="Declared CRS; must agree with the file's own CRS when it has one"
    )
    clip_to_state: bool = Field(
        False, description="Keep only features within the state's extent at publish (national layers)"
    )
    time_field: str | None = Field(None, description="Date/time field for the OGC 'datetime' parameter")

    update_cadence: str = Field(description="ISO 8601 duration (e.g. P1Y) or 'static'")
    last_updated: dt.date | None = None
    temporal_extent: TemporalExtent | None = None
    sensitivity: Literal["public", "restricted"] = "public"
    equity: EquityDimensions | None = None

    @field_validator("update_cadence")
    @classmethod
    def _cadence(cls, value: str) -> str:
        if value != "static" and not ISO_DURATION.match(value):
            raise ValueError("must be an ISO 8601 duration such as P1Y or P3M, or 'static'")
        return value

    @model_validator(mode="after")
    def _source_or_derived(self) -> LayerRecord:
        if (self.source is None) == (self.derived is None):
            raise ValueError("give exactly one of 'source' or 'derived'")
        if self.derived is not None and self.kind != "raster":
            raise ValueError("'derived' layers must be of kind 'raster'")
        return self


REQUIRED_METADATA = (
    "title",
    "description",
    "keywords",
    "theme",
    "publisher",
    "contact",
    "license",
    "attribution",
    "last_updated",
    "temporal_extent",
)
"""Fields counted by the metadata-completeness score."""
