"""Geometry rules (vectorised with shapely 2); what the repair would change is reported too."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geosvc.records.models import LayerRecord
from geosvc.validate.codes import make_finding
from geosvc.validate.features import example_ids
from geosvc.validate.findings import Finding
from geosvc.validate.repair import SLIVER_THINNESS, repair_geometries

FAMILIES = ("point", "line", "polygon", "collection")
_FAMILY_OF_TYPE = np.array([0, 1, 1, 2, 0, 1, 2, 3])  # shapely type id -> index in FAMILIES
NULL = -1
_RECORD_FAMILY = {
    "Point": 0,
    "MultiPoint": 0,
    "LineString": 1,
    "MultiLineString": 1,
    "Polygon": 2,
    "MultiPolygon": 2,
}


def geometry_families(geoms: np.ndarray) -> np.ndarray:
    """Family of each geometry as an index into :data:`FAMILIES` (``-1`` for null).

    >>> geometry_families(np.array([shapely.Point(0, 0), None, shapely.box(0, 0, 1, 1)])).tolist()
    [0, -1, 2]
    """
    ids = shapely.get_type_id(geoms)
    return np.where(ids >= 0, _FAMILY_OF_TYPE[np.clip(ids, 0, 7)], NULL)


def _repair_findings(frame: gpd.GeoDataFrame, record: LayerRecord) -> list[Finding]:
    """What :func:`repair_geometries` would change at publish (or, for slivers, leave as is)."""
    id_field = record.id_field
    done = repair_geometries(frame, id_field)
    severity = None
    invalid_tail = ""
    if done.invalid.any():
        geoms = np.asarray(frame.geometry.array)
        reasons = sorted(set(shapely.is_valid_reason(geoms[np.flatnonzero(done.invalid)[:5]]).tolist()))
        lost = int(done.collapsed.sum())
        invalid_tail = f" ({'; '.join(reasons)}); repaired with make_valid at publish"
        invalid_tail += f"; {lost} collapse to nothing and are dropped" if lost else ""
        if len(done.frame) == 0:
            invalid_tail, severity = invalid_tail + "; nothing is left to publish", "error"
    cases = (
        ("geometry.has_z", done.has_z, "have Z (3D) coordinates; Z is dropped at publish", None),
        ("geometry.duplicate_vertices", done.repeated,
         f"repeat a vertex consecutively ({done.repeated_vertices} repeats); removed at publish", None),
        ("geometry.invalid", done.invalid, f"are invalid{invalid_tail}", severity),
        ("geometry.sliver", done.slivers,
         f"are sliver polygons (thinness below {SLIVER_THINNESS}, small for this layer); published unchanged", None),
    )
    return [
        make_finding(
            record.id, code, f"{int(mask.sum())} geometries {what}", count=int(mask.sum()),
            examples=example_ids(frame, mask, id_field), severity=level,
        )
        for code, mask, what, level in cases
        if mask.any()
    ]


def check_geometry(frame: gpd.GeoDataFrame, record: LayerRecord) -> list[Finding]:
    """Findings for null, empty, 3D, repeated-vertex, invalid, sliver, mixed-type and unexpected-type geometries."""
    layer, id_field = record.id, record.id_field
    geoms = np.asarray(frame.geometry.array)
    null = shapely.is_missing(geoms)
    empty = shapely.is_empty(geoms) & ~null
    usable = ~(null | empty)
    n = len(geoms)
    none_usable = n > 0 and not usable.any()
    findings: list[Finding] = []
    for code, mask, what in (("geometry.null", null, "have no geometry"), ("geometry.empty", empty, "have an empty geometry")):
        if mask.any():
            count = int(mask.sum())
            tail = "; no feature has a usable geometry" if none_usable else "; dropped at publish"
            findings.append(
                make_finding(
                    layer, code, f"{count} of {n} features {what}{tail}", count=count,
                    examples=example_ids(frame, mask, id_field), severity="error" if none_usable else None,
                )
            )

    findings += _repair_findings(frame, record) if usable.any() else []
    families = geometry_families(geoms)
    counts = np.bincount(families[usable], minlength=len(FAMILIES))
    if np.count_nonzero(counts) > 1:
        summary = ", ".join(f"{counts[i]} {FAMILIES[i]}" for i in np.argsort(-counts) if counts[i])
        minority = usable & (families != np.argmax(counts))
        findings.append(
            make_finding(
                layer, "geometry.mixed_types", f"mixed geometry families: {summary}",
                count=int(minority.sum()), examples=example_ids(frame, minority, id_field),
            )
        )
    if record.geometry_type:
        expected = _RECORD_FAMILY[record.geometry_type]
        unexpected = usable & (families != expected)
        if unexpected.any():
            found = ", ".join(FAMILIES[i] for i in np.unique(families[unexpected]))
            findings.append(
                make_finding(
                    layer, "geometry.unexpected_type",
                    f"{int(unexpected.sum())} features are {found}, the record expects {record.geometry_type}",
                    count=int(unexpected.sum()), examples=example_ids(frame, unexpected, id_field),
                )
            )
    return findings
