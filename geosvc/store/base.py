"""The store interface: what publishing, serving and analysis need of a backend.

The embedded GeoPackage/SQLite store implements it; a PostGIS store can too. Everything downstream
(OGC API, equity, reports) reads published layers only through this interface, naming the version
it reads, so a request never mixes two versions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from geosvc.crs import CRS84_URI
from geosvc.records.models import LayerRecord
from geosvc.store.query import FeaturePage, FeatureQuery, FeatureRow

if TYPE_CHECKING:
    from collections.abc import Sequence

    import geopandas as gpd

    from geosvc.tiles.grid import TileAddress
    from geosvc.tiles.mvt import VectorTile

    from geosvc.validate.findings import LayerReport


@dataclass(frozen=True)
class PublishedLayer:
    """One published version of a layer, as recorded in the catalog."""

    id: str
    version: int
    kind: Literal["vector", "raster"]
    location: str  # where the backend keeps the version (opaque to callers)
    checksum: str  # sha256 of the published content as stored
    published_at: dt.datetime
    record: LayerRecord
    native_crs: str  # authority code or WKT2 of the source
    bbox: tuple[float, float, float, float]  # CRS84
    feature_count: int | None = None  # vectors
    geometry_type: str | None = None  # vectors
    fields: dict[str, str] = field(default_factory=dict)  # name -> "string" | "integer" | "number" | "date" | "datetime" | "boolean"
    notes: list[str] = field(default_factory=list)  # what publish did: repairs, clipping, derivation
    content_hash: str = ""  # sha256 of the record and source content it was published from

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


@dataclass(frozen=True)
class PrivacyRelease:
    """One formal-privacy release of a layer version, as recorded in the privacy ledger.

    ``payload`` is the noisy release itself (opaque bytes to the store; empty in listings),
    ``spent_after`` the version's total ε once this release was charged.
    """

    layer_id: str
    version: int
    key: str
    epsilon: float
    spent_after: float
    created: dt.datetime  # UTC
    payload: bytes


@dataclass(frozen=True)
class VectorVersion:
    """What publish hands a store for a new vector version (features already normalised to CRS84)."""

    frame: gpd.GeoDataFrame
    native_crs: str
    geometry_type: str
    fields: dict[str, str]
    notes: list[str]
    content_hash: str


@dataclass(frozen=True)
class RasterVersion:
    """What publish hands a store for a new raster version: a finished COG and its description."""

    cog: Path
    native_crs: str
    bbox: tuple[float, float, float, float]
    fields: dict[str, str]
    notes: list[str]
    content_hash: str


class Store(Protocol):
    """What the rest of geosvc needs from a store."""

    inline_budget_s: float
    """Seconds a small read may run on the server's event loop before it is retried in a worker
    thread (local CPU-bound reads); 0: always in a thread (reads that wait on a database server)."""

    # -- catalog ------------------------------------------------------------------------------
    def published(self) -> list[PublishedLayer]:
        """Latest version of every layer that is not withdrawn, sorted by id."""

    def get(self, layer_id: str, version: int | None = None) -> PublishedLayer:
        """The latest (or the given) version; raises :class:`geosvc.errors.NotPublished`."""

    def versions(self, layer_id: str) -> list[PublishedLayer]:
        """Every published version of a layer, oldest first (empty if never published)."""

    def withdrawn(self) -> set[str]:
        """Ids of layers withdrawn from serving (their versions are kept)."""

    def generation(self) -> int:
        """A number that changes whenever what is served changes (publish, withdraw)."""

    # -- writing ------------------------------------------------------------------------------
    def publish_vector(self, record: LayerRecord, version: VectorVersion) -> PublishedLayer:
        """Atomically make ``version`` the layer's next version (and serve the layer again)."""

    def publish_raster(self, record: LayerRecord, version: RasterVersion) -> PublishedLayer:
        """Atomically make the COG of ``version`` the layer's next version."""

    def restore(self, layer_id: str) -> bool:
        """Serve a withdrawn layer again; True if it was withdrawn."""

    def withdraw(self, layer_id: str) -> PublishedLayer:
        """Stop serving a layer without deleting its versions; raises NotPublished."""

    # -- reading a version --------------------------------------------------------------------
    def check(self, layer: PublishedLayer) -> None:
        """Raise :class:`geosvc.errors.StoreError` if the version cannot be read."""

    def query(self, layer: PublishedLayer, query: FeatureQuery, deadline: float | None = None) -> FeaturePage:
        """Matching features of a vector version: count and one page (``deadline``: monotonic time)."""

    def feature(self, layer: PublishedLayer, fid: str, *, wkb: bool = False, crs: str = CRS84_URI,
                deadline: float | None = None) -> FeatureRow | None:
        """One feature of a vector version by id (geometry in the OGC CRS URI ``crs``), or None."""

    def tile(self, layer: PublishedLayer, address: TileAddress, properties: Sequence[str],
             deadline: float | None = None, max_features: int = 10_000) -> VectorTile:
        """The Mapbox Vector Tile of ``address`` (one layer named ``layer.id``, only ``properties`` as
        attributes), by the overview rule of :mod:`geosvc.tiles.build`; an empty tile has no data."""

    def read_features(self, layer: PublishedLayer, query: FeatureQuery | None = None,
                      columns: list[str] | None = None) -> gpd.GeoDataFrame:
        """Features of a vector version (all, or those matching ``query``) in CRS84, in feature order."""

    def raster_source(self, layer: PublishedLayer) -> str:
        """A GDAL-readable path or URL of a raster version's COG."""

    # -- validation runs and events -----------------------------------------------------------
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

    # -- privacy ledger -----------------------------------------------------------------------
    def privacy_release(self, layer_id: str, version: int, key: str, epsilon: float, budget: float,
                        make: Callable[[], bytes]) -> PrivacyRelease:
        """The release ``key`` of a layer version, made once and kept.

        Atomically (across processes and instances): an existing release of the key is returned
        (nothing charged, ``make`` not called); one that would take the version's spent ε past
        ``budget`` raises :class:`geosvc.errors.PrivacyBudgetExhausted` (nothing stored); otherwise
        ``make()`` is called, its bytes are stored with ``epsilon`` and returned.
        """

    def privacy_spent(self, layer_id: str, version: int) -> float:
        """Total ε of the releases of a layer version (0 if none)."""

    def privacy_releases(self, layer_id: str) -> list[PrivacyRelease]:
        """Every release of a layer, by version then creation (metadata only: ``payload`` is empty)."""
