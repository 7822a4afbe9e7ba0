"""Geometry rules (vectorised with shapely 2) and the repair publish applies."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geosvc.records.models import LayerRecord
from geosvc.validate.codes import make_finding
from geosvc.validate.features import example_ids
from geosvc.validate.findings import Finding

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


def check_geometry(frame: gpd.GeoDataFrame, record: LayerRecord) -> list[Finding]:
    """Findings for null, empty, invalid, mixed-type and unexpected-type geometries."""
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

    invalid = usable & ~shapely.is_valid(geoms)
    if invalid.any():
        count = int(invalid.sum())
        reasons = sorted(set(shapely.is_valid_reason(geoms[np.flatnonzero(invalid)[:5]]).tolist()))
        findings.append(
            make_finding(
                layer, "geometry.invalid",
                f"{count} invalid geometries ({'; '.join(reasons)}); repaired with make_valid at publish",
                count=count, examples=example_ids(frame, invalid, id_field),
            )
        )

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


def repair_geometries(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, str]:
    """Drop null/empty geometries and repair invalid ones with ``make_valid``; say what was done.

    Polygonal layers are repaired with the ``structure`` method, which keeps polygons polygonal
    (a bowtie becomes a MultiPolygon; collapsed slivers are dropped), other layers with ``linework``.

    Returns
    -------
    (GeoDataFrame, str)
        A repaired copy (original row order, index reset) and a one-line note, '' when nothing changed.

    Examples
    --------
    >>> bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    >>> fixed, note = repair_geometries(gpd.GeoDataFrame(geometry=[bowtie, None]))
    >>> fixed.geom_type.tolist(), note
    (['MultiPolygon'], 'dropped 1 null/empty geometries; repaired 1 invalid geometries with make_valid')
    """
    geoms = np.asarray(frame.geometry.array)
    drop = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    kept = frame.loc[~drop].reset_index(drop=True)
    geoms = geoms[~drop]
    invalid = ~shapely.is_valid(geoms)
    notes = []
    if drop.any():
        notes.append(f"dropped {int(drop.sum())} null/empty geometries")
    if invalid.any():
        polygonal = geometry_families(geoms[invalid]) == _RECORD_FAMILY["Polygon"]
        fixed = geoms.copy()
        idx = np.flatnonzero(invalid)
        fixed[idx[polygonal]] = shapely.make_valid(geoms[idx[polygonal]], method="structure", keep_collapsed=False)
        fixed[idx[~polygonal]] = shapely.make_valid(geoms[idx[~polygonal]])
        kept[kept.geometry.name] = gpd.GeoSeries(fixed, index=kept.index, crs=frame.crs)
        notes.append(f"repaired {int(invalid.sum())} invalid geometries with make_valid")
    return kept, "; ".join(notes)
