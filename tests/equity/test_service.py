"""EquityService on the real sample layers published into a temporary store (no web framework)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support.equity_catalog import DROUGHT, HARTFORD_BOX, publish_equity_sample, small_counts
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from geosvc.equity.exposure import exposure_table
from geosvc.equity.report import encode, to_csv, to_json
from geosvc.equity.disparity import disparity_report
from geosvc.equity.requests import DisparityRequest, ExposureRequest, parse_request
from geosvc.equity.service import EquityService
from geosvc.errors import InvalidParameter, NotFound

K = 11
BY_TOWN = {"hazard": DROUGHT, "population": "ct-tracts-2010", "places": "ct-towns", "reference": "nh_white"}
COUNTS = ["population", "exposed"]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return publish_equity_sample(tmp_path_factory.mktemp("equity-store"))


@pytest.fixture(scope="module")
def service(published):
    settings, store = published
    return EquityService(store, settings)


@pytest.fixture(scope="module")
def by_town(service):
    return service.run("exposure", BY_TOWN)


def test_statewide_population_is_the_sum_of_tracts(service):
    report = service.run("exposure", {"hazard": DROUGHT, "population": "ct-tracts-2010"})
    rows = report.rows.set_index("group")
    tracts = service.frame(service.layer("ct-tracts-2010", "population"))
    expected = pd.to_numeric(tracts["Tot_Population_ACS_12_16"], errors="coerce").sum()
    assert rows.loc["total", "population"] == pytest.approx(expected, rel=1e-9)
    assert 0 < rows.loc["total", "exposed"] < rows.loc["total", "population"]
    assert report.rows["place_id"].eq("state").all()
    assert report.geometries.index.tolist() == ["state"]


def test_published_values_equal_the_unprotected_computation(service, by_town):
    """Disclosure control withholds values; it never alters a published one."""
    units = service.units("ct-tracts-2010", None, "nh_white")
    places, _, _ = service.places("ct-towns", None)
    zone, *_ = service.hazard(parse_request(ExposureRequest, BY_TOWN).hazard, units)
    raw = exposure_table(units.frame, zone, places, groups=units.groups, reference="nh_white",
                         place_name="place_name").table.set_index(["place_id", "group"])
    out = by_town.rows[by_town.rows["place_id"] != "_all"].set_index(["place_id", "group"])
    for column in ["population", "exposed", "share", "rr"]:
        shown = out[column].dropna()
        assert len(shown) > 100
        np.testing.assert_allclose(shown.to_numpy(), raw.loc[shown.index, column].to_numpy(), rtol=1e-12)


def test_no_small_count_and_every_withheld_value_has_a_reason(by_town):
    rows = by_town.rows
    assert small_counts(rows[COUNTS].to_numpy().ravel(), K) == []
    for column in ["population", "exposed", "share", "rr"]:
        withheld = rows[column].isna() & rows[f"{column}_suppressed"].notna()
        assert (rows.loc[withheld, f"{column}_suppressed"] != "").all()
    assert by_town.protections["withheld"]["primary_small_count"] > 0


def test_additive_lines_never_hold_exactly_one_withheld_cell(by_town):
    rows = by_town.rows
    for column in COUNTS:
        hidden = rows[f"{column}_suppressed"].notna()
        per_place = hidden.groupby(rows["place_id"]).sum()
        per_group = hidden.groupby(rows["group"]).sum()
        assert not (per_place == 1).any(), per_place[per_place == 1]
        assert not (per_group == 1).any(), per_group[per_group == 1]


def test_index_of_disparity_is_withheld_with_its_inputs(by_town):
    places = by_town.places
    rows = by_town.rows
    hidden_places = rows.loc[rows["share_suppressed"].notna(), "place_id"].unique()
    assert places.loc[hidden_places, "weighted_index_of_disparity"].isna().all()
    shown = places["weighted_index_of_disparity"].dropna()
    assert len(shown) > 50 and (shown >= 0).all()


def test_provenance_names_versions_checksums_and_is_reproducible(published, service, by_town):
    settings, store = published
    provenance = by_town.provenance()
    layers = {x["id"]: x for x in provenance["layers"]}
    assert set(layers) == {"ct-tracts-2010", "us-drought-20161004", "ct-towns"}
    for layer_id, entry in layers.items():
        assert (entry["version"], entry["checksum"]) == (store.get(layer_id).version, store.get(layer_id).checksum)
    assert provenance["parameters"]["hazard"]["filter"] == "DM >= 2"
    assert provenance["crs"]["areas_and_distances"] == "EPSG:5070"
    again = EquityService(store, settings).run("exposure", BY_TOWN)
    assert again.provenance()["result_hash"] == provenance["result_hash"]
    stricter = service.run("exposure", {**BY_TOWN, "k": 20})
    assert stricter.provenance()["result_hash"] != provenance["result_hash"]
    assert small_counts(stricter.rows[COUNTS].to_numpy().ravel(), 20) == []


def test_cql2_json_filter_gives_the_cql2_text_answer(service, by_town):
    as_json = {**BY_TOWN, "hazard": {"collection": "us-drought-20161004", "filter_lang": "cql2-json",
                                     "filter": {"op": ">=", "args": [{"property": "DM"}, 2]}}}
    other = service.run("exposure", as_json)
    pd.testing.assert_series_equal(other.rows["exposed"], by_town.rows["exposed"])


def test_wider_hazard_exposes_at_least_as_many(service, by_town):
    wider = service.run("exposure", {**BY_TOWN, "hazard": {**DROUGHT, "filter": "DM >= 1"}})
    a = wider.rows.set_index(["place_id", "group"])["exposed"]
    b = by_town.rows.set_index(["place_id", "group"])["exposed"]
    both = a.notna() & b.notna()
    assert (a[both] >= b[both] - 1e-6).all() and (a[both] > b[both]).any()


def test_inline_zone_is_rounded_held_to_a_minimum_and_attributed(service):
    report = service.run("exposure", {"hazard": {"geometry": HARTFORD_BOX}, "population": "ct-tracts-2010",
                                      "places": "ct-towns", "groups": ["hispanic", "nh_black"]})
    shown = report.rows["exposed"].dropna()
    assert (shown % 5 == 0).all() and (shown > 0).any()
    assert small_counts(report.rows[COUNTS].to_numpy().ravel(), K) == []
    assert {"minimum_population", "rounding"} <= set(report.protections["applied"])
    assert report.protections["withheld"]["below_min_population"] > 0  # towns the box barely touches
    assert "inline geometry (caller-drawn)" in report.method["hazard"]
    assert [x["role"] for x in report.layers] == ["population", "places"]


def test_inline_zone_in_a_projected_crs_is_reprojected(service):
    lonlat = service.run("exposure", {"hazard": {"geometry": HARTFORD_BOX}, "population": "ct-tracts-2010"})
    from pyproj import Transformer

    to_utm = Transformer.from_crs("OGC:CRS84", "EPSG:26918", always_xy=True)
    ring = [list(to_utm.transform(x, y)) for x, y in HARTFORD_BOX["coordinates"][0]]
    utm = service.run("exposure", {"hazard": {"geometry": {"type": "Polygon", "coordinates": [ring]},
                                              "crs": "EPSG:26918"}, "population": "ct-tracts-2010"})
    total = lambda r: r.rows.set_index("group").loc["total", "exposed"]  # noqa: E731
    assert total(utm) == pytest.approx(total(lonlat), rel=0.01)


def test_invalid_inline_polygon_is_repaired_and_says_so(service):
    bowtie = {"type": "Polygon", "coordinates": [[[-72.75, 41.72], [-72.62, 41.80], [-72.62, 41.72],
                                                  [-72.75, 41.80], [-72.75, 41.72]]]}
    report = service.run("exposure", {"hazard": {"geometry": bowtie}, "population": "ct-tracts-2010"})
    assert any(note.startswith("repaired 1 invalid polygon") for note in report.method["hazard"])
    assert report.rows.set_index("group").loc["total", "exposed"] > 0


def test_hazard_outside_the_state_gives_zero_exposure(service):
    texas = {"type": "Polygon", "coordinates": [[[-100, 30], [-99, 30], [-99, 31], [-100, 31], [-100, 30]]]}
    report = service.run("exposure", {"hazard": {"geometry": texas}, "population": "ct-tracts-2010",
                                      "places": "ct-towns"})
    assert (report.rows["exposed"].fillna(0) == 0).all()
    assert report.rows["population"].notna().any()


@pytest.mark.parametrize(("change", "error", "param"), [
    ({"population": "no-such-layer"}, NotFound, None),
    ({"places": "no-such-layer"}, NotFound, None),
    ({"hazard": {"collection": "no-such-layer"}}, NotFound, None),
    ({"population": "ct-towns"}, InvalidParameter, "population"),
    ({"population": "ct-tracts-restricted"}, NotFound, None),
    ({"groups": ["martians"]}, InvalidParameter, "groups"),
    ({"reference": "martians"}, InvalidParameter, "reference"),
    ({"k": 5}, InvalidParameter, "k"),
    ({"places": "ct-hospitals"}, InvalidParameter, "places"),
    ({"hazard": {"collection": "ct-hospitals"}}, InvalidParameter, "hazard.collection"),
    ({"hazard": {"collection": "us-drought-20161004", "filter": "NOPE >= 2"}}, InvalidParameter, "filter"),
    ({"hazard": {"collection": "us-drought-20161004", "filter": "DM >="}}, InvalidParameter, "filter"),
    ({"hazard": {"geometry": {"type": "Point", "coordinates": [-72.7, 41.7]}}}, InvalidParameter, "hazard.geometry"),
    ({"hazard": {"geometry": {"type": "Polygon", "coordinates": []}}}, InvalidParameter, "hazard.geometry"),
    ({"hazard": {"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}}},
     InvalidParameter, "hazard.geometry"),
    ({"hazard": {"geometry": {"type": "FeatureCollection", "features": []}}}, InvalidParameter, "hazard.geometry"),
    ({"hazard": {"geometry": HARTFORD_BOX, "crs": "EPSG:99999"}}, InvalidParameter, "crs"),
    ({"hazard": {}}, InvalidParameter, "hazard"),
])
def test_bad_exposure_requests_are_refused_with_the_parameter(service, change, error, param):
    with pytest.raises(error) as caught:
        service.run("exposure", {**BY_TOWN, **change})
    assert caught.value.http_status in (400, 404)
    if param is not None:
        assert caught.value.param == param
    assert str(caught.value)


ACCESS = {"facilities": "ct-hospitals", "population": "ct-tracts-2010", "places": "ct-towns",
          "reference": "nh_white", "within_km": 5, "catchment_km": 15}


def test_access_by_town_is_protected_and_consistent(service):
    report = service.run("access", ACCESS)
    rows = report.rows
    assert small_counts(rows[["population", "within"]].to_numpy().ravel(), K) == []
    shown = rows.dropna(subset=["population", "within", "share_within"])
    np.testing.assert_allclose(shown["within"], shown["share_within"] * shown["population"], rtol=1e-9)
    ok = rows.dropna(subset=["p50_km", "p90_km", "mean_km"])
    assert len(ok) > 100 and (ok["p50_km"] <= ok["p90_km"] + 1e-9).all()
    assert rows.loc[rows["population_suppressed"].notna(), "mean_km"].isna().all()
    white = rows[rows["group"] == "nh_white"]
    assert white["access_ratio"].isna().all()  # the reference is not compared with itself
    assert {x["role"] for x in report.layers} == {"population", "facilities", "places"}


def test_access_statewide_shares_grow_with_distance(service):
    near = service.run("access", {**ACCESS, "places": None, "within_km": 2}).rows.set_index("group")
    far = service.run("access", {**ACCESS, "places": None, "within_km": 20}).rows.set_index("group")
    both = far["share_within"].notna() & near["share_within"].notna()
    assert both.sum() >= 5 and (far.loc[both, "share_within"] >= near.loc[both, "share_within"]).all()
    assert far.loc["total", "share_within"] > near.loc["total", "share_within"]


def test_disparity_reproduces_chesson_2017():
    groups = [{"id": g, "population": p * 1e6, "events": c} for g, p, c in zip(
        ["white", "black", "hispanic", "asian", "aian"], [200, 40, 55, 20, 3], [70800, 563240, 52360, 4480, 2820])]
    report = disparity_report(parse_request(DisparityRequest, {"groups": groups, "reference": "white"}), K)
    assert round(report.summary["index_of_disparity"], 1) == 166.5
    assert round(report.summary["weighted_index_of_disparity"], 1) == 137.2
    assert round(report.summary["gini"], 3) == 0.724
    black = report.rows.set_index("group").loc["black"]
    assert round(black["rr"], 1) == 39.8 and black["rr_low"] < black["rr"] < black["rr_high"]


def test_disparity_rate_intervals_are_garwood():
    groups = [{"id": "a", "population": 100_000, "events": 20}, {"id": "b", "population": 100_000, "events": 40}]
    rows = disparity_report(parse_request(DisparityRequest, {"groups": groups, "per": 100_000}), K).rows
    a = rows.set_index("group").loc["a"]
    assert (round(a["rate_low"], 3), round(a["rate_high"], 3)) == (12.217, 30.888)


def test_disparity_from_rates_protects_the_implied_events():
    groups = [{"id": "a", "population": 1000, "rate": 5}, {"id": "b", "population": 3000, "rate": 10},
              {"id": "c", "population": 2000, "rate": 30}]
    report = disparity_report(parse_request(DisparityRequest, {"groups": groups, "per": 1000}), K)
    rows = report.rows.set_index("group")
    assert pd.isna(rows.loc["a", "events"]) and pd.isna(rows.loc["a", "rate"])  # 5 events implied
    assert rows.loc["c", "events"] == pytest.approx(60) and rows.loc["c", "rate"] == pytest.approx(30)
    assert rows["rate_low"].isna().all() and report.summary["gini"] is None


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 60), min_size=2, max_size=6), st.integers(K, 25))
def test_disparity_never_publishes_a_small_count(events, k):
    groups = [{"id": f"g{i}", "population": 1000 + 97 * i, "events": e} for i, e in enumerate(events)]
    report = disparity_report(parse_request(DisparityRequest, {"groups": groups, "k": k}), K)
    body = to_json(report)
    assert small_counts([r["events"] for r in body["results"]], k) == []
    hidden = sum(r["events"] is None for r in body["results"])
    assert hidden != 1  # the groups and their total are one additive line
    if hidden:
        assert body["summary"]["gini"] is None and body["summary"]["suppressed"] is not None
    assert small_counts(pd.read_csv(__import__("io").StringIO(to_csv(report)))["events"].dropna(), k) == []


@pytest.mark.parametrize(("body", "param"), [
    ({"groups": [{"id": "a", "population": 10, "events": 1}]}, "groups"),
    ({"groups": [{"id": "a", "population": 10, "events": 1}, {"id": "a", "population": 9, "events": 1}]}, "groups"),
    ({"groups": [{"id": "a", "population": 10, "events": 1}, {"id": "b", "population": 9, "rate": 1}]}, "groups"),
    ({"groups": [{"id": "a", "population": -1, "events": 1}, {"id": "b", "population": 9, "events": 1}]},
     "groups.0.population"),
    ({"groups": [{"id": "a", "population": 10, "events": 1}, {"id": "b", "population": 9, "events": 1}],
      "reference": "zzz"}, "reference"),
])
def test_bad_disparity_requests(service, body, param):
    with pytest.raises(InvalidParameter) as caught:
        service.run("disparity", body)
    assert caught.value.param == param


def test_svi_reproduces_cdc_pennsylvania_2022(service, published):
    settings, _ = published
    cdc = pd.read_csv(settings.data.root / "reference" / "svi2022_pa_county_cdc.csv", dtype={"FIPS": str})
    inputs = cdc[["FIPS", "E_TOTPOP", *[c for c in cdc.columns if c.startswith("EP_")]]]
    report = service.run("svi", {"units": inputs.to_dict("records"), "id_field": "FIPS"})
    out = report.rows.set_index("FIPS").loc[cdc["FIPS"]]
    for column in ["RPL_THEMES", "RPL_THEME1", "SPL_THEMES", "EPL_POV150", "F_TOTAL"]:
        np.testing.assert_array_equal(out[column].to_numpy(float), cdc[column].to_numpy(float))
    body, media = encode(report, "csv")
    assert media.startswith("text/csv") and body.count(b"\n") == len(cdc) + 1


def test_svi_refuses_units_without_the_variables(service):
    with pytest.raises(InvalidParameter, match="missing SVI variables"):
        service.run("svi", {"units": [{"FIPS": "1", "EP_POV150": 1.0}, {"FIPS": "2", "EP_POV150": 2.0}]})


# -- the methods §7 toy, published as real layers (MOEs flow through the whole service) -------------
TOY_X, TOY_Y = 700_000, 4_620_000  # EPSG:26918, inside Connecticut


@pytest.fixture(scope="module")
def toy_service(tmp_path_factory):
    import geopandas as gpd
    from shapely import box

    from geosvc.records.models import LayerRecord
    from support.postgis import store_settings

    from geosvc.store.backends import open_store
    from geosvc.store.publish import publish_layer
    from geosvc.validate.findings import LayerReport

    settings = store_settings(store_dir=tmp_path_factory.mktemp("toy-store"))
    store = open_store(settings)
    common = {"theme": "demographics", "update_cadence": "static", "source": {"path": "toy.gpkg"},
              "crs": "EPSG:26918"}
    tracts = LayerRecord(id="toy-tracts", title="§7 toy tracts", id_field="GEOID", **common, equity={
        "total_field": "pop", "groups": [
            {"id": "hispanic", "label": "Hispanic", "field": "hisp", "moe_field": "hisp_moe"},
            {"id": "nh_white", "label": "NH White", "field": "white", "moe_field": "white_moe"}]})
    zone = LayerRecord(id="toy-zone", title="§7 toy zone", **common)
    frames = [
        (tracts, gpd.GeoDataFrame(
            {"GEOID": ["A", "B"], "pop": [1000.0, 1000.0], "hisp": [300.0, 400.0], "hisp_moe": [80.0, 90.0],
             "white": [600.0, 150.0], "white_moe": [100.0, 60.0]},
            geometry=[box(TOY_X, TOY_Y, TOY_X + 2000, TOY_Y + 1000),
                      box(TOY_X + 2000, TOY_Y, TOY_X + 4000, TOY_Y + 1000)], crs="EPSG:26918")),
        (zone, gpd.GeoDataFrame({"kind": ["flood"]}, geometry=[box(TOY_X + 1500, TOY_Y, TOY_X + 3500, TOY_Y + 1000)],
                                crs="EPSG:26918")),
    ]
    for record, frame in frames:  # the real publish path; the toy has no source file to validate
        publish_layer(record, LayerReport(layer=record.id, data=frame), store, settings)
    return EquityService(store, settings)


def test_toy_exposure_reproduces_the_methods_reference_values(toy_service):
    report = toy_service.run("exposure", {"hazard": {"collection": "toy-zone"}, "population": "toy-tracts",
                                          "reference": "nh_white"})
    rows = report.rows.set_index("group")
    hisp, white = rows.loc["hispanic"], rows.loc["nh_white"]
    assert (round(hisp["exposed"], 1), round(hisp["exposed_moe"], 1)) == (375.0, 70.4)
    assert (round(hisp["share"], 4), round(hisp["share_moe"], 4)) == (0.5357, 0.0427)
    assert (round(white["exposed"], 1), round(white["exposed_moe"], 2)) == (262.5, 51.48)
    assert (round(white["share"], 3), round(white["share_moe"], 4)) == (0.35, 0.0347)
    assert [round(hisp[c], 3) for c in ("rr", "rr_low", "rr_high")] == [1.531, 1.315, 1.781]
    assert [round(hisp[c], 1) for c in ("rd_per_1000", "rd_low", "rd_high")] == [185.7, 120.2, 251.3]
    assert hisp["reliability"] == "high" and not hisp["use_caution"]
    assert pd.isna(white["rr"])  # the reference itself


@hsettings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.floats(0, 40, allow_nan=False), min_size=2, max_size=4), min_size=1, max_size=5),
       st.booleans(), st.integers(K, 20))
def test_place_tables_never_publish_small_counts_nor_lone_withheld_cells(cells, inline, k):
    """protect_place_table on random place × group tables (groups, place totals, overall row)."""
    from geosvc.equity.protection import ALL_PLACES, TOTAL, protect_place_table

    n_groups = min(len(row) for row in cells)
    rows = []
    for p, row in enumerate(cells):
        groups = row[:n_groups]
        for g, value in enumerate(groups):
            rows.append({"place_id": f"p{p}", "group": f"g{g}", "population": value + 30, "exposed": value})
        rows.append({"place_id": f"p{p}", "group": TOTAL, "population": sum(groups) + 30 * n_groups,
                     "exposed": sum(groups)})
    table = pd.DataFrame(rows)
    overall = table.groupby("group", sort=False)[["population", "exposed"]].sum().reset_index()
    table = pd.concat([table, overall.assign(place_id=ALL_PLACES)], ignore_index=True)
    table["share"] = table["exposed"] / table["population"]
    table["share_moe"] = np.nan
    table["rate_per_1000"] = 1000 * table["share"]
    for column in ("rr", "rr_low", "rr_high", "rd_per_1000", "rd_low", "rd_high"):
        table[column] = 1.0
    out, protections = protect_place_table(table, k=k, k_floor=K, reference="total", inline=inline)
    assert small_counts(out[COUNTS].to_numpy().ravel(), k) == []
    for column in COUNTS:
        hidden = out[f"{column}_suppressed"].notna() | out[column].isna()
        assert not (hidden.groupby(out["place_id"]).sum() == 1).any()
        assert not (hidden.groupby(out["group"]).sum() == 1).any()
    assert out.loc[out["exposed"].isna(), "share"].isna().all()
    assert out.loc[out["exposed"].isna(), "rate_per_1000"].isna().all()
    if inline:
        assert (out["exposed"].dropna() % 5 == 0).all() and "rounding" in protections["applied"]


def test_different_inline_zones_never_share_cached_weights(service):
    def total(box_):
        report = service.run("exposure", {"hazard": {"geometry": box_}, "population": "ct-tracts-2010"})
        return report.rows.set_index("group").loc["total", "exposed"]

    shifted = {"type": "Polygon", "coordinates": [[[x + 0.3, y] for x, y in HARTFORD_BOX["coordinates"][0]]]}
    first, second, again = total(HARTFORD_BOX), total(shifted), total(HARTFORD_BOX)
    assert first == again and first != second and second > 0


def _unexplained_nulls(frame: pd.DataFrame) -> dict[str, int]:
    """Null values of ``frame`` whose ``<column>_suppressed`` gives no reason, by column."""
    found = {}
    for column in frame.columns:
        if f"{column}_suppressed" in frame.columns:
            count = int((frame[column].isna() & frame[f"{column}_suppressed"].isna()).sum())
            if count:
                found[column] = count
    return found


@pytest.mark.parametrize("body", [
    ("access", {"facilities": "ct-hospitals", "population": "ct-tracts-2010", "places": "ct-towns"}),
    ("access", {"facilities": "ct-hospitals", "population": "ct-tracts-2010", "reference": "rest"}),
    ("exposure", BY_TOWN),
    ("exposure", {**BY_TOWN, "reference": "rest", "hazard": {"collection": "us-drought-20161004",
                                                             "filter": "DM >= 4"}}),
], ids=["access-by-town", "access-state", "exposure-by-town", "exposure-nothing-exposed"])
def test_every_null_value_carries_a_reason(service, body):
    """Regression: two access groups (missing tract values) were all null, and the weighted index of
    disparity was null where nothing is exposed, with no reason code."""
    report = service.run(*body)
    assert _unexplained_nulls(report.rows) == {}
    if report.places is not None:
        assert _unexplained_nulls(report.places) == {}
    reasons = set(report.rows.filter(like="_suppressed").stack().dropna())
    assert reasons >= ({"missing_input"} if body[0] == "access" else {"no_margin_of_error", "is_reference"})
    if body[1].get("hazard", {}).get("filter") == "DM >= 4":  # no D4 drought in Connecticut: nobody exposed
        assert set(report.places["weighted_index_of_disparity_suppressed"]) <= {"undefined", "derived_from_suppressed"}
        assert "undefined" in set(report.places["weighted_index_of_disparity_suppressed"])


def test_missing_group_values_are_explained_not_zeroed(service):
    report = service.run("access", {"facilities": "ct-hospitals", "population": "ct-tracts-2010",
                                    "groups": ["below_poverty", "limited_english"]})
    rows = report.rows.set_index("group")
    for group in ("below_poverty", "limited_english"):
        assert np.isnan(rows.loc[group, "mean_km"]) and rows.loc[group, "mean_km_suppressed"] == "missing_input"


def test_a_filter_selecting_no_hazard_feature_exposes_nobody(service):
    """Regression: an empty selection became an empty GeometryCollection, refused as 'not polygons'."""
    report = service.run("exposure", {"hazard": {"collection": "us-drought-20161004", "filter": "DM > 99"},
                                      "population": "ct-tracts-2010"})
    total = report.rows.set_index("group").loc["total"]
    assert total["exposed"] == 0 and total["population"] > 3_000_000
    assert "0 feature(s) selected" in " ".join(report.method["hazard"])
