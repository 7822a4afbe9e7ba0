"""Coordinate rules: do the coordinates fit the declared CRS, given where the state is?

Everything is vectorised over per-feature bounding boxes; the search for a better CRS uses the
box centres of an evenly spaced sample of at most ``SAMPLE`` features. Lon/lat come from the
inverse projection on each CRS's own datum (:func:`geosvc.crs.to_lonlat`).

What can be detected against a state's extent: swapped axes, metres/feet read as degrees (and
degrees read as metres), feet read as metres, another State Plane zone or UTM zone, and an older
datum's State Plane grid (NAD27 Connecticut has other false origins than NAD83). What cannot:
NAD27 vs NAD83 vs WGS 84 *degrees* (tens of metres apart), or EPSG:2234 vs EPSG:6434 (NAD83 vs
NAD83(2011) in the same US-foot grid, centimetres apart): those coordinates fit either CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from geosvc.crs import CRS, crs_label, is_geographic, parse_crs, projected_crs_near, to_lonlat
from geosvc.records.models import LayerRecord
from geosvc.validate.codes import make_finding
from geosvc.validate.features import example_ids
from geosvc.validate.findings import Finding

SAMPLE = 2000
FITS = 0.5  # share of sampled features inside the state for a CRS to "fit"
MARGIN = 0.1  # state bbox margin (share of its size) when judging fit

Bbox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Fit:
    """How well reading the coordinates in ``crs`` (optionally with x/y swapped) places them in the state."""

    crs: str
    share: float
    swapped: bool = False


def _grow(bbox: Bbox, margin: float) -> Bbox:
    minx, miny, maxx, maxy = bbox
    dx, dy = (maxx - minx) * margin, (maxy - miny) * margin
    return minx - dx, miny - dy, maxx + dx, maxy + dy


def _inside(lon: np.ndarray, lat: np.ndarray, bbox: Bbox) -> np.ndarray:
    minx, miny, maxx, maxy = bbox
    return (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)


def share_inside(x: np.ndarray, y: np.ndarray, crs: CRS | str, bbox: Bbox) -> float:
    """Share of the points (x, y) in ``crs`` that fall in ``bbox`` (CRS84).

    >>> share_inside(np.array([-72.7]), np.array([41.6]), "EPSG:4326", (-73.7, 40.9, -71.8, 42.1))
    1.0
    """
    crs = parse_crs(crs)
    if crs is None or len(x) == 0:
        return 0.0
    lon, lat = to_lonlat(x, y, crs)
    return float(_inside(lon, lat, bbox).mean())


def best_fits(x: np.ndarray, y: np.ndarray, candidates: list[str], bbox: Bbox) -> list[Fit]:
    """Candidate CRSs that place at least :data:`FITS` of the points in ``bbox``, best first.

    >>> fits = best_fits(np.array([1e6]), np.array([6e5]), ["EPSG:6433", "EPSG:2234"], (-73.7, 40.9, -71.8, 42.1))
    >>> [f.crs for f in fits]
    ['EPSG:2234']
    """
    fits = [Fit(c, share_inside(x, y, c, bbox)) for c in candidates]
    fits = [f for f in fits if f.share >= FITS]
    return sorted(fits, key=lambda f: -f.share)  # stable: allowed CRSs keep their order on ties


def _centres(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds (n, 4) of every feature and the positions of those with finite bounds."""
    bounds = shapely.bounds(np.asarray(frame.geometry.array))
    usable = np.flatnonzero(np.isfinite(bounds).all(axis=1))
    return bounds, usable, np.linspace(0, len(usable) - 1, min(SAMPLE, len(usable))).astype(int)


def _candidates(declared: str, allowed: list[str], state: Bbox, *, degrees: bool) -> list[str]:
    """CRSs to try: geographic ones when the values look like degrees, else projected ones.

    Allowed CRSs come first, then (for projected) PROJ's CRSs used at the state's centre, which
    include the older datums' State Plane zones. Degree-sized values are never tried as metres or
    feet: they would all sit within a few hundred metres of some projection's false origin.
    """
    pool = list(allowed)
    if not degrees:
        pool += projected_crs_near((state[0] + state[2]) / 2, (state[1] + state[3]) / 2)
    ordered = []
    for code in dict.fromkeys(pool):
        parsed = parse_crs(code)
        if parsed is not None and bool(parsed.is_geographic) == degrees and code != declared:
            ordered.append(code)
    return ordered


def _search(x: np.ndarray, y: np.ndarray, declared: str, allowed: list[str], state: Bbox, near: Bbox) -> list[Fit]:
    """Fits of the sampled points in other CRSs, allowed ones first (stopping when one fits well)."""
    degrees = bool(np.all(np.abs(x) <= 180) and np.all(np.abs(y) <= 90))
    candidates = _candidates(declared, allowed, state, degrees=degrees)
    first = [c for c in candidates if c in allowed]
    fits = best_fits(x, y, first, near)
    if fits and fits[0].share >= 0.9:
        return fits
    return sorted(fits + best_fits(x, y, candidates[len(first):], near), key=lambda f: -f.share)


def _extents(bounds: np.ndarray, crs: CRS) -> np.ndarray:
    """Each feature's bounds (in ``crs``) as lon/lat extents, shape (n, 4)."""
    lon0, lat0 = to_lonlat(bounds[:, 0], bounds[:, 1], crs)
    if np.array_equal(bounds[:, 0], bounds[:, 2]) and np.array_equal(bounds[:, 1], bounds[:, 3]):
        lon1, lat1 = lon0, lat0  # points: one transform is enough
    else:
        lon1, lat1 = to_lonlat(bounds[:, 2], bounds[:, 3], crs)
    return np.column_stack([np.minimum(lon0, lon1), np.minimum(lat0, lat1), np.maximum(lon0, lon1), np.maximum(lat0, lat1)])


def _touching(extents: np.ndarray, bbox: Bbox) -> np.ndarray:
    minx, miny, maxx, maxy = bbox
    return (extents[:, 2] >= minx) & (extents[:, 0] <= maxx) & (extents[:, 3] >= miny) & (extents[:, 1] <= maxy)


def _mask(n: int, positions: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return mask


def _not_degrees(sx, sy, code: str, allowed: list[str], state: Bbox, near: Bbox, what: str) -> str:
    fits = _search(sx, sy, code, allowed, state, near)
    hint = f"; they fit {_names(fits)}" if fits else ""
    return f"{what} coordinates beyond ±180/±90, so not degrees as {code} says{hint}"


def _misplaced(
    sx: np.ndarray, sy: np.ndarray, crs: CRS, allowed: list[str], state: Bbox, state_name: str, what: str
) -> tuple[str, str]:
    """(code, message) when nothing lies in the state: swapped axes, another CRS that fits, or neither."""
    near, code = _grow(state, MARGIN), crs_label(crs)
    fits = [Fit(code, share_inside(sy, sx, crs, near), swapped=True)]
    fits += _search(sx, sy, code, allowed, state, near)
    fits = sorted((f for f in fits if f.share >= FITS), key=lambda f: -f.share)
    if fits and fits[0].swapped:
        return "coords.swapped_axes", (
            f"no {what} lies in {state_name} as {code}, but {fits[0].share:.0%} do with x and y swapped: "
            "latitude is stored as x"
        )
    if fits:
        return "coords.wrong_crs", (
            f"no {what} lies in {state_name} as {code} ({crs.name}); they fit {_names(fits)}: wrong zone, datum or units"
        )
    return "coords.outside_state", f"no {what} lies within {state_name} in {code}, and no other CRS places them there"


def check_coordinates(
    frame: gpd.GeoDataFrame, crs: CRS, record: LayerRecord, allowed: list[str], state: Bbox, state_name: str = "the state"
) -> list[Finding]:
    """Findings when coordinates contradict ``crs`` or lie outside the state.

    Degrees beyond ±180/±90 in a geographic CRS are ``coords.projected_as_geographic``. When no
    feature touches the state, x/y swapped and other CRSs (``allowed`` first, then PROJ's projected
    CRSs used at the state's centre) are tried on a sample of feature centres: the best one that
    places most features in the state names ``coords.swapped_axes`` or ``coords.wrong_crs``, and
    without one the layer is ``coords.outside_state``. Otherwise features not touching the state
    are ``coords.outside_state``: an error (e.g. part of the layer displaced), info when the record
    says ``outside_state_extent: drop`` (dropped at publish) or ``keep``.

    Parameters
    ----------
    frame
        The features as read; ``crs`` is the CRS they are declared in.
    allowed
        ``settings.crs.allowed``: tried first when looking for a CRS that fits.
    state
        ``settings.state.bbox`` (CRS84).
    """
    layer, n = record.id, len(frame)
    bounds, usable, sample = _centres(frame)
    if len(usable) == 0:
        return []
    b = bounds[usable]
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    sx, sy = cx[sample], cy[sample]
    near = _grow(state, MARGIN)
    code = crs_label(crs)

    if is_geographic(crs):
        out_of_range = (np.abs(cx) > 180) | (np.abs(cy) > 90)
        if out_of_range.any():
            count = int(out_of_range.sum())
            message = _not_degrees(sx, sy, code, allowed, state, near, f"{count} features have")
            examples = example_ids(frame, _mask(n, usable[out_of_range]), record.id_field)
            return [make_finding(layer, "coords.projected_as_geographic", message, count=count, examples=examples)]

    extents = _extents(b, crs)
    if not _touching(extents, near).any():
        examples = example_ids(frame, _mask(n, usable), record.id_field)
        found, message = _misplaced(sx, sy, crs, allowed, state, state_name, "feature")
        return [make_finding(layer, found, message, count=len(usable), examples=examples, severity="error")]

    outside = _mask(n, usable[~_touching(extents, state)])
    count = int(outside.sum())
    if count == 0:
        return []
    examples = example_ids(frame, outside, record.id_field)
    policy = record.outside_state_extent
    if policy == "drop":
        message = f"{count} of {len(usable)} features lie wholly outside {state_name}'s extent; dropped at publish (outside_state_extent: drop)"
        return [make_finding(layer, "coords.outside_state", message, count=count, examples=examples, severity="info")]
    if policy == "keep":
        message = f"{count} of {len(usable)} features lie wholly outside {state_name}'s extent; published, as the record says (outside_state_extent: keep)"
        return [make_finding(layer, "coords.outside_state", message, count=count, examples=examples, severity="info")]
    message = (
        f"{count} of {len(usable)} features lie wholly outside {state_name}'s extent (displaced, or a wider layer: "
        "say outside_state_extent: drop or keep in the record)"
    )
    return [make_finding(layer, "coords.outside_state", message, count=count, examples=examples)]


def check_grid_placement(
    x: np.ndarray, y: np.ndarray, crs: CRS, layer: str, allowed: list[str], state: Bbox, state_name: str = "the state"
) -> list[Finding]:
    """Findings when a raster's cell centres ``x``/``y`` (a sample, in ``crs``) contradict ``crs`` or miss the state.

    >>> grid = np.meshgrid(np.linspace(1.85e6, 1.95e6, 5), np.linspace(2.2e6, 2.3e6, 5))
    >>> [f.code for f in check_grid_placement(*[g.ravel() for g in grid], parse_crs("EPSG:4326"), "g", [], (-73.73, 40.95, -71.78, 42.06))]
    ['coords.projected_as_geographic']
    """
    near, code = _grow(state, MARGIN), crs_label(crs)
    if is_geographic(crs) and ((np.abs(x) > 180) | (np.abs(y) > 90)).any():
        message = _not_degrees(x, y, code, allowed, state, near, "the raster's grid has")
        return [make_finding(layer, "coords.projected_as_geographic", message)]
    lon, lat = to_lonlat(x, y, crs)
    extent = np.array([[np.nanmin(lon), np.nanmin(lat), np.nanmax(lon), np.nanmax(lat)]])
    if np.isfinite(extent).all() and _touching(extent, near).any():
        return []
    found, message = _misplaced(x, y, crs, allowed, state, state_name, "cell of the raster")
    return [make_finding(layer, found, message, severity="error")]


def _names(fits: list[Fit]) -> str:
    top = [f for f in fits if f.share >= 0.9 * fits[0].share][:3]
    return " or ".join(f"{f.crs} ({f.share:.0%} in the state)" for f in top)
