"""The exposure table: the methods §7 toy, references, places, refusals and the real drought layer."""

from __future__ import annotations

from support import ct_data
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import box
from tobler.area_weighted import area_interpolate

from geosvc.equity import disparity
from geosvc.equity.areal import WeightCache
from geosvc.equity.exposure import STATE, exposure_table
from geosvc.errors import InvalidParameter

UTM = "EPSG:26918"


@pytest.fixture
def toy() -> gpd.GeoDataFrame:
    """Methods §7: tracts A and B, Hispanic 300±80 / 400±90, NH White 600±100 / 150±60."""
    return gpd.GeoDataFrame(
        {"total": [1000.0, 1000.0], "hispanic": [300.0, 400.0], "hispanic_moe": [80.0, 90.0],
         "nh_white": [600.0, 150.0], "nh_white_moe": [100.0, 60.0]},
        geometry=[box(0, 0, 2000, 1000), box(2000, 0, 4000, 1000)], index=["A", "B"], crs=UTM,
    )


ZONE = gpd.GeoSeries([box(1500, 0, 3500, 1000)], crs=UTM)


def rows(result) -> pd.DataFrame:
    return result.table.set_index(["place_id", "group"])


def test_methods_toy_exposure(toy):
    out = rows(exposure_table(toy, ZONE, groups=["hispanic", "nh_white"], reference="nh_white")).loc[STATE]
    hisp, white = out.loc["hispanic"], out.loc["nh_white"]
    assert hisp["exposed"] == pytest.approx(375, abs=0.05)
    assert hisp["exposed_moe"] == pytest.approx(70.40, abs=0.005)
    assert hisp["share"] == pytest.approx(0.5357, abs=5e-5)
    assert hisp["share_moe"] == pytest.approx(0.0427, abs=5e-5)
    assert white["exposed"] == pytest.approx(262.5, abs=0.05)
    assert white["exposed_moe"] == pytest.approx(51.48, abs=0.005)
    assert white["share"] == pytest.approx(0.350, abs=5e-5)
    assert white["share_moe"] == pytest.approx(0.0347, abs=5e-5)
    assert [round(hisp[c], 3) for c in ("rr", "rr_low", "rr_high")] == [1.531, 1.315, 1.781]
    assert [round(hisp[c], 1) for c in ("rd_per_1000", "rd_low", "rd_high")] == [185.7, 120.2, 251.3]
    assert hisp["rate_per_1000"] == pytest.approx(535.7, abs=0.05)
    assert np.isnan(white["rr"])  # the reference is not compared with itself
    assert hisp["population"] == 700 and hisp["population_moe"] == pytest.approx(np.hypot(80, 90))
    assert hisp["reliability"] == "high" and not hisp["use_caution"]
    # no MOE on the total: its counts are exact, its share has no interval
    assert np.isnan(out.loc["total", "exposed_moe"]) and out.loc["total", "exposed"] == pytest.approx(1000, abs=0.1)


def test_reference_rest_is_everyone_else_in_the_place(toy):
    toy = toy.assign(rest=toy["total"] - toy["hispanic"], rest_moe=toy["hispanic_moe"])
    by_rest = rows(exposure_table(toy, ZONE, groups=["hispanic"], reference="rest")).loc[(STATE, "hispanic")]
    explicit = rows(exposure_table(toy, ZONE, groups=["hispanic", "rest"], reference="rest")).loc[STATE]
    p, q = explicit.loc["hispanic", "share"], explicit.loc["rest", "share"]
    assert by_rest["rr"] == pytest.approx(p / q)
    assert by_rest["rd_per_1000"] == pytest.approx(1000 * (p - q))
    assert by_rest["rr_low"] < by_rest["rr"] < by_rest["rr_high"]  # the rest's MOE comes from the group's


def test_reference_total_and_missing_moe_gives_no_interval(toy):
    out = rows(exposure_table(toy, ZONE, groups=["hispanic"], reference="total")).loc[(STATE, "hispanic")]
    assert out["rr"] == pytest.approx(0.5357 / 0.5, abs=1e-4)
    assert np.isnan(out["rr_low"])  # the total carries no MOE, so no interval is claimed


def test_places_split_the_state_by_the_same_areal_weighting(toy):
    places = gpd.GeoDataFrame({"name": ["West", "East"]}, geometry=[box(0, 0, 2500, 1000), box(2500, 0, 4000, 1000)],
                              index=pd.Index(["w", "e"], name="town"), crs=UTM)
    result = exposure_table(toy, ZONE, places, groups=["hispanic"], place_name="name")
    out = rows(result)
    assert out.loc[("w", "total"), "population"] == pytest.approx(1250, abs=0.1)  # A + a quarter of B
    assert out.loc[("w", "hispanic"), "exposed"] == pytest.approx(75 + 100, abs=0.05)
    assert out.loc[("e", "hispanic"), "exposed"] == pytest.approx(200, abs=0.05)
    statewide = rows(exposure_table(toy, ZONE, groups=["hispanic"])).loc[(STATE, "hispanic"), "exposed"]
    # (straight UTM edges are not quite straight in Albers, so the split is exact to ~1e-5 only)
    assert out.xs("hispanic", level="group")["exposed"].sum() == pytest.approx(statewide, rel=1e-4)
    assert result.table["place_name"].unique().tolist() == ["West", "East"]
    # weighted Index of Disparity per place, from the table's own shares
    w = out.loc["w"]
    expected = disparity.weighted_index_of_disparity(
        [w.loc["hispanic", "share"]], [w.loc["hispanic", "population"]], overall_rate=w.loc["total", "share"])
    assert result.places.loc["w", "weighted_index_of_disparity"] == pytest.approx(float(expected))
    assert result.places.loc["w", "weighted_index_of_disparity"] > 0


def test_a_hazard_in_another_crs_is_reprojected(toy):
    lonlat = exposure_table(toy, ZONE.to_crs("EPSG:4326"), groups=["hispanic"]).table
    same = exposure_table(toy, ZONE, groups=["hispanic"]).table
    np.testing.assert_allclose(lonlat["exposed"], same["exposed"], rtol=1e-4)  # edges move a little


def test_hazard_outside_the_state_exposes_nobody(toy):
    far = gpd.GeoSeries([box(-1e6, -1e6, -9e5, -9e5)], crs=UTM)
    out = exposure_table(toy, far, groups=["hispanic"]).table
    assert (out["exposed"] == 0).all() and (out["share"] == 0).all()


def test_an_empty_hazard_selection_exposes_nobody(toy):
    empty = gpd.GeoSeries([], crs=UTM)
    places = gpd.GeoSeries([box(0, 0, 2500, 1000)], index=["w"], crs=UTM)
    for where in (None, places):
        out = exposure_table(toy, empty, where, groups=["hispanic"]).table
        assert (out["exposed"] == 0).all() and (out["population"] > 0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"groups": ["asian"]}, "unknown group 'asian'"),
        ({"groups": ["hispanic"], "reference": "martian"}, "unknown reference group 'martian'"),
        ({"groups": ["hispanic"], "hazard": gpd.GeoSeries([shapely.LineString([(0, 0), (9, 9)])], crs=UTM)},
         "must be polygons.*LineString"),
    ],
)
def test_bad_requests_are_refused(toy, kwargs, message):
    kwargs = {"hazard": ZONE, **kwargs}
    with pytest.raises(InvalidParameter, match=message):
        exposure_table(toy, **kwargs)


def test_real_drought_exposure_by_town_matches_tobler():
    tracts, zone, towns = ct_data.tracts(), ct_data.drought(), ct_data.towns()
    cache = WeightCache()
    keys = {"units": "tracts@1", "places": "towns@1", "hazard": "drought@1?DM>=2"}
    result = exposure_table(tracts, zone, towns, groups=["hispanic", "nh_black"], reference="nh_white",
                            place_name="NAME", cache=cache, keys=keys, study_area=False)  # tobler's denominator
    out = result.table.set_index(["place_id", "group"])
    exposed = out["exposed"].unstack()
    population = out["population"].unstack()
    theirs = area_interpolate(tracts, ct_data.towns_in_drought(), extensive_variables=["total", "hispanic"],
                              allocate_total=False)
    np.testing.assert_allclose(exposed.loc[towns.index, ["total", "hispanic"]], theirs[["total", "hispanic"]],
                               rtol=1e-6, atol=1e-6)
    theirs = area_interpolate(tracts, towns, extensive_variables=["total"], allocate_total=False)
    np.testing.assert_allclose(population.loc[towns.index, "total"], theirs["total"], rtol=1e-6)
    assert set(out.index.get_level_values("group")) == {"total", "hispanic", "nh_black", "nh_white"}
    assert result.places["weighted_index_of_disparity"].notna().sum() > 100
    assert np.isnan(out["rr_low"]).all()  # no MOEs in the Planning Database: no intervals invented
    # a warm repeat is answered from the cached weights
    again = exposure_table(tracts, zone, towns, groups=["hispanic", "nh_black"], reference="nh_white",
                           place_name="NAME", cache=cache, keys=keys, study_area=False)
    assert cache.hits == 2
    pd.testing.assert_frame_equal(again.table, result.table)


def test_town_totals_add_up_to_the_state_over_the_study_area():
    """Regression (methods §1): tracts reach over water, towns follow the shore. Dividing by the whole tract
    area put 48,053 people (1.34%, in 65 tracts) in no town and left shoreline towns low."""
    tracts, zone, towns = ct_data.tracts(), ct_data.drought(), ct_data.towns()
    cache = WeightCache()
    keys = {"units": "tracts@1", "places": "towns@1", "hazard": "drought@1"}
    state = float(tracts["total"].sum())

    def town_totals(study_area):
        result = exposure_table(tracts, zone, towns, groups=[], place_name="NAME", cache=cache, keys=keys,
                                study_area=study_area, overall="_all")
        rows = result.table[result.table["group"] == "total"].set_index("place_name")
        return rows, result

    whole, whole_result = town_totals(False)
    lost = state - whole.loc[whole.index != "all places", "population"].sum()
    assert lost == pytest.approx(48_053, abs=1) and lost / state == pytest.approx(0.0134, abs=5e-5)
    weights = cache.get(("tracts@1", "towns@1", "none")).matrix
    assert int(((1 - np.asarray(weights.sum(axis=1)).ravel()) > 0.005).sum()) == 65
    assert whole_result.outside == pytest.approx(48_053, abs=1)

    study, result = town_totals(True)
    towns_only = study.loc[study.index != "all places", "population"]
    assert towns_only.sum() == pytest.approx(state, abs=0.5)
    assert study.loc["all places", "population"] == pytest.approx(state, abs=0.5)
    assert result.outside == pytest.approx(0, abs=0.5) and "inside the study area" in result.method
    for town, was_low in [("Westbrook", 0.25), ("Old Saybrook", 0.23), ("Clinton", 0.12)]:
        gain = study.loc[town, "population"] / whole.loc[town, "population"] - 1
        assert gain > was_low / (1 - was_low) - 0.02, town  # the whole-area figure was that share too low
    assert (study.loc[study.index != "all places", "population"]
            >= whole.loc[whole.index != "all places", "population"] - 1e-6).all()


def test_moe_of_several_zero_estimates_counts_the_largest_once():
    """Regression (methods §3): the MOE of a sum with several zero estimates took all their MOEs
    root-sum-of-squares; the Census rule counts only the largest zero-estimate MOE, once."""
    units = gpd.GeoDataFrame(
        {"total": [400.0, 300.0, 500.0], "total_moe": [60.0, 50.0, 70.0],
         "g": [0.0, 0.0, 50.0], "g_moe": [20.0, 30.0, 40.0]},
        geometry=[box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000), box(2000, 0, 3000, 1000)], crs="EPSG:26918")
    place = gpd.GeoDataFrame({"name": ["all"]}, geometry=[box(0, 0, 3000, 1000)], index=["p"], crs="EPSG:26918")
    zone = gpd.GeoSeries([box(0, 0, 3000, 1000)], crs="EPSG:26918")
    row = rows(exposure_table(units, zone, place, groups=["g"])).loc[("p", "g")]
    assert row["population_moe"] == pytest.approx(50.0) and row["exposed_moe"] == pytest.approx(50.0)
    assert row["population_moe"] < np.sqrt(20**2 + 30**2 + 40**2) - 3
    total = rows(exposure_table(units, zone, place, groups=["g"])).loc[("p", "total")]
    assert total["population_moe"] == pytest.approx(np.sqrt(60**2 + 50**2 + 70**2))  # no zeros: unchanged
