"""Access: nearest-facility distance by group, 2SFCA (methods §6/§7 toy), refusals, real hospitals."""

from __future__ import annotations

from support import ct_data
import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import Point, box

from geosvc.equity.access import (
    STATE,
    access_table,
    two_step_fca,
    weighted_quantiles,
)
from geosvc.errors import InvalidParameter

ALBERS = "EPSG:5070"


def test_2sfca_toy_from_travel_minutes():
    minutes = np.array([[5, 25], [10, 12], [40, 8]])
    unit, facility = np.indices(minutes.shape).reshape(2, -1)
    access = two_step_fca([1000, 2000, 500], [100, 50], unit=unit, facility=facility,
                          distance=minutes.ravel(), catchment=15)
    np.testing.assert_allclose(1000 * access, [33.333, 53.333, 20.0], atol=5e-4)
    assert np.dot([1000, 2000, 500], access) == pytest.approx(150)


@pytest.fixture
def toy_line():
    """The 2SFCA toy laid out in km so the pairs inside d0 = 15 keep their values (5, 10, 12, 8)."""
    u2 = (8.9, np.sqrt(10**2 - 8.9**2))
    units = gpd.GeoDataFrame(
        {"total": [1000.0, 2000.0, 500.0], "g": [100.0, 400.0, 300.0]},
        geometry=[Point(-5000, 0), Point(u2[0] * 1000, u2[1] * 1000), Point(28000, 0)], crs=ALBERS,
    )
    sites = gpd.GeoDataFrame({"beds": [100.0, 50.0]}, geometry=[Point(0, 0), Point(20000, 0)], crs=ALBERS)
    return units, sites


def test_2sfca_toy_by_group_against_everyone_else(toy_line):
    units, sites = toy_line
    result = access_table(units, sites, groups=["g"], reference="rest", catchment_km=15, capacity="beds")
    np.testing.assert_allclose(result.units["access_per_1000"], [33.333, 53.333, 20.0], atol=5e-4)
    assert result.supply_served == pytest.approx(150)
    row = result.table.set_index("group").loc["g"]
    assert row["access_per_1000"] == pytest.approx(38.33, abs=0.005)
    assert row["access_per_1000"] / row["access_ratio"] == pytest.approx(44.20, abs=0.005)
    assert result.table["place_id"].unique().tolist() == [STATE]


def test_default_capacity_is_one_per_facility(toy_line):
    units, sites = toy_line
    one = access_table(units, sites, groups=["g"], catchment_km=15).units["access_per_1000"]
    beds = access_table(units, sites, groups=["g"], catchment_km=15, capacity="beds").units["access_per_1000"]
    assert one.iloc[0] == pytest.approx(1000 / 3000)  # facility 1 serves units 1 and 2
    assert beds.iloc[0] == pytest.approx(100 * one.iloc[0])


def test_nearest_distance_statistics_by_group():
    # four units 0, 2, 4 and 10 km east of a hospital; group a lives near, group b far
    units = gpd.GeoDataFrame(
        {"total": [100.0, 100.0, 100.0, 100.0], "a": [90.0, 10.0, 0.0, 0.0], "b": [0.0, 0.0, 50.0, 50.0]},
        geometry=[box(x * 1000 - 100, -100, x * 1000 + 100, 100) for x in (0, 2, 4, 10)], crs=ALBERS,
    )
    hospital = gpd.GeoSeries([Point(0, 0)], crs=ALBERS)
    out = access_table(units, hospital, groups=["a", "b"], reference="a", within_km=3).table.set_index("group")
    assert out.loc["total", "mean_km"] == pytest.approx(4.0)
    assert out.loc["a", "mean_km"] == pytest.approx(0.2)
    assert out.loc["b", "mean_km"] == pytest.approx(7.0)
    assert out.loc["total", ["p50_km", "p90_km"]].tolist() == [2.0, 10.0]
    assert out.loc["b", ["p50_km", "p90_km"]].tolist() == [4.0, 10.0]
    assert out.loc["total", "share_within"] == 0.5 and out.loc["b", "share_within"] == 0.0
    assert out.loc["b", "mean_km_ratio"] == pytest.approx(35.0)
    assert np.isnan(out.loc["a", "mean_km_ratio"])


def test_places_weight_units_by_area():
    units = gpd.GeoDataFrame({"total": [100.0, 300.0]}, geometry=[box(0, 0, 2000, 2000), box(2000, 0, 4000, 2000)],
                             crs=ALBERS)
    places = gpd.GeoDataFrame({"name": ["W", "E"]}, geometry=[box(0, 0, 3000, 2000), box(3000, 0, 4000, 2000)],
                              index=["w", "e"], crs=ALBERS)
    out = access_table(units, gpd.GeoSeries([Point(1000, 1000)], crs=ALBERS), places, groups=[],
                       place_name="name").table.set_index("place_id")
    assert out.loc["w", "population"] == pytest.approx(250)  # all of unit 1, half of unit 2
    assert out.loc["w", "mean_km"] == pytest.approx(150 * 2 / 250)
    assert out.loc["e", "mean_km"] == pytest.approx(2.0) and out.loc["e", "place_name"] == "E"


def test_weighted_quantiles_and_missing_weights():
    assert weighted_quantiles(np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 1.0]), [0.5]).tolist() == [2.0]
    assert np.isnan(weighted_quantiles(np.array([1.0]), np.array([np.nan]), [0.5])).all()
    assert np.isnan(weighted_quantiles(np.array([1.0]), np.array([0.0]), [0.5])).all()


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"within_km": 0}, "within_km"),
        ({"catchment_km": -5}, "catchment_km"),
        ({"capacity": "beds"}, "capacity"),
        ({"groups": ["nobody"]}, "groups"),
        ({"reference": "nobody"}, "reference"),
    ],
)
def test_bad_parameters_are_refused(kwargs, param):
    units = gpd.GeoDataFrame({"total": [10.0]}, geometry=[box(0, 0, 1, 1)], crs=ALBERS)
    with pytest.raises(InvalidParameter) as err:
        access_table(units, gpd.GeoSeries([Point(0, 0)], crs=ALBERS), **{"groups": [], **kwargs})
    assert err.value.param == param


def test_facilities_must_be_points():
    units = gpd.GeoDataFrame({"total": [10.0]}, geometry=[box(0, 0, 1, 1)], crs=ALBERS)
    with pytest.raises(InvalidParameter, match="must be points"):
        access_table(units, gpd.GeoSeries([box(0, 0, 1, 1)], crs=ALBERS), groups=[])
    with pytest.raises(InvalidParameter, match="no facility"):
        access_table(units, gpd.GeoSeries([Point()], crs=ALBERS), groups=[])


def test_multipoint_facilities_are_accepted_at_their_nearest_site():
    """Regression: the service let MultiPoint facilities through and access_table then refused them."""
    units = gpd.GeoDataFrame({"total": [100.0, 300.0]}, geometry=[Point(9000, 0), Point(-2000, 0)], crs=ALBERS)
    campus = gpd.GeoSeries([shapely.MultiPoint([(0, 0), (10000, 0)])], crs=ALBERS)
    result = access_table(units, campus, groups=[], within_km=1.5, catchment_km=5)
    assert result.units["distance_km"].tolist() == pytest.approx([1.0, 2.0])
    assert result.table["share_within"].iloc[0] == pytest.approx(0.25)
    assert result.supply_served == pytest.approx(1.0)  # one facility, demand in reach


def test_real_hospitals_by_group():
    tracts = ct_data.tracts()
    hospitals = gpd.read_file(ct_data.data_root() / "facilities/HIFLD_Hospitals-shp.zip")
    hospitals = hospitals[hospitals.geometry.notna()]
    result = access_table(tracts, hospitals, groups=["hispanic", "nh_black"], reference="nh_white",
                          within_km=10, catchment_km=30)
    # nearest distance equals a brute-force minimum over the hospitals near the state
    points = shapely.centroid(np.asarray(tracts.geometry.array))
    sites = np.asarray(hospitals.to_crs(ALBERS).geometry.array)
    near = sites[shapely.dwithin(sites, shapely.box(*shapely.total_bounds(points)), 100_000)]
    brute = shapely.distance(points[:, None], near[None, :]).min(axis=1) / 1000
    np.testing.assert_allclose(result.units["distance_km"], brute, rtol=1e-12)
    # 2SFCA invariant: Σ P·A = number of hospitals with someone within the catchment
    reached = shapely.dwithin(near[:, None], points[None, tracts["total"].to_numpy() > 0], 30_000).any(axis=1)
    assert result.supply_served == pytest.approx(reached.sum())
    table = result.table.set_index("group")
    assert 0 < table.loc["total", "mean_km"] < 20 and table.loc["total", "p50_km"] <= table.loc["total", "p90_km"]
    assert table[["mean_km_ratio", "access_ratio"]].drop(index="nh_white").notna().all().all()
