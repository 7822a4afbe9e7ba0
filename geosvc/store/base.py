"""The store interface. The embedded GeoPackage/SQLite store implements it; a PostGIS store can too.

Everything downstream (OGC API, equity) reads published layers only through this interface.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from geosvc.records.models import LayerRecord

if TYPE_CHECKING:
    import geopandas as gpd

    from geosvc.validate.findings import LayerReport


@dataclass(frozen=True)
class PublishedLayer:
    """One published version of a layer, as recorded in the catalog."""

    id: str
    version: int
    kind: Literal["vector", "raster"]
    path: Path  # GeoPackage (vector, CRS84 lon/lat, layer name = id) or COG (raster)
    checksum: str  # sha256 of the published file
    published_at: dt.datetime
    record: LayerRecord
    native_crs: str  # authority code or WKT2 of the source
    bbox: tuple[float, float, float, float]  # CRS84
    feature_count: int | None = None  # vectors
    geometry_type: str | None = None  # vectors
    fields: dict[str, str] = field(default_factory=dict)  # name -> "string" | "integer" | "number" | "date" | "datetime" | "boolean"
    notes: list[str] = field(default_factory=list)  # what publish did: repairs, clipping, derivation

    @property
    def etag(self) -> str:
        """Strong validator for HTTP caching, derived from the version's checksum."""
        return f'"{self.id}-v{self.version}-{self.checksum[:16]}"'


@dataclass(frozen=True)
class ValidationRun:
    """One recorded validation of one layer (``findings`` as :meth:`Finding.as_dict` dicts)."""

    run_id: int
    layer: str
    run_at: dt.datetime
    ok: bool
    errors: int
    warnings: int
    completeness: float
    stale: bool
    findings: list[dict[str, Any]]


@dataclass(frozen=True)
class LayerEvent:
    """Something that happened to a layer: a publish or sync attempt and its outcome, a withdrawal."""

    event_id: int
    layer: str
    at: dt.datetime
    kind: str  # "publish", "sync", "withdraw", ...
    outcome: str  # "published", "unchanged", "failed", ...
    version: int | None
    message: str
    detail: dict[str, Any]


class Store(Protocol):
    """What the rest of geosvc needs from a store."""

    def published(self) -> list[PublishedLayer]:
        """Latest published version of every layer, sorted by id."""

    def get(self, layer_id: str) -> PublishedLayer:
        """Latest published version; raises :class:`geosvc.errors.NotPublished`."""

    def read_features(self, layer_id: str) -> gpd.GeoDataFrame:
        """Features of the latest version in CRS84 (lon/lat); the id field is a column."""

    def publish(self, record: LayerRecord, artifact: Path, **meta) -> PublishedLayer:
        """Atomically make ``artifact`` (a finished GeoPackage or COG) the new version."""

    def versions(self, layer_id: str) -> list[PublishedLayer]:
        """Every published version of a layer, oldest first (empty if never published)."""

    def record_validation(self, report: LayerReport) -> int:
        """Store one validation run of a layer; returns its run id."""

    def validations(self, layer_id: str | None = None, latest: bool = True) -> list[ValidationRun]:
        """Validation runs (by default only the latest per layer), sorted by layer then run."""

    def record_event(self, layer_id: str, kind: str, outcome: str, *, version: int | None = None,
                     message: str = "", detail: dict[str, Any] | None = None) -> int:
        """Append one event of a layer (publish/sync attempts and their outcome); returns its id."""

    def events(self, layer_id: str | None = None, kind: str | None = None,
               since: dt.datetime | None = None) -> list[LayerEvent]:
        """Recorded events, oldest first, optionally of one layer / kind / since a time."""
