"""The one geometry repair: validation reports what it would do, publish applies it and records its notes.

Steps, in order: drop null/empty geometries, drop Z, remove repeated consecutive vertices, repair
invalid geometries with ``make_valid`` (``structure`` for polygons, so they stay polygonal;
``linework`` otherwise), drop what collapsed to nothing. Sliver polygons are found, counted and
left unchanged (a sliver may be real). Each step that changed something adds one note.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from geosvc.validate.features import example_ids

SLIVER_THINNESS = 0.02  # 4*pi*area/perimeter^2: 1 for a circle, ~0.785 for a square, ~0.006 for a 1000 x 2 strip
SLIVER_AREA_SHARE = 0.01  # ... and smaller than this share of the layer's median polygon area
_POLYGON_TYPES = (3, 6)  # shapely type ids of Polygon, MultiPolygon
_POINT_TYPES = (0, 4)  # Point, MultiPoint: no vertices to repeat


@dataclass
class Repair:
    """What :func:`repair_geometries` did; masks are over the input rows."""

    frame: gpd.GeoDataFrame
    notes: list[str] = field(default_factory=list)
    dropped: np.ndarray | None = None  # null or empty
    has_z: np.ndarray | None = None
    repeated: np.ndarray | None = None  # geometries with repeated consecutive vertices
    repeated_vertices: int = 0
    invalid: np.ndarray | None = None
    collapsed: np.ndarray | None = None  # invalid geometries make_valid turned into nothing (dropped)
    slivers: np.ndarray | None = None


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def find_slivers(geoms: np.ndarray) -> np.ndarray:
    """Polygons with a part thinner than :data:`SLIVER_THINNESS` and smaller than a share of the median area.

    >>> strip, square = shapely.box(0, 0, 1000, 2), shapely.box(0, 0, 1000, 1000)
    >>> find_slivers(np.array([strip, square, square])).tolist()
    [True, False, False]
    """
    out = np.zeros(len(geoms), dtype=bool)
    polygonal = np.isin(shapely.get_type_id(geoms), _POLYGON_TYPES) & ~shapely.is_empty(geoms)
    if not polygonal.any():
        return out
    parts, owner = shapely.get_parts(geoms[polygonal], return_index=True)
    area, perimeter = shapely.area(parts), shapely.length(parts)
    with np.errstate(divide="ignore", invalid="ignore"):
        thinness = np.where(perimeter > 0, 4 * np.pi * area / perimeter**2, 1.0)
    small = area < SLIVER_AREA_SHARE * np.median(shapely.area(geoms[polygonal]))
    thin_owner = np.unique(owner[(thinness < SLIVER_THINNESS) & small])
    out[np.flatnonzero(polygonal)[thin_owner]] = True
    return out


def _repeated_vertices(geoms: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, int]:
    """Lines and polygons with a vertex repeated consecutively (mask), and how many repeats they hold."""
    repeated = np.zeros(len(geoms), dtype=bool)
    candidates = np.flatnonzero(usable & ~np.isin(shapely.get_type_id(geoms), _POINT_TYPES))
    if len(candidates) == 0:
        return repeated, 0
    coords, owner = shapely.get_coordinates(geoms[candidates], return_index=True)
    same = (owner[1:] == owner[:-1]) & (coords[1:] == coords[:-1]).all(axis=1)
    suspects = candidates[np.unique(owner[1:][same])]  # (a ring's last point may equal the next ring's first)
    removed = shapely.get_num_coordinates(geoms[suspects]) - shapely.get_num_coordinates(
        shapely.remove_repeated_points(geoms[suspects], tolerance=0)
    )
    repeated[suspects[removed > 0]] = True
    return repeated, int(removed.sum())


def _make_valid(geoms: np.ndarray) -> np.ndarray:
    polygonal = np.isin(shapely.get_type_id(geoms), _POLYGON_TYPES)
    fixed = geoms.copy()
    fixed[polygonal] = shapely.make_valid(geoms[polygonal], method="structure", keep_collapsed=False)
    fixed[~polygonal] = shapely.make_valid(geoms[~polygonal])
    return fixed


def repair_geometries(frame: gpd.GeoDataFrame, id_field: str | None = None) -> Repair:
    """Repair ``frame``'s geometries (see the module docstring); the input is not modified.

    Returns
    -------
    Repair
        The repaired copy (kept rows in their order, index reset), one note per step that changed
        something (with example ids from ``id_field``, else row numbers) and a mask per step.

    Examples
    --------
    >>> bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    >>> done = repair_geometries(gpd.GeoDataFrame(geometry=[bowtie, None]))
    >>> done.frame.geom_type.tolist(), done.notes[1]
    (['MultiPolygon'], 'repaired 1 invalid geometry with shapely.make_valid (structure method for polygons) (e.g. row 0)')
    """
    geoms = np.asarray(frame.geometry.array).copy()
    n = len(geoms)

    def eg(mask: np.ndarray) -> str:
        return ", ".join(example_ids(frame, mask, id_field))

    result = Repair(frame)
    notes = result.notes
    dropped = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if dropped.any():
        notes.append(f"dropped {int(dropped.sum())} feature(s) with null or empty geometry (e.g. {eg(dropped)})")
    usable = ~dropped

    has_z = usable & shapely.has_z(geoms)
    if has_z.any():
        geoms[has_z] = shapely.force_2d(geoms[has_z])
        notes.append(f"dropped the Z (3D) coordinates of {_plural(int(has_z.sum()), 'geometry', 'geometries')}; x/y unchanged (e.g. {eg(has_z)})")

    repeated, removed = _repeated_vertices(geoms, usable)
    if repeated.any():
        geoms[repeated] = shapely.remove_repeated_points(geoms[repeated], tolerance=0)
        result.repeated_vertices = removed
        notes.append(
            f"removed {removed} repeated consecutive vertices from "
            f"{_plural(int(repeated.sum()), 'geometry', 'geometries')}; shapes unchanged (e.g. {eg(repeated)})"
        )

    invalid = usable & ~shapely.is_valid(geoms)
    collapsed = np.zeros(n, dtype=bool)
    if invalid.any():
        geoms[invalid] = _make_valid(geoms[invalid])
        notes.append(
            f"repaired {_plural(int(invalid.sum()), 'invalid geometry', 'invalid geometries')} with shapely.make_valid "
            f"(structure method for polygons) (e.g. {eg(invalid)})"
        )
        collapsed = invalid & shapely.is_empty(geoms)
        if collapsed.any():
            notes.append(f"dropped {int(collapsed.sum())} feature(s) that collapsed to nothing when repaired (e.g. {eg(collapsed)})")

    keep = usable & ~collapsed
    slivers = keep & find_slivers(geoms)
    if slivers.any():
        notes.append(
            f"published {_plural(int(slivers.sum()), 'sliver polygon', 'sliver polygons')} unchanged "
            f"(thinness below {SLIVER_THINNESS}; check them at the source) (e.g. {eg(slivers)})"
        )
    if keep.all() and not (has_z.any() or repeated.any() or invalid.any()):
        result.frame = frame.reset_index(drop=True)  # nothing changed
    else:
        out = frame.loc[keep].copy()
        out[frame.geometry.name] = gpd.GeoSeries(geoms[keep], index=out.index, crs=frame.crs)
        result.frame = out.reset_index(drop=True)
    result.dropped, result.has_z, result.repeated, result.invalid = dropped, has_z, repeated, invalid
    result.collapsed, result.slivers = collapsed, slivers
    return result
