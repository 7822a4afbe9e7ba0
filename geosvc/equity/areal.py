"""Area-weighted interpolation of counts (tobler's ``allocate_total=False``), built to do little GEOS work.

``exposed_j = Σ_i N_i · a_ij / a_i`` with areas in EPSG:5070 (CONUS Albers, equal area). The weight
matrix ``w_ij = a_ij / a_i`` (sparse, sources × targets) is an object of its own
(:class:`AreaWeights`), so it can be cached and reused: a warm request costs one sparse product.

How the weights avoid most intersections:

1. an STRtree gives the candidate (source, target) pairs whose boxes meet;
2. each pair is classified with prepared predicates: target covers source (``a_ij = a_i``, no
   intersection; shared boundaries count, so units nested in places cost nothing), source covers
   target (``a_ij = a_j``), disjoint
   (dropped), or boundary-crossing; only the last get ``shapely.intersection`` (vectorised);
3. a target that reaches far outside the sources (a national hazard layer) is first clipped to the
   sources' extent, so each boundary intersection walks only the nearby part of it;
4. with ``within=`` (e.g. a hazard union) the weights are into ``target ∩ within`` without ever
   building those polygons: sources inside ``within`` keep their whole geometry, only sources
   crossing its boundary are cut once, and only pairs crossing both boundaries intersect twice.

Nothing is simplified: the result equals a plain overlay to floating-point precision.

Examples
--------
>>> import geopandas as gpd, pandas as pd
>>> from shapely import box
>>> tracts = gpd.GeoDataFrame({"pop": [1000.0, 600.0]},
...     geometry=[box(0, 0, 2000, 1000), box(2000, 0, 4000, 1000)], crs="EPSG:5070")
>>> zone = gpd.GeoDataFrame(geometry=[box(1000, 0, 3000, 1000)], crs="EPSG:5070")
>>> w = area_weights(tracts, zone)
>>> interpolate(w, tracts[["pop"]])["pop"].tolist()
[800.0]
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from shapely.errors import GEOSException

from geosvc.crs import normalize_crs
from geosvc.equity.cache import Lru
from geosvc.equity.moe import moe_areal
from geosvc.errors import InvalidParameter

EQUAL_AREA_CRS = "EPSG:5070"
METHOD = "area-weighted, allocate_total=False, EPSG:5070"
ALL = "all"
"""Target id of ``area_weights(sources, None, ...)``: one target holding every source."""
_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
_CHUNK = 512  # pairs intersected at once (bounds the memory held by intermediate geometries)
_CLIP_PAD = 0.01  # pad of the sources' extent (fraction of its size) when clipping huge targets
_LOCAL_PAD = 0.0173  # metres (plus 0.01% of the box) padding a box: unlikely to fall on a zone's edge
MAX_CUT_VERTICES = 500_000
"""Most vertices of a mask clipped to the sources' boxes (summed over the sources): bounds the work
(about 20 µs a vertex) a mask can cause; a zone beyond it is refused as too intricate."""


@dataclass(frozen=True)
class AreaWeights:
    """Sparse weights ``w_ij = a_ij / a_i`` from sources (rows) to targets (columns).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        float64, shape (n_sources, n_targets); only pairs with a positive shared area are stored.
    source_index, target_index : pandas.Index
        Labels of the rows and columns (the input frames' indexes).
    source_area : numpy.ndarray
        ``a_i`` in m² (EPSG:5070).
    stats : dict
        Pair counts by class (``candidates``, ``contained``, ``contains_target``, ``crossing``),
        telling how much GEOS work was done.
    """

    matrix: sparse.csr_matrix
    source_index: pd.Index
    target_index: pd.Index
    source_area: np.ndarray
    stats: dict = field(default_factory=dict, compare=False)


class WeightKey(NamedTuple):
    """What overlay weights are computed from: sources, targets and mask, each named by a text
    (a layer version such as ``"ct-tracts-2010@3"``, ``"all"``/``"none"``, or a content hash)."""

    sources: str
    targets: str
    within: str


class WeightCache:
    """Small thread-safe LRU caches of :class:`AreaWeights` and of sources cut by a mask, by :class:`WeightKey`.

    Keys default to a hash of the geometries and CRS (:func:`geometry_key`). Build one per
    application, never at import.

    Examples
    --------
    >>> cache = WeightCache(maxsize=4)
    >>> len(cache)
    0
    """

    def __init__(self, maxsize: int = 64):
        self.weights: Lru[AreaWeights] = Lru(maxsize)
        self.cuts: Lru[tuple] = Lru(max(2, maxsize // 4))  # sources cut by a mask, shared by every target set
        self._checked: set[str] = set()

    def __len__(self) -> int:
        return len(self.weights)

    @property
    def hits(self) -> int:
        return self.weights.hits

    @property
    def misses(self) -> int:
        return self.weights.misses

    def checked(self, source_key: str) -> bool:
        """True when ``source_key``'s polygons were already checked (valid, no overlaps)."""
        return source_key in self._checked

    def mark_checked(self, source_key: str) -> None:
        """Remember that ``source_key``'s polygons passed the source checks."""
        self._checked.add(source_key)

    def get(self, key: WeightKey) -> AreaWeights | None:
        """The cached weights for ``key`` (marked most recently used), or ``None``."""
        return self.weights.get(key)

    def put(self, key: WeightKey, weights: AreaWeights) -> None:
        """Store ``weights``, evicting the least recently used entry beyond ``maxsize``."""
        self.weights.put(key, weights)


def geometry_key(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> str:
    """Content hash of a frame's geometries, CRS and index (a cache key for unpublished inputs).

    >>> from shapely import box
    >>> s = gpd.GeoSeries([box(0, 0, 1, 1)], crs="EPSG:5070")
    >>> geometry_key(s) == geometry_key(s.copy()), geometry_key(s) == geometry_key(s.translate(1))
    (True, False)
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(frame.crs).encode())
    digest.update(pd.util.hash_pandas_object(frame.index.to_series(), index=False).values.tobytes())
    for wkb in shapely.to_wkb(np.asarray(frame.geometry.array)):
        digest.update(wkb or b"")
    return digest.hexdigest()


def to_equal_area(frame: gpd.GeoDataFrame | gpd.GeoSeries, name: str) -> np.ndarray:
    """Polygonal geometries of ``frame`` in EPSG:5070 as a numpy array (reprojected when needed).

    Raises
    ------
    InvalidParameter
        No CRS (areas would be in unknown units), or a geometry that is not a (multi)polygon.
    """
    if frame.crs is None:
        raise InvalidParameter("has no CRS, so its areas cannot be computed", param=name)
    geoms = frame.geometry
    if not normalize_crs(frame.crs).equals(normalize_crs(EQUAL_AREA_CRS)):
        geoms = geoms.to_crs(EQUAL_AREA_CRS)
    arr = np.asarray(geoms.array, dtype=object)
    kinds = shapely.get_type_id(arr)
    bad = ~(np.isin(kinds, _POLYGONAL) | shapely.is_empty(arr) | shapely.is_missing(arr))
    if bad.any():
        kind = shapely.get_type_id(arr[bad][0])
        raise InvalidParameter(
            f"{int(bad.sum())} geometries are not polygons (first: {shapely.GeometryType(kind).name.title()})",
            param=name,
        )
    return arr


def find_overlaps(geoms: np.ndarray) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of polygons whose interiors intersect (shared area > 0).

    Only pairs whose bounding boxes overlap with positive area can qualify, so a gridded or
    edge-matched coverage costs a numpy filter; the rest are tested with prepared predicates.

    >>> from shapely import box
    >>> find_overlaps(np.array([box(0, 0, 2, 1), box(2, 0, 4, 1), box(3, 0, 5, 1)])).tolist()
    [[1, 2]]
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms)
    keep = left < right
    left, right = left[keep], right[keep]
    lb, rb = shapely.bounds(geoms[left]), shapely.bounds(geoms[right])
    width = np.minimum(lb[:, 2], rb[:, 2]) - np.maximum(lb[:, 0], rb[:, 0])
    height = np.minimum(lb[:, 3], rb[:, 3]) - np.maximum(lb[:, 1], rb[:, 1])
    keep = (width > 0) & (height > 0)
    left, right = left[keep], right[keep]
    shapely.prepare(geoms[left])
    interior = shapely.intersects(geoms[left], geoms[right]) & ~shapely.touches(geoms[left], geoms[right])
    return np.column_stack([left[interior], right[interior]])


def area_weights(
    sources: gpd.GeoDataFrame | gpd.GeoSeries,
    targets: gpd.GeoDataFrame | gpd.GeoSeries | None,
    *,
    within: gpd.GeoDataFrame | gpd.GeoSeries | shapely.Geometry | None = None,
    cache: WeightCache | None = None,
    key: tuple | None = None,
    check_overlaps: bool = True,
) -> AreaWeights:
    """Weights ``w_ij = area(source_i ∩ target_j [∩ within]) / area(source_i)`` in EPSG:5070.

    Parameters
    ----------
    sources, targets : GeoDataFrame or GeoSeries
        Polygonal layers in any CRS (reprojected to EPSG:5070). Empty geometries get no weight.
        ``targets=None`` is one target holding every source (column ``"all"``): with ``within``,
        the whole-area exposure.
    within : GeoDataFrame, GeoSeries or shapely geometry, optional
        A polygonal mask, e.g. a hazard (its union is used; errors name the parameter
        ``hazard``); the weights are then into ``target ∩ within`` (a bare shapely geometry must
        already be in EPSG:5070).
    cache : WeightCache, optional
        Reuse weights computed for the same ``key``; a source key whose polygons were checked
        for overlaps once is not checked again.
    key : tuple, optional
        Cache key ``(sources, targets, within)``, e.g. ``("ct-tracts-2010@3", "ct-towns@1",
        "drought@2?DM>=2")``; a missing key or ``None`` part becomes a content hash of that input
        (so an unpublished, caller-drawn zone is keyed by its geometry).
    check_overlaps : bool
        Check the sources once per source key: refuse invalid polygons and polygons that overlap
        (people would be counted twice). Targets and ``within`` are always checked for validity.

    Returns
    -------
    AreaWeights

    Raises
    ------
    InvalidParameter
        Missing CRS, non-polygonal or invalid geometry, overlapping sources.

    Examples
    --------
    >>> from shapely import box
    >>> src = gpd.GeoSeries([box(0, 0, 2, 2), box(2, 0, 4, 2)], crs="EPSG:5070")
    >>> tgt = gpd.GeoSeries([box(0, 0, 4, 4), box(1, 1, 3, 3)], crs="EPSG:5070")
    >>> area_weights(src, tgt).matrix.toarray().tolist()
    [[1.0, 0.25], [1.0, 0.25]]
    >>> area_weights(src, tgt, within=box(0, 0, 1, 2)).matrix.toarray().tolist()
    [[0.5, 0.0], [0.0, 0.0]]
    >>> area_weights(src, None, within=box(0, 0, 3, 2)).matrix.toarray().tolist()
    [[1.0], [0.5]]
    """
    if cache is not None:
        key = _complete_key(key, sources, targets, within)
    found = cache.get(key) if cache is not None else None
    if found is not None:
        return found
    src = to_equal_area(sources, "population")
    tgt = None if targets is None else to_equal_area(targets, "targets")
    tgt_index = pd.Index([ALL]) if targets is None else targets.index
    mask = _mask_geometry(within)
    if tgt is not None:
        _refuse_invalid(tgt, tgt_index, "targets")
    if mask is not None:
        _refuse_invalid(np.array([mask], dtype=object), pd.Index(["within"]), "hazard")
    if check_overlaps and not (cache is not None and cache.checked(key[0])):
        _refuse_invalid(src, sources.index, "population")
        _refuse_overlaps(src, sources.index)
        if cache is not None:
            cache.mark_checked(key[0])
    try:
        cut = None
        if mask is not None:
            build = lambda: _cut_sources(src, mask)  # noqa: E731
            cut = build() if cache is None else cache.cuts.remember((key.sources, key.within), build)
        weights = _compute(src, tgt, cut, sources.index, tgt_index)
    except GEOSException as exc:
        raise InvalidParameter(
            f"invalid polygon geometry ({exc}); repair it (e.g. make_valid) first", param="geometry"
        ) from exc
    if cache is not None:
        cache.put(key, weights)
    return weights


def interpolate(weights: AreaWeights, values: pd.DataFrame, moe: pd.DataFrame | None = None) -> pd.DataFrame:
    """Interpolate extensive columns: ``Σ_i v_i w_ij``; a missing ``v_i`` makes its targets missing.

    Parameters
    ----------
    weights : AreaWeights
    values : DataFrame
        Counts indexed like the sources (aligned by label).
    moe : DataFrame, optional
        90% margins of error of some columns; returned as ``<column>_moe`` = ``√Σ (w_ij·MOE_i)²``
        (:func:`geosvc.equity.moe.moe_areal`: of several zero estimates, the largest MOE once)
        (approximate: the weights are treated as fixed).

    Returns
    -------
    DataFrame
        Indexed by the targets.

    Examples
    --------
    >>> from shapely import box
    >>> src = gpd.GeoSeries([box(0, 0, 2000, 1000), box(2000, 0, 4000, 1000)], crs="EPSG:5070")
    >>> tgt = gpd.GeoSeries([box(1500, 0, 3500, 1000)], crs="EPSG:5070")
    >>> counts = pd.DataFrame({"hisp": [300.0, 400.0]})
    >>> out = interpolate(area_weights(src, tgt), counts, moe=pd.DataFrame({"hisp": [80.0, 90.0]}))
    >>> out.round(2).to_dict("records")
    [{'hisp': 375.0, 'hisp_moe': 70.4}]
    """
    frame = _aligned(weights, values)
    out = pd.DataFrame(weighted_sum(weights.matrix, frame), index=weights.target_index, columns=frame.columns)
    if moe is not None and len(moe.columns):
        errors = _aligned(weights, moe)
        margins = moe_areal(weights.matrix.T, errors.to_numpy(float), frame[errors.columns].to_numpy(float))
        for n, column in enumerate(errors.columns):
            out[f"{column}_moe"] = margins[:, n]
    return out


def _aligned(weights: AreaWeights, frame: pd.DataFrame) -> pd.DataFrame:
    if not frame.index.equals(weights.source_index):
        if not frame.index.isin(weights.source_index).all() or frame.index.has_duplicates:
            raise InvalidParameter("values are not indexed like the sources the weights were built for")
        frame = frame.reindex(weights.source_index)
    return frame


STUDY_TOLERANCE = 1e-6
"""A unit more than this share *over* 100% inside the targets means the targets overlap."""


def over_study_area(base: sparse.csr_matrix, *others: sparse.csr_matrix) -> list[sparse.csr_matrix]:
    """Rescale weights ``a_ij / a_i`` into non-overlapping targets to ``a_ij / a_i^S``, where
    ``a_i^S = Σ_j a_ij`` (from ``base``) is the area of unit i inside the study area (the union of
    the targets); ``others`` (e.g. the same targets within a hazard) get the same denominators.

    TIGER tracts reach over water while town boundaries follow the shoreline: dividing by the whole
    area would leave the water's share of each shore tract's people in no town. Units with no area
    in any target keep their weights (all zero).

    >>> base, masked = over_study_area(sparse.csr_matrix([[0.3, 0.5], [0.0, 0.0]]), sparse.csr_matrix([[0.2, 0.0], [0.0, 0.0]]))
    >>> base.toarray().round(3).tolist(), masked.toarray().round(3).tolist()
    ([[0.375, 0.625], [0.0, 0.0]], [[0.25, 0.0], [0.0, 0.0]])
    """
    share = np.asarray(base.sum(axis=1)).ravel()
    if (share > 1 + STUDY_TOLERANCE).any():
        raise InvalidParameter("the places overlap (a unit lies more than once inside them)", param="places")
    scale = sparse.diags(np.where(share > 0, 1 / np.where(share > 0, share, 1), 1.0))
    return [sparse.csr_matrix(scale @ m) for m in (base, *others)]


def with_overall(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """The weights plus one last target holding every other target (the overall row of a by-place answer).

    >>> with_overall(sparse.csr_matrix([[0.25, 0.75], [0.0, 1.0]])).toarray().tolist()
    [[0.25, 0.75, 1.0], [0.0, 1.0, 1.0]]
    """
    return sparse.csr_matrix(sparse.hstack([matrix, sparse.csr_matrix(matrix.sum(axis=1))]))


def weighted_sum(matrix: sparse.csr_matrix, values) -> np.ndarray:
    """``matrix.T @ values`` (sources × targets weights, sources × k values) where a missing (NaN)
    value makes missing every target it has weight in.

    >>> w = sparse.csr_matrix([[0.5, 0.0], [0.5, 1.0]])
    >>> weighted_sum(w, np.array([[2.0], [np.nan]])).ravel().tolist()
    [nan, nan]
    >>> weighted_sum(w, np.array([2.0, 4.0])).tolist()
    [3.0, 4.0]
    """
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    result = np.asarray(matrix.T @ np.where(missing, 0.0, values))
    if missing.any():
        touched = np.asarray(matrix.T.astype(bool).astype(float) @ missing.astype(float)) > 0
        result[touched] = np.nan
    return result


def _complete_key(key, sources, targets, within) -> WeightKey:
    parts = tuple(key) if key is not None else (None, None, None)
    if len(parts) != 3:
        raise ValueError("the cache key has three parts: (sources, targets, within)")
    return WeightKey(
        parts[0] if parts[0] is not None else geometry_key(sources),
        parts[1] if parts[1] is not None else (ALL if targets is None else geometry_key(targets)),
        parts[2] if parts[2] is not None else _within_key(within),
    )


def _within_key(within) -> str:
    if within is None or isinstance(within, shapely.Geometry):
        return "none" if within is None else hashlib.blake2b(shapely.to_wkb(within), digest_size=16).hexdigest()
    return geometry_key(within)


def _mask_geometry(within) -> shapely.Geometry | None:
    if within is None:
        return None
    if isinstance(within, shapely.Geometry):
        if not (shapely.is_empty(within) or shapely.get_type_id(within) in _POLYGONAL):
            raise InvalidParameter("the mask is not polygonal", param="hazard")
        geoms = np.array([within], dtype=object)
    else:
        geoms = to_equal_area(within, "hazard")
    try:
        return shapely.union_all(geoms)
    except GEOSException as exc:
        raise InvalidParameter(f"invalid polygon geometry ({exc})", param="hazard") from exc


def _refuse_invalid(geoms: np.ndarray, index: pd.Index, name: str) -> None:
    """Refuse invalid polygons (axis-aligned rectangles are valid by construction and skipped)."""
    check = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    check[check] = ~_is_box(geoms[check])
    invalid = np.flatnonzero(check)[~shapely.is_valid(geoms[check])]
    if len(invalid):
        first = invalid[0]
        raise InvalidParameter(
            f"{len(invalid)} invalid polygon geometries (first: {index[first]!r}, "
            f"{shapely.is_valid_reason(geoms[first])}); repair them (e.g. make_valid) first",
            param=name,
        )


def _refuse_overlaps(geoms: np.ndarray, index: pd.Index) -> None:
    present = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    pairs = find_overlaps(geoms[present])
    if len(pairs):
        labels = index[np.flatnonzero(present)]
        a, b = labels[pairs[0, 0]], labels[pairs[0, 1]]
        raise InvalidParameter(
            f"{len(pairs)} pairs of source polygons overlap (first: {a!r} and {b!r}); "
            "people would be counted twice",
            param="population",
        )


def _window(extent: np.ndarray) -> np.ndarray:
    """``extent`` (minx, miny, maxx, maxy) padded on every side."""
    pad = _CLIP_PAD * max(extent[2] - extent[0], extent[3] - extent[1], 1.0)
    return extent + np.array([-pad, -pad, pad, pad])


def _clip_to(geoms: np.ndarray, extent: np.ndarray) -> np.ndarray:
    """Cut polygons that reach beyond ``extent`` (padded) down to it; those within stay as they are."""
    window = _window(extent)
    bounds = shapely.bounds(geoms)
    outside = (bounds[:, 0] < window[0]) | (bounds[:, 1] < window[1]) | (bounds[:, 2] > window[2]) | (
        bounds[:, 3] > window[3]
    )
    if outside.any():
        geoms = geoms.copy()
        geoms[outside] = shapely.intersection(geoms[outside], shapely.box(*window))
    return geoms


def _is_box(geoms: np.ndarray, bounds: np.ndarray | None = None) -> np.ndarray:
    """Axis-aligned rectangles: 4 corners, no holes, area equal to the bounding box's."""
    simple = (shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON) & (shapely.get_num_coordinates(geoms) == 5)
    simple[simple] = shapely.get_num_interior_rings(geoms[simple]) == 0
    bounds = shapely.bounds(geoms[simple]) if bounds is None else bounds[simple]
    box_area = (bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1])
    simple[simple] = np.abs(shapely.area(geoms[simple]) - box_area) <= 1e-12 * box_area
    return simple


def _local_parts(mask: shapely.Geometry, bounds: np.ndarray) -> np.ndarray:
    """The part of ``mask`` inside each box, by GEOS rectangle clipping (a linear pass, no overlay).

    Why: a GEOS overlay (intersection, covers) costs about the same for a small polygon and a
    large mask as for two large polygons, so a caller-drawn zone of n vertices crossing m tracts
    cost m overlays of n vertices each (a 3,000-vertex comb over Connecticut: 0.1 s a tract, 22 s a
    request). Each tract meets only the part of the mask inside its box: clip the mask to that box
    first, and every predicate and intersection works on a few vertices. A clipped part that GEOS
    leaves invalid (rare: rectangle clipping is not robust) is repaired.
    """
    # Padded boxes: GEOS rectangle clipping mishandles mask edges lying on the rectangle's edge (a
    # zone edge on a tract's bounding box), and the part outside the box never meets the tract anyway.
    pad = 1e-4 * (bounds[:, 2:] - bounds[:, :2]).max(axis=1) + _LOCAL_PAD
    boxes = bounds + np.column_stack([-pad, -pad, pad, pad])
    try:  # shapely's public wrapper takes one rectangle; its ufunc broadcasts over many
        parts = shapely.lib.clip_by_rect(mask, *boxes.T)
    except (AttributeError, TypeError):
        parts = np.array([shapely.clip_by_rect(mask, *b) for b in boxes.tolist()], dtype=object)
    parts = np.asarray(parts, dtype=object)
    broken = ~shapely.is_valid(parts)
    if broken.any():
        parts[broken] = shapely.make_valid(parts[broken])
    return parts


def _clip_area(geoms: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Area of each polygon clipped to a rectangle (GEOS rectangle clipping, no overlay)."""
    try:  # shapely's public wrapper takes one rectangle; its ufunc broadcasts over many
        clipped = shapely.lib.clip_by_rect(geoms, *bounds.T)
    except (AttributeError, TypeError):
        clipped = [shapely.clip_by_rect(g, *b) for g, b in zip(geoms, bounds.tolist())]
    return shapely.area(clipped)


def _shared_area(a: np.ndarray, b: np.ndarray, a_box: np.ndarray, b_box: np.ndarray, a_bounds: np.ndarray,
                 b_bounds: np.ndarray) -> np.ndarray:
    """``area(a ∩ b)`` pairwise; pairs where one side is a rectangle use rectangle clipping."""
    area = np.empty(len(a))
    b_box = b_box & ~a_box
    general = ~(a_box | b_box)
    area[a_box] = _chunked(_clip_area, b[a_box], a_bounds[a_box])
    area[b_box] = _chunked(_clip_area, a[b_box], b_bounds[b_box])
    area[general] = _chunked(lambda x, y: shapely.area(shapely.intersection(x, y)), a[general], b[general])
    return area


def _chunked(area_of, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``area_of(a, b)`` over slices, so the intermediate geometries of only one slice are alive."""
    out = np.empty(len(a))
    for start in range(0, len(a), _CHUNK):
        part = slice(start, start + _CHUNK)
        out[part] = area_of(a[part], b[part])
    return out


def _cut_sources(src: np.ndarray, mask: shapely.Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sources as seen through the mask: whole when inside it, cut once when crossing it, else None.

    Returns the pieces, their areas and which sources were cut. Every predicate and intersection
    meets only the part of the mask inside each source's box (:func:`_local_parts`).
    """
    n_src = len(src)
    src_area = np.nan_to_num(shapely.area(src))
    usable = src_area > 0
    if not usable.any():
        return np.full(n_src, None, dtype=object), np.zeros(n_src), np.zeros(n_src, bool)
    mask = _clip_to(np.array([mask], dtype=object), shapely.total_bounds(src[usable]))[0]
    near = np.zeros(n_src, bool)
    near[shapely.STRtree(np.where(usable, src, None)).query(mask)] = True
    local = np.full(n_src, None, dtype=object)
    local[near] = _local_parts(mask, shapely.bounds(src[near]))
    work = int(shapely.get_num_coordinates(local[near]).sum())
    if work > MAX_CUT_VERTICES:
        raise InvalidParameter(
            f"the zone is too intricate where it meets the population units ({work:,} vertices once clipped "
            f"to each unit's box; at most {MAX_CUT_VERTICES:,}): simplify it", param="hazard")
    inside, hits = np.zeros(n_src, bool), np.zeros(n_src, bool)
    inside[near] = shapely.covers(local[near], src[near])
    hits[near] = shapely.intersects(local[near], src[near])
    inside &= usable
    hits &= usable
    src_cut = hits & ~inside
    piece = np.where(hits, src, None)
    piece[src_cut] = shapely.intersection(src[src_cut], local[src_cut])
    piece_area = np.where(hits, src_area, 0.0)
    piece_area[src_cut] = shapely.area(piece[src_cut])
    return piece, piece_area, src_cut


def _compute(src: np.ndarray, tgt: np.ndarray | None, cut, src_index: pd.Index, tgt_index: pd.Index) -> AreaWeights:
    n_src, n_tgt = len(src), 1 if tgt is None else len(tgt)
    src_area = shapely.area(src)
    src_area = np.where(np.isnan(src_area), 0.0, src_area)
    usable = src_area > 0
    extent = shapely.total_bounds(src[usable]) if usable.any() else None
    if extent is None:
        return AreaWeights(sparse.csr_matrix((n_src, n_tgt)), src_index, tgt_index, src_area, {"candidates": 0})
    tgt = np.array([shapely.box(*_window(extent))]) if tgt is None else _clip_to(tgt, extent)

    # Sources as seen through the mask (``cut``, from :func:`_cut_sources`).
    piece, piece_area, src_cut = src, src_area, np.zeros(n_src, bool)
    if cut is not None:
        piece, piece_area, src_cut = cut
        usable = piece_area > 0

    # Candidate pairs by box, then classify with prepared target predicates.
    tree = shapely.STRtree(np.where(usable, src, None))
    tj, si = tree.query(tgt)
    shapely.prepare(tgt)
    contained = shapely.covers(tgt[tj], src[si])
    rest = ~contained
    meets = np.zeros(len(si), bool)
    meets[rest] = shapely.intersects(tgt[tj[rest]], piece[si[rest]])
    crossing = rest & meets
    shared = np.where(contained, piece_area[si], 0.0)

    # A target inside a source (not cut by the mask): the shared area is the target's.
    src_bounds, tgt_bounds = shapely.bounds(src), shapely.bounds(tgt)
    sb, tb = src_bounds[si[crossing]], tgt_bounds[tj[crossing]]
    boxed = np.flatnonzero(crossing)[
        (tb[:, 0] >= sb[:, 0]) & (tb[:, 1] >= sb[:, 1]) & (tb[:, 2] <= sb[:, 2]) & (tb[:, 3] <= sb[:, 3])
    ]
    boxed = boxed[~src_cut[si[boxed]]]
    holds = boxed[shapely.covers(src[si[boxed]], tgt[tj[boxed]])]
    shared[holds] = shapely.area(tgt[tj[holds]])
    crossing[holds] = False

    # Boundary-crossing pairs: the only ones that need an intersection (or a rectangle clip).
    cut = np.flatnonzero(crossing)
    src_box = _is_box(src, src_bounds) & ~src_cut  # a source cut by the mask is no longer its box
    shared[cut] = _shared_area(piece[si[cut]], tgt[tj[cut]], src_box[si[cut]], _is_box(tgt, tgt_bounds)[tj[cut]],
                               src_bounds[si[cut]], tgt_bounds[tj[cut]])

    keep = shared > 0
    ratio = shared[keep] / src_area[si[keep]]
    matrix = sparse.csr_matrix((ratio, (si[keep], tj[keep])), shape=(n_src, n_tgt))
    stats = {
        "candidates": int(len(si)),
        "contained": int(contained.sum()),
        "contains_target": int(len(holds)),
        "crossing": int(len(cut)),
        "mask_cut": int(src_cut.sum()),
    }
    return AreaWeights(matrix, src_index, tgt_index, src_area, stats)
