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


SourceKind = Literal["file", "http", "ogcapi", "wfs", "arcgis", "socrata"]
REMOTE_KINDS = ("http", "ogcapi", "wfs", "arcgis", "socrata")
ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


class Credentials(_Model):
    """Names of environment variables holding a source's secrets (never the secrets themselves)."""

    token: str | None = Field(
        None, pattern=ENV_NAME,
        description="Variable with a token: Bearer (http, ogcapi, wfs), X-Esri-Authorization (arcgis), X-App-Token (socrata)",
    )
    username: str | None = Field(None, pattern=ENV_NAME, description="Variable with the HTTP basic user name")
    password: str | None = Field(None, pattern=ENV_NAME, description="Variable with the HTTP basic password")

    @model_validator(mode="after")
    def _pair(self) -> Credentials:
        if bool(self.username) != bool(self.password):
            raise ValueError("give both 'username' and 'password' (or neither)")
        return self


class Source(_Model):
    """Where the layer's data comes from: a path under the data root, or a remote source of some kind."""

    kind: SourceKind = Field(
        "file",
        description="file (path under the data root), http (a file at a URL), ogcapi (an OGC API Features "
        "collection), wfs (a WFS 2 layer), arcgis (an ArcGIS REST FeatureServer/MapServer layer), socrata "
        "(a Socrata dataset). Default: file with 'path', http with 'url'",
    )
    path: str | None = Field(None, description="Path relative to the configured data root")
    url: str | None = Field(
        None, description="http: the file; ogcapi: the API (with 'collection') or the collection; wfs: the "
        "service endpoint; arcgis: the layer (…/FeatureServer/0); socrata: the dataset (…/resource/<4x4>)"
    )
    layer: str | None = Field(None, description="Layer inside a zip / GeoPackage / multi-layer source")
    collection: str | None = Field(None, description="ogcapi: collection id under 'url'")
    typename: str | None = Field(None, description="wfs: feature type name (e.g. ms:schools)")
    page_size: int | None = Field(None, ge=1, le=100_000, description="ogcapi/arcgis/socrata: features per request")
    format: Literal["geojson", "json", "csv"] | None = Field(
        None, description="arcgis: geojson (default) or json (Esri JSON); socrata: geojson (default) or csv"
    )
    credentials_env: Credentials | None = Field(
        None, description="Environment variables holding the source's credentials"
    )
    csv: CsvOptions | None = Field(None, description="CSV x/y columns for point geometry")
    assume_crs: str | None = Field(
        None, description="CRS to assume when the file declares none (e.g. CSV, TopoJSON)"
    )
    encoding: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_kind(cls, data):
        if isinstance(data, dict) and "kind" not in data:
            data = {**data, "kind": "http" if data.get("url") and not data.get("path") else "file"}
        return data

    @model_validator(mode="after")
    def _one_location(self) -> Source:
        if bool(self.path) == bool(self.url):
            raise ValueError("give exactly one of 'path' or 'url'")
        if (self.kind == "file") != bool(self.path):
            raise ValueError(f"a '{self.kind}' source needs {'path' if self.kind == 'file' else 'url'}")
        required = {"wfs": "typename"}.get(self.kind)
        if required and not getattr(self, required):
            raise ValueError(f"a 'wfs' source needs '{required}'")
        formats = {"arcgis": ("geojson", "json"), "socrata": ("geojson", "csv")}.get(self.kind, ())
        if self.format and self.format not in formats:
            raise ValueError(f"format '{self.format}' does not apply to a '{self.kind}' source")
        return self

    @property
    def remote(self) -> bool:
        """True when ``geosvc sync`` fetches this source."""
        return self.kind in REMOTE_KINDS


class Sync(_Model):
    """How often ``geosvc sync --watch`` fetches the layer's remote source."""

    every: str = Field(description="ISO 8601 duration between syncs, e.g. PT6H")

    @field_validator("every")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not ISO_DURATION.match(value):
            raise ValueError("must be an ISO 8601 duration such as PT6H or P1D")
        return value


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
GROUP_ID = r"^[a-z][a-z0-9_]*$"


class EquityGroup(_Model):
    """One population group carried by a layer (its id is neither ``total`` nor ``rest``)."""

    id: str = Field(pattern=GROUP_ID)
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


Dimension = Literal[
    "race_ethnicity", "sex_gender", "age", "disability", "language", "income",
    "sexual_orientation", "veteran_status", "nativity",
]


class Disaggregation(_Model):
    """One demographic dimension a layer is broken down by, and with which category scheme."""

    dimension: Dimension
    scheme: str = Field(min_length=1, description="Category scheme, e.g. 'OMB 1997' or 'ACS age groups'")
    categories: list[str] = Field(min_length=1, description="Categories the layer carries")
    fields: list[str] = Field(default_factory=list, description="Fields holding the categories' values")


CATEGORY_ID = r"^[a-z0-9][a-z0-9_]*$"
"""A record-level category id: like a group id, but it may start with a digit (age bands such as 0_17)."""
RESERVED_DIMENSIONS = (TOTAL_GROUP, REST_GROUP, "place_id", "count")
"""Names a record-level dimension may not take (tabulate's answer uses them as columns)."""
MAX_RECORD_DIMENSIONS = 4


class RecordDimension(_Model):
    """One demographic field of a record-level layer and the categories its values must be."""

    name: str = Field(pattern=GROUP_ID, description="Dimension name, e.g. race_ethnicity, sex, age_band")
    field: str = Field(description="Source field holding the category")
    categories: list[str] = Field(min_length=1, description="Category ids every value must be one of")
    labels: dict[str, str] = Field(default_factory=dict, description="Optional category id -> label")
    scheme: str | None = Field(None, description="Category scheme, e.g. 'OMB 1997'")

    @field_validator("name")
    @classmethod
    def _name_not_reserved(cls, value: str) -> str:
        if value in RESERVED_DIMENSIONS:
            raise ValueError(f"dimension name '{value}' is reserved ({', '.join(RESERVED_DIMENSIONS)})")
        return value

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if not re.match(CATEGORY_ID, c)]
        if bad:
            raise ValueError(f"category ids must match {CATEGORY_ID}: {', '.join(map(repr, bad[:5]))}")
        if TOTAL_GROUP in value:
            raise ValueError(f"category id '{TOTAL_GROUP}' is reserved (tabulate uses it for everyone)")
        if len(set(value)) != len(value):
            raise ValueError("categories must be unique")
        return value

    @model_validator(mode="after")
    def _labels_declared(self) -> RecordDimension:
        unknown = [k for k in self.labels if k not in self.categories]
        if unknown:
            raise ValueError(f"labels of dimension '{self.name}' name undeclared categories: {', '.join(unknown)}")
        return self


class GeoidLocation(_Model):
    """Records located by the id of a feature of another published layer (e.g. a tract GEOID)."""

    field: str = Field(description="Record field holding the geographic id (read as text)")
    layer: str = Field(pattern=LAYER_ID, description="Published layer whose features the ids refer to")
    key: str = Field(description="Field of that layer holding the id (e.g. GEOID10)")


class Denominators(_Model):
    """Population the record counts are compared with: a published layer with an ``equity:`` block."""

    layer: str = Field(pattern=LAYER_ID, description="Published population layer with an equity block")
    categories: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Dimension name -> {category id -> equity group id of that layer}; the total population "
        "is the layer's total_field",
    )


class PrivacyBudget(_Model):
    """Differential-privacy budget of a record-level layer's tabulations."""

    epsilon: float = Field(1.0, gt=0, allow_inf_nan=False, description="Privacy loss of one release")
    budget: float = Field(1.0, gt=0, allow_inf_nan=False,
                          description="Total privacy loss allowed per layer version (>= epsilon)")

    @model_validator(mode="after")
    def _budget_covers_release(self) -> PrivacyBudget:
        if self.budget < self.epsilon:
            raise ValueError(f"privacy.budget ({self.budget:g}) must be at least privacy.epsilon ({self.epsilon:g})")
        return self


class RecordLevel(_Model):
    """A restricted layer of one row per person or event, tabulated (protected) by published geographies."""

    dimensions: list[RecordDimension] = Field(min_length=1, max_length=MAX_RECORD_DIMENSIONS)
    geographies: list[str] = Field(
        min_length=1, description="Published layer ids tabulations may group by (e.g. ct-towns, ct-tracts-2010)"
    )
    location: GeoidLocation | None = Field(
        None, description="Where a record is: a geographic id (becomes the feature's representative point at "
        "publish); none: the features' own point geometry"
    )
    denominators: Denominators | None = None
    privacy: PrivacyBudget = Field(default_factory=PrivacyBudget)
    suppression_k: int | None = Field(
        None, ge=1, description="Stricter small-count threshold (never below settings.equity.suppression_k)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> RecordLevel:
        names = [d.name for d in self.dimensions]
        if len(set(names)) != len(names):
            raise ValueError("record_level.dimensions: each name may be declared only once")
        if len(set(self.geographies)) != len(self.geographies):
            raise ValueError("record_level.geographies must be unique")
        bad = [g for g in self.geographies if not re.match(LAYER_ID, g)]
        if bad:
            raise ValueError(f"record_level.geographies: not layer ids: {', '.join(bad)}")
        if self.denominators is not None:
            declared = {d.name: d for d in self.dimensions}
            for name, mapping in self.denominators.categories.items():
                if name not in declared:
                    raise ValueError(f"record_level.denominators.categories: '{name}' is not a declared dimension")
                unknown = [c for c in mapping if c not in declared[name].categories]
                if unknown:
                    raise ValueError(
                        f"record_level.denominators.categories.{name}: undeclared categories {', '.join(unknown)}"
                    )
        return self


class Access(_Model):
    """Who may read a restricted layer: callers holding any of ``roles`` (or an approved grant)."""

    roles: list[str] = Field(default_factory=list, description="Roles that may read the layer (empty: nobody)")


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
    outside_state_extent: Literal["refuse", "drop", "keep"] = Field(
        "refuse",
        description=(
            "Features whose extent does not touch the state's bounding box: 'refuse' (an error, the default "
            "for a state layer), 'drop' them at publish (features touching the box are kept whole), or "
            "'keep' them (a layer that is wider than the state on purpose)"
        ),
    )
    time_field: str | None = Field(None, description="Date/time field for the OGC 'datetime' parameter")

    update_cadence: str = Field(description="ISO 8601 duration (e.g. P1Y) or 'static'")
    sync: Sync | None = Field(
        None, description="Sync schedule of a remote source (default: derived from update_cadence)"
    )
    last_updated: dt.date | None = None
    temporal_extent: TemporalExtent | None = None
    sensitivity: Literal["public", "restricted"] = "public"
    access: Access | None = Field(
        None, description="Roles that may read a restricted layer; a restricted layer without roles is served to nobody"
    )
    equity: EquityDimensions | None = None
    disaggregation: list[Disaggregation] = Field(
        default_factory=list, description="Demographic dimensions carried, one entry per dimension"
    )
    record_level: RecordLevel | None = Field(
        None, description="One row per person or event (restricted, vector): declared categories, location "
        "and the geographies protected counts may be tabulated by"
    )

    @field_validator("update_cadence")
    @classmethod
    def _cadence(cls, value: str) -> str:
        if value != "static" and not ISO_DURATION.match(value):
            raise ValueError("must be an ISO 8601 duration such as P1Y or P3M, or 'static'")
        return value

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data):
        if isinstance(data, dict) and "clip_to_state" in data:
            raise ValueError("'clip_to_state' was renamed: write 'outside_state_extent: drop' (or keep / refuse)")
        return data

    @model_validator(mode="after")
    def _source_or_derived(self) -> LayerRecord:
        if (self.source is None) == (self.derived is None):
            raise ValueError("give exactly one of 'source' or 'derived'")
        if self.derived is not None and self.kind != "raster":
            raise ValueError("'derived' layers must be of kind 'raster'")
        dimensions = [entry.dimension for entry in self.disaggregation]
        if len(set(dimensions)) != len(dimensions):
            raise ValueError("each disaggregation dimension may be declared only once")
        if self.sync is not None and not (self.source and self.source.remote):
            raise ValueError("'sync' needs a remote source (a url)")
        if self.access is not None and self.sensitivity != "restricted":
            raise ValueError("'access' applies only to layers with sensitivity 'restricted'")
        if self.record_level is not None:
            self._check_record_level()
        return self

    def _check_record_level(self) -> None:
        if self.sensitivity != "restricted":
            raise ValueError("'record_level' needs sensitivity 'restricted' (rows describe people)")
        if self.kind != "vector":
            raise ValueError("'record_level' needs kind 'vector'")
        if self.record_level.location is not None and self.source is not None and self.source.csv is not None:
            raise ValueError("'record_level.location' and 'source.csv' exclude each other (records are located by id)")
        if self.record_level.location is None and self.geometry_type not in ("Point", "MultiPoint"):
            raise ValueError(
                "'record_level' without 'location' needs geometry_type Point or MultiPoint "
                "(records are located by their own points)"
            )
        if self.geometry_type not in (None, "Point", "MultiPoint"):
            raise ValueError(
                f"'record_level' layers are point layers (geometry_type Point), not {self.geometry_type}: "
                "a record located by id becomes the representative point of its feature"
            )


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
