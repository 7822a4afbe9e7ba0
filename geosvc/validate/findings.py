"""The result types of validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import geopandas as gpd

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    """One check's outcome for one layer: a stable ``code`` (e.g. ``crs.missing``), a count and examples."""

    layer: str
    code: str
    severity: Severity
    message: str
    count: int = 1
    examples: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "count": self.count,
            "examples": list(self.examples),
        }


@dataclass
class LayerReport:
    """All findings for one layer plus what publish needs (the data as read, the completeness)."""

    layer: str
    findings: list[Finding] = field(default_factory=list)
    completeness: float = 0.0  # 0..1 share of REQUIRED_METADATA present
    stale: bool = False
    data: gpd.GeoDataFrame | None = None  # source as read (native CRS), for publish; None for rasters/failures
    raster_path: str | None = None  # raster source as a GDAL path, for publish

    @property
    def ok(self) -> bool:
        """True when no finding is an error."""
        return not any(f.severity == "error" for f in self.findings)
