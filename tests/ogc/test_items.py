"""Items through the fast JSON path: paging, bbox (+bbox-crs), crs output, properties, sortby,
queryables, CQL2 text/JSON, datetime; answers checked against the published features themselves."""

from __future__ import annotations

import json

import numpy as np
import pyproj
import pytest
import shapely

T = "/ogc/collections/ct-tracts-2010/items"
H = "/ogc/collections/ct-hospitals/items"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@pytest.fixture(scope="module")
def tracts(store):
    return store.read_features(store.get("ct-tracts-2010"))


def _ids(response):
    assert response.status_code == 200, response.text
    return [f["id"] for f in response.json()["features"]]


def test_page_shape_and_links(client, tracts, ogc_url):
    response = client.get(T, params={"limit": 100, "offset": 100})
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["numberMatched"] == len(tracts) and body["numberReturned"] == 100
    assert body["timeStamp"].endswith("Z")
    assert [f["id"] for f in body["features"]] == tracts["GEOID10"].iloc[100:200].tolist()
    links = {link["rel"]: link for link in body["links"]}
    assert {"self", "alternate", "collection", "next", "prev"} <= set(links)
    assert links["next"]["type"] == links["prev"]["type"] == "application/geo+json"
    assert links["next"]["href"].startswith(f"{ogc_url}/collections/ct-tracts-2010/items?")
    assert "offset=200" in links["next"]["href"] and "limit=100" in links["next"]["href"]
    assert "offset" not in links["prev"]["href"]
    assert links["alternate"]["type"] == "text/html"


def test_following_next_links_returns_every_feature_once(client, tracts, ogc_url):
    url, seen = T + "?limit=300", []
    while url:
        body = client.get(url.removeprefix(ogc_url.removesuffix("/ogc"))).json()
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert seen == tracts["GEOID10"].tolist()


def test_feature_geometry_and_properties_match_the_store(client, tracts):
    feature = client.get(T + "/09001010101").json()
    row = tracts[tracts["GEOID10"] == "09001010101"].iloc[0]
    assert shapely.geometry.shape(feature["geometry"]).equals_exact(row.geometry, 1e-9)
    assert feature["properties"]["ALAND10"] == row["ALAND10"]
    assert {link["rel"] for link in feature["links"]} >= {"self", "collection", "alternate"}


def test_limit_above_maximum_is_lowered(client, tracts):
    body = client.get(T, params={"limit": 100000}).json()
    assert body["numberReturned"] == len(tracts)


def test_bbox_matches_a_direct_query(client, tracts):
    box = (-73.0, 41.2, -72.8, 41.4)
    expected = tracts[tracts.intersects(shapely.box(*box))]["GEOID10"].tolist()
    ids = _ids(client.get(T, params={"bbox": ",".join(map(str, box)), "limit": 1000}))
    assert ids == expected and 0 < len(ids) < len(tracts)


def test_bbox_crs_3857_is_not_clamped(client, tracts):
    box = (-73.0, 41.2, -72.8, 41.4)
    t = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:3857", always_xy=True)
    merc = t.transform_bounds(*box)
    ids = _ids(client.get(T, params={"bbox": ",".join(map(str, merc)), "bbox-crs": EPSG + "3857", "limit": 1000}))
    expected = _ids(client.get(T, params={"bbox": ",".join(map(str, box)), "limit": 1000}))
    assert set(expected) <= set(ids) and len(ids) - len(expected) < 10


def test_bbox_crs_4326_is_lat_lon(client):
    lonlat = _ids(client.get(T, params={"bbox": "-73,41.2,-72.8,41.4", "limit": 1000}))
    latlon = _ids(client.get(T, params={"bbox": "41.2,-73,41.4,-72.8", "bbox-crs": EPSG + "4326", "limit": 1000}))
    assert latlon == lonlat


@pytest.mark.parametrize("code", ["4326", "4269", "3857", "6434", "2234"])
def test_crs_output(client, tracts, code):
    response = client.get(T + "/09001010101", params={"crs": EPSG + code})
    assert response.headers["content-crs"] == f"<{EPSG}{code}>"
    geom = shapely.geometry.shape(response.json()["geometry"])
    row = tracts[tracts["GEOID10"] == "09001010101"].iloc[0].geometry
    t = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{code}")  # authority axis order
    expected = shapely.transform(row, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    assert geom.equals_exact(expected, 1e-6)
    if code in ("4326", "4269"):
        x, y = geom.representative_point().coords[0]
        assert 40 < x < 43 and -74 < y < -71  # latitude first


def test_default_crs_is_crs84(client):
    response = client.get(T, params={"limit": 1})
    assert response.headers["content-crs"] == f"<{CRS84}>"
    x, y = shapely.geometry.shape(response.json()["features"][0]["geometry"]).representative_point().coords[0]
    assert -74 < x < -71 and 40 < y < 43


def test_properties_and_skip_geometry(client):
    feature = client.get(T, params={"limit": 1, "properties": "GEOID10,ALAND10", "skipGeometry": "true"}).json()[
        "features"][0]
    assert set(feature["properties"]) == {"GEOID10", "ALAND10"}
    assert feature["geometry"] is None


def test_sortby(client, tracts):
    body = client.get(T, params={"limit": 5, "sortby": "-ALAND10"}).json()
    expected = tracts.sort_values("ALAND10", ascending=False, kind="stable")["GEOID10"].head(5).tolist()
    assert [f["id"] for f in body["features"]] == expected
    body = client.get(T, params={"limit": 5, "sortby": "+COUNTYFP10,-ALAND10"}).json()
    expected = tracts.sort_values(["COUNTYFP10", "ALAND10"], ascending=[True, False], kind="stable")
    assert [f["id"] for f in body["features"]] == expected["GEOID10"].head(5).tolist()


def test_typed_queryable(client, tracts):
    target = int(tracts["ALAND10"].iloc[7])
    assert _ids(client.get(T, params={"ALAND10": target})) == tracts[tracts["ALAND10"] == target]["GEOID10"].tolist()
    assert _ids(client.get(T, params={"COUNTYFP10": "003", "limit": 1000})) == tracts[
        tracts["COUNTYFP10"] == "003"]["GEOID10"].tolist()


def test_queryables_list_real_fields(client, store):
    body = client.get("/ogc/collections/ct-tracts-2010/queryables").json()
    fields = store.get("ct-tracts-2010").fields
    for name, kind in fields.items():
        assert name in body["properties"]
    assert body["properties"]["ALAND10"]["type"] == "integer"
    assert body["properties"]["GEOID10"]["type"] == "string"


def test_cql2_text(client, tracts):
    expected = tracts[(tracts["ALAND10"] > 1_000_000) & tracts["NAME10"].str.startswith("1")]["GEOID10"].tolist()
    ids = _ids(client.get(T, params={"filter": "ALAND10 > 1000000 AND NAME10 LIKE '1%'", "limit": 1000}))
    assert ids == expected and ids


def test_cql2_spatial_bbox_text_and_json_agree(client, tracts):
    box = (-73.0, 41.0, -72.9, 41.2)
    expected = tracts[tracts.intersects(shapely.box(*box))]["GEOID10"].tolist()
    text = _ids(client.get(T, params={"filter": f"S_INTERSECTS(geom, BBOX({','.join(map(str, box))}))",
                                      "limit": 1000}))
    cql_json = json.dumps({"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": list(box)}]})
    as_json = _ids(client.get(T, params={"filter": cql_json, "filter-lang": "cql2-json", "limit": 1000}))
    assert text == as_json == expected and expected


def test_filter_crs(client, tracts):
    box = (-73.0, 41.0, -72.9, 41.2)
    merc = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:3857", always_xy=True).transform_bounds(*box)
    polygon = shapely.box(*merc).wkt
    ids = _ids(client.get(T, params={"filter": f"S_INTERSECTS(geom, {polygon})", "filter-crs": EPSG + "3857",
                                     "limit": 1000}))
    expected = tracts[tracts.intersects(shapely.box(*box))]["GEOID10"].tolist()
    assert set(expected) <= set(ids) and len(ids) - len(expected) < 5


def test_datetime_on_the_time_field(client, store):
    hospitals = store.read_features(store.get("ct-hospitals"))
    times = hospitals["VAL_DATE"].astype("datetime64[ns]") if hospitals["VAL_DATE"].dtype != object else \
        __import__("pandas").to_datetime(hospitals["VAL_DATE"])
    expected = hospitals[(times >= "2014-01-01") & (times < "2015-01-01")]["ID"].astype(str).tolist()
    ids = _ids(client.get(H, params={"datetime": "2014-01-01/2014-12-31", "limit": 1000}))
    assert [str(i) for i in ids] == expected and expected
    hits = client.get(H, params={"datetime": "2014-01-01/2014-12-31", "resulttype": "hits"}).json()
    assert hits["numberMatched"] == len(expected) and hits["features"] == []


def test_html_goes_to_pygeoapi_and_agrees(client):
    html = client.get(T, params={"f": "html", "limit": 3, "sortby": "-ALAND10"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    ids = _ids(client.get(T, params={"limit": 3, "sortby": "-ALAND10"}))
    assert all(i in html.text for i in ids)
    browser = client.get(T + "?limit=1", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.headers["content-type"].startswith("text/html")


AGREEMENT_QUERIES = [
    {"limit": "20", "offset": "5", "bbox": "-73,41,-72.5,41.5", "sortby": "-ALAND10", "filter": "ALAND10 > 500000"},
    {"limit": "15", "bbox": "-73,41,0,-72.5,41.5,100"},  # 6 numbers: the z range is ignored
    {"limit": "10", "bbox": "-8130000,5020000,-8060000,5080000",
     "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/3857"},
    {"limit": "12", "bbox": "41.2,-73.2,41.6,-72.8", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
    {"limit": "25", "filter-lang": "cql2-json",
     "filter": '{"op":"and","args":[{"op":">","args":[{"property":"ALAND10"},1000000]},'
               '{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":[-73.0,41.2,-72.6,41.6]}]}]}'},
    {"limit": "30", "sortby": "NAMELSAD10", "offset": "40", "properties": "GEOID10,NAMELSAD10"},
    {"limit": "5", "filter": "S_INTERSECTS(geom, BBOX(-72.9, 41.3, -72.8, 41.4)) AND NOT ALAND10 < 100"},
]


@pytest.mark.parametrize("params", AGREEMENT_QUERIES)
def test_pygeoapi_provider_path_and_fast_path_agree(client, params):
    """The JSON fast path and pygeoapi's provider path (JSON-LD ids, HTML count) give the same answer."""
    fast = client.get(T, params=params)
    assert fast.status_code == 200, fast.text
    fast = fast.json()
    linked = client.get(T, params={**params, "f": "jsonld"})
    assert linked.status_code == 200, linked.text
    ids = [feature["@id"].rsplit("/", 1)[1] for feature in linked.json()["features"]]
    assert ids == [str(feature["id"]) for feature in fast["features"]]
    page = client.get(T, params={**params, "f": "html"})
    assert page.status_code == 200
    assert f"Items in this collection: {fast['numberMatched']}" in page.text
    assert fast["numberMatched"] >= fast["numberReturned"] > 0
