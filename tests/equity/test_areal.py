"""Area-weighted interpolation: toys, every shortcut against a plain overlay, and tobler on real data."""

from __future__ import annotations

from support import ct_data
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
from shapely import box
from tobler.area_weighted import area_interpolate

from geosvc.equity.areal import (
    METHOD,
    WeightCache,
    area_weights,
    find_overlaps,
    geometry_key,
    interpolate,
)
from geosvc.errors import InvalidParameter

ALBERS = "EPSG:5070"


def frame(geoms, crs=ALBERS, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=list(geoms), crs=crs)


def overlay_weights(sources, targets, within=None) -> np.ndarray:
    """Brute force: every pair intersected, nothing skipped."""
    src = np.asarray(sources.to_crs(ALBERS).geometry.array)
    tgt = np.asarray(targets.to_crs(ALBERS).geometry.array)
    if within is not None:
        tgt = shapely.intersection(tgt, within)
    shared = shapely.area(shapely.intersection(src[:, None], tgt[None, :]))
    return shared / shapely.area(src)[:, None]


def test_partly_covered_units_give_800_not_1600():
    units = frame([box(0, 0, 2000, 1000), box(2000, 0, 4000, 1000)], pop=[1000.0, 600.0])
    zone = frame([box(1000, 0, 3000, 1000)])
    out = interpolate(area_weights(units, zone), units[["pop"]])
    assert out["pop"].iloc[0] == pytest.approx(800.0)
    assert "allocate_total=False" in METHOD and ALBERS in METHOD


def test_moe_after_weighting_matches_the_methods_toy():
    units = frame([box(0, 0, 2000, 1000), box(2000, 0, 4000, 1000)], crs="EPSG:26918")
    zone = frame([box(1500, 0, 3500, 1000)], crs="EPSG:26918")
    values = pd.DataFrame({"hispanic": [300.0, 400.0], "nh_white": [600.0, 150.0]})
    moes = pd.DataFrame({"hispanic": [80.0, 90.0], "nh_white": [100.0, 60.0]})
    out = interpolate(area_weights(units, zone), values, moes).iloc[0]
    assert out["hispanic"] == pytest.approx(375, rel=1e-4)
    assert out["hispanic_moe"] == pytest.approx(70.40, abs=0.01)
    assert out["nh_white"] == pytest.approx(262.5, rel=1e-4)
    assert out["nh_white_moe"] == pytest.approx(51.48, abs=0.01)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_shortcut_equals_a_plain_overlay(seed):
    """Random cells (boxes: rectangle clipping), blobs (general overlay), targets inside sources."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.arange(12) * 1000.0, np.arange(10) * 1000.0)
    cells = box(x.ravel(), y.ravel(), x.ravel() + 1000, y.ravel() + 1000)
    cells[::7] = shapely.buffer(cells[::7], -50, join_style="bevel")  # some sources are octagons
    centres = shapely.points(rng.uniform(0, 12000, 40), rng.uniform(0, 10000, 40))
    targets = shapely.buffer(centres, rng.uniform(100, 3000, 40), quad_segs=8)
    targets[:5] = box(*rng.uniform(0, 5000, 2), *rng.uniform(6000, 11000, 2))  # rectangular targets
    targets[5:8] = shapely.buffer(shapely.points([2500, 5500, 8500], [1500, 4500, 7500]), 200)  # inside cells
    sources, zones = frame(cells), frame(targets)
    weights = area_weights(sources, zones)
    np.testing.assert_allclose(weights.matrix.toarray(), overlay_weights(sources, zones), rtol=1e-9, atol=1e-12)
    assert weights.stats["contained"] > 0 and weights.stats["crossing"] > 0 and weights.stats["contains_target"] > 0

    mask = shapely.union_all(shapely.buffer(shapely.points(rng.uniform(0, 12000, 6), rng.uniform(0, 10000, 6)), 2500))
    masked = area_weights(sources, zones, within=mask)
    np.testing.assert_allclose(
        masked.matrix.toarray(), overlay_weights(sources, zones, mask), rtol=1e-9, atol=1e-12
    )


def test_units_nested_in_places_need_no_intersection():
    octagon = shapely.buffer(box(0, 0, 1000, 1000), 100, quad_segs=1)
    units = frame([octagon, shapely.affinity.translate(octagon, 1200)])
    place = frame([shapely.union_all(np.asarray(units.geometry.array))])  # shares every boundary
    weights = area_weights(units, place)
    assert weights.stats["contained"] == 2 and weights.stats["crossing"] == 0
    assert weights.matrix.toarray().tolist() == [[1.0], [1.0]]


def test_inputs_are_reprojected_to_albers():
    units = frame([box(0, 0, 2000, 1000), box(2000, 0, 4000, 1000)], crs="EPSG:26918")
    zone = frame([box(1500, 0, 3500, 1000)], crs="EPSG:26918")
    in_lonlat = area_weights(units.to_crs("EPSG:4326"), zone.to_crs("EPSG:4326"))
    in_albers = area_weights(units.to_crs(ALBERS), zone.to_crs(ALBERS))
    np.testing.assert_allclose(in_lonlat.matrix.toarray(), in_albers.matrix.toarray(), rtol=1e-6)
    mixed = area_weights(units, zone.to_crs("EPSG:4326"))
    np.testing.assert_allclose(mixed.matrix.toarray(), in_albers.matrix.toarray(), rtol=1e-6)


def test_missing_values_stay_missing_where_they_count():
    units = frame([box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 5, 6, 6)])
    zones = frame([box(0, 0, 2, 1), box(5, 5, 6, 6)])
    values = pd.DataFrame({"pop": [10.0, np.nan, 7.0]})
    out = interpolate(area_weights(units, zones), values)["pop"]
    assert np.isnan(out.iloc[0])
    assert out.iloc[1] == 7.0


def test_a_zone_outside_the_units_exposes_nobody():
    units = frame([box(0, 0, 1000, 1000)], pop=[50.0])
    far = frame([box(1e6, 1e6, 1e6 + 10, 1e6 + 10)])
    assert interpolate(area_weights(units, far), units[["pop"]])["pop"].tolist() == [0.0]
    assert interpolate(area_weights(units, units, within=far.geometry.iloc[0]), units[["pop"]])["pop"].tolist() == [0.0]


def test_overlapping_sources_are_an_input_error():
    units = gpd.GeoDataFrame(geometry=[box(0, 0, 2, 2), box(1, 1, 3, 3), box(3, 0, 4, 1)],
                             index=["a", "b", "c"], crs=ALBERS)
    with pytest.raises(InvalidParameter, match="overlap.*'a' and 'b'"):
        area_weights(units, frame([box(0, 0, 4, 4)]))
    assert find_overlaps(np.asarray(units.geometry.array)).tolist() == [[0, 1]]
    # a duplicate polygon (containment) counts too; touching edges do not
    same = np.array([box(0, 0, 1, 1), box(0, 0, 1, 1), box(1, 0, 2, 1)])
    assert find_overlaps(same).tolist() == [[0, 1]]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs=ALBERS), "not polygons.*Point"),
        (gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]), "no CRS"),
    ],
)
def test_bad_targets_are_refused(bad, message):
    with pytest.raises(InvalidParameter, match=message):
        area_weights(frame([box(0, 0, 1, 1)]), bad)


def test_invalid_geometry_is_refused_not_a_traceback():
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    with pytest.raises(InvalidParameter, match="invalid polygon.*Self-intersection"):
        area_weights(frame([box(0, 0, 2, 2)]), frame([bowtie]), check_overlaps=False)


def test_cache_reuses_weights_and_keys_unnamed_inputs_by_geometry():
    units = frame([box(0, 0, 2, 1), box(2, 0, 4, 1)])
    cache = WeightCache(maxsize=2)
    first = area_weights(units, units, within=box(0, 0, 1, 1), cache=cache, key=("u@1", "u@1", None))
    again = area_weights(units, units, within=box(0, 0, 1, 1), cache=cache, key=("u@1", "u@1", None))
    other = area_weights(units, units, within=box(3, 0, 4, 1), cache=cache, key=("u@1", "u@1", None))
    assert again is first and cache.hits == 1
    assert other.matrix.toarray().tolist() != first.matrix.toarray().tolist()
    assert cache.checked("u@1") and not cache.checked("v@1")
    area_weights(units, units, cache=cache)  # a third entry evicts the oldest
    assert len(cache) == 2
    assert geometry_key(units) != geometry_key(units.translate(1))


@pytest.fixture(scope="module")
def real():
    return ct_data.tracts(), ct_data.drought_union(), ct_data.towns(), ct_data.towns_in_drought()


def tobler(sources, targets, columns):
    return area_interpolate(sources, targets, extensive_variables=columns, allocate_total=False, fill_nan=None)


def test_statewide_drought_exposure_matches_tobler(real):
    tracts, zone, _, _ = real
    columns = ["total", "hispanic", "nh_white", "nh_black"]
    ours = interpolate(area_weights(tracts, zone), tracts[columns])
    theirs = tobler(tracts, zone, columns)
    np.testing.assert_allclose(ours[columns].to_numpy(), theirs[columns].to_numpy(), rtol=1e-6)
    assert 0.5 < ours["total"].iloc[0] / tracts["total"].sum() < 1  # D2+ covers most of the state


def test_by_town_drought_exposure_matches_tobler(real):
    tracts, zone, towns, towns_in_drought = real
    columns = ["total", "hispanic"]
    theirs = tobler(tracts, towns_in_drought, columns)
    explicit = interpolate(area_weights(tracts, towns_in_drought), tracts[columns])
    masked = interpolate(area_weights(tracts, towns, within=zone), tracts[columns])
    np.testing.assert_allclose(explicit.to_numpy(), theirs[columns].to_numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(masked.to_numpy(), theirs[columns].to_numpy(), rtol=1e-6, atol=1e-6)
    assert (masked["total"] == 0).any() and (masked["total"] > 0).sum() > 100


def test_a_mask_too_intricate_for_the_sources_is_refused_before_the_overlay():
    """The work a mask causes is bounded: its vertices once clipped to every source's box."""
    from support.equity_catalog import comb_zone

    from geosvc.equity.areal import MAX_CUT_VERTICES

    comb = shapely.geometry.shape(comb_zone(600, 0, 100_000, 0, 50_000))  # 2,403 vertices, in metres
    sources = gpd.GeoSeries([box(0, 0, 100_000, 50_000)] * 300, crs="EPSG:5070")  # each box sees all of it
    with pytest.raises(InvalidParameter, match="too intricate") as caught:
        area_weights(sources, None, within=comb, check_overlaps=False)
    assert caught.value.param == "hazard" and f"{MAX_CUT_VERTICES:,}" in caught.value.message
    few = gpd.GeoSeries([box(0, 0, 50_000, 50_000), box(50_000, 0, 100_000, 50_000)], crs="EPSG:5070")
    weights = area_weights(few, None, within=comb).matrix.toarray().ravel()
    exact = shapely.area(shapely.intersection(few.to_numpy(), comb)) / few.area.to_numpy()
    assert weights == pytest.approx(exact, rel=1e-9) and weights.sum() == pytest.approx(1.0, rel=1e-3)
