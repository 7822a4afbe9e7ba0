"""Records catalog: records of the really published sample catalog, search, the provider, and HTTP."""

from __future__ import annotations

import types


import httpx
import pytest
from pygeoapi.provider.base import ProviderInvalidQueryError, ProviderItemNotFoundError

from geosvc.errors import InvalidParameter
from geosvc.ogc.config import MOUNT_PATH
from geosvc.ogc.coverage import COG_MEDIA_TYPE
from geosvc.ogc.records import (
    RECORDS_ID,
    add_records,
    layer_record,
    records_resource,
    search_records,
)
from geosvc.ogc.context import CURRENT, OgcRequest
from geosvc.ogc.records_provider import RecordsProvider, RecordsStoreError
from geosvc.records.loader import load_records
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer
from geosvc.validate.layer import validate_layer
from support.published_catalog import served_catalog
from support.postgis import store_settings


@pytest.fixture(scope="module")
def served(request):
    return served_catalog(request)


@pytest.fixture(scope="module")
def layers(served):
    return served.store.published()


@pytest.fixture(scope="module")
def ogc_url(served):
    return served.settings.base_url + MOUNT_PATH


@pytest.fixture(scope="module")
def records(layers, ogc_url):
    return [layer_record(layer, ogc_url) for layer in layers]


def _context(layers):
    """The request context our mount gives pygeoapi plugins: a snapshot of ``layers``."""
    snapshot = types.SimpleNamespace(layers={layer.id: layer for layer in layers})
    return OgcRequest(snapshot=snapshot, store=None, settings=None)


@pytest.fixture(scope="module")
def provider(served, layers):
    token = CURRENT.set(_context(layers))
    yield RecordsProvider(records_resource(layers, served.settings)["providers"][0])
    CURRENT.reset(token)


def _ids(records):
    return sorted(r["id"] for r in records)


def _text(layer):
    record = layer.record
    return " ".join([record.title, record.description, *record.keywords]).casefold()


def test_one_record_per_published_layer(layers, records):
    assert _ids(records) == sorted(layer.id for layer in layers)
    assert {r["properties"]["kind"] for r in records} == {"vector", "raster"}
    for record, layer in zip(records, layers, strict=True):
        assert record["properties"]["title"] == layer.record.title
        x0, y0, x1, y1 = layer.bbox
        assert record["geometry"]["coordinates"][0][0] == [x0, y0]
        assert record["geometry"]["coordinates"][0][2] == [x1, y1]


def test_vector_record_links(records, layers, ogc_url):
    tracts = next(r for r in records if r["id"] == "ct-tracts-2010")
    layer = next(layer for layer in layers if layer.id == "ct-tracts-2010")
    by_rel = {link["rel"]: link for link in tracts["links"]}
    assert by_rel["describes"]["href"] == f"{ogc_url}/collections/ct-tracts-2010"
    assert by_rel["items"]["href"].endswith("/collections/ct-tracts-2010/items")
    assert by_rel["http://www.opengis.net/def/rel/ogc/1.0/queryables"]["href"].endswith("/queryables")
    assert by_rel["license"]["href"] == layer.record.license.url
    assert tracts["properties"]["featureCount"] == layer.feature_count == 833
    assert "enclosure" not in by_rel


def test_raster_record_links_to_cog(records, ogc_url):
    density = next(r for r in records if r["id"] == "ct-population-density")
    by_rel = {link["rel"]: link for link in density["links"]}
    assert by_rel["enclosure"]["type"] == COG_MEDIA_TYPE
    assert by_rel["enclosure"]["href"] == f"{ogc_url}/collections/ct-population-density/cog.tif"
    assert by_rel["http://www.opengis.net/def/rel/ogc/1.0/coverage"]["href"].endswith("/coverage?f=GTiff")
    assert "items" not in by_rel


def test_restricted_layers_are_not_listed_for_anonymous(client):
    from support.sample_store import RESTRICTED_ID

    ids = [r["id"] for r in client.get("/ogc/collections/records/items?limit=100").json()["features"]]
    assert RESTRICTED_ID not in ids and "ct-towns" in ids
    assert client.get(f"/ogc/collections/records/items/{RESTRICTED_ID}").status_code == 404


def test_q_searches_title_description_keywords(records, layers):
    found = _ids(search_records(records, q="tract"))
    assert found == sorted(layer.id for layer in layers if "tract" in _text(layer))
    assert "ct-tracts-2010" in found and "ct-hospitals" not in found


def test_q_alternatives_and_words(records, layers):
    either = _ids(search_records(records, q="hospital,drought"))
    assert either == ["ct-hospitals", "us-drought-20161004"]
    both = _ids(search_records(records, q="census 2020"))
    assert both == sorted(lyr.id for lyr in layers if "census" in _text(lyr) and "2020" in _text(lyr))
    assert "ct-tracts-2020" in both
    assert search_records(records, q="no-such-word-anywhere") == []
    with pytest.raises(InvalidParameter, match="'q'"):
        search_records(records, q=" , ")


def test_bbox_filter(records, layers):
    nebraska = [-100.0, 40.0, -99.0, 41.0]
    assert _ids(search_records(records, bbox=nebraska)) == ["us-drought-20161004"]
    hartford = [-72.75, 41.7, -72.6, 41.8]
    assert _ids(search_records(records, bbox=hartford)) == sorted(layer.id for layer in layers)


def test_keyword_and_theme_filters(records, layers):
    schools = _ids(search_records(records, properties=[("keywords", "Schools")]))
    assert schools == sorted(lyr.id for lyr in layers if "schools" in lyr.record.keywords)
    assert len(schools) == 2
    demo = _ids(search_records(records, properties=[("theme", "demographics")]))
    assert demo == sorted(lyr.id for lyr in layers if lyr.record.theme == "demographics")
    assert "ct-population-density" in demo
    raster_demo = search_records(records, properties=[("theme", "demographics,health"), ("kind", "raster")])
    assert _ids(raster_demo) == ["ct-population-density"]
    with pytest.raises(InvalidParameter, match="'ooga'"):
        search_records(records, properties=[("ooga", "booga")])


def test_datetime_filter(records):
    in_2014 = _ids(search_records(records, datetime_="2014-06-01T00:00:00Z"))
    assert "ct-population-density" in in_2014  # temporal extent 2012..2016
    assert "ct-population-density" not in _ids(search_records(records, datetime_="2020-01-01/.."))
    with pytest.raises(InvalidParameter, match="'datetime'"):
        search_records(records, datetime_="yesterday")


def test_provider_paging_counts_and_sorting(provider, layers):
    everything = provider.query(limit=100)
    assert everything["numberMatched"] == len(layers) == everything["numberReturned"]
    page = provider.query(offset=2, limit=3, sortby=[{"property": "title", "order": "+"}])
    titles = sorted(layer.record.title for layer in layers)
    assert [f["properties"]["title"] for f in page["features"]] == titles[2:5]
    assert page["numberMatched"] == len(layers) and page["numberReturned"] == 3
    hits = provider.query(resulttype="hits", q="schools")
    assert hits["features"] == [] and hits["numberMatched"] == 2


def test_provider_refuses_what_it_cannot_honour(provider):
    with pytest.raises(ProviderInvalidQueryError) as refused:
        provider.query(properties=[("ooga", "booga")])
    assert "'ooga'" in refused.value.message and refused.value.ogc_exception_code == "InvalidParameterValue"
    with pytest.raises(ProviderInvalidQueryError) as refused:
        provider.query(filterq=object())
    assert "'filter'" in refused.value.message
    with pytest.raises(ProviderItemNotFoundError) as missing:
        provider.get("no-such-layer")
    assert "no-such-layer" in missing.value.message
    assert provider.get("ct-towns")["properties"]["theme"] == "boundaries"


def test_add_records_extension(served, layers):
    config = {"resources": {}}
    add_records(config, layers, served.settings)
    resource = config["resources"][RECORDS_ID]
    assert resource["providers"][0]["type"] == "record"
    assert resource["extents"]["spatial"]["bbox"][0] < -100  # the national drought layer widens it


@pytest.fixture(scope="module")
def http(served):
    with httpx.Client(base_url=f"{served.base_url}/ogc", timeout=60) as client:
        yield client


def _search(http, query: str) -> dict:
    response = http.get(f"/collections/records/items?{query}")
    assert response.status_code == 200, response.text
    return response.json()


def test_catalog_is_a_record_collection(http):
    collections = {c["id"]: c for c in http.get("/collections?f=json").json()["collections"]}
    assert collections[RECORDS_ID]["itemType"] == "record"
    assert "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/core" in http.get("/conformance").json()["conformsTo"]


def test_http_search(http, layers):
    everything = _search(http, "limit=100")
    assert everything["numberMatched"] == len(layers) == len(everything["features"])
    tracts = _search(http, "q=tract")
    assert sorted(f["id"] for f in tracts["features"]) == sorted(lyr.id for lyr in layers if "tract" in _text(lyr))
    assert _search(http, "bbox=-100,40,-99,41")["numberMatched"] == 1
    lat_lon = _search(http, "bbox=40,-100,41,-99&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326")
    assert [f["id"] for f in lat_lon["features"]] == ["us-drought-20161004"]
    assert _search(http, "keywords=schools&theme=education")["numberMatched"] == 2
    assert _search(http, "theme=hazards")["features"][0]["id"] == "us-drought-20161004"


def test_http_cql2_and_value_filters(http, layers):
    education = _search(http, "filter=theme='education' AND kind='vector'")
    assert sorted(f["id"] for f in education["features"]) == sorted(
        lyr.id for lyr in layers if lyr.record.theme == "education" and lyr.kind == "vector"
    )
    outside = _search(http, "filter=S_INTERSECTS(geometry,BBOX(-100,40,-99,41))")
    assert [f["id"] for f in outside["features"]] == ["us-drought-20161004"]
    liked = _search(http, "filter=keywords LIKE '%schools%'")
    assert liked["numberMatched"] == 2
    towns = next(lyr for lyr in layers if lyr.id == "ct-towns")
    by_title = _search(http, f"title={towns.record.title.upper()}")
    assert [f["id"] for f in by_title["features"]] == ["ct-towns"]
    assert _search(http, "crs=http://www.opengis.net/def/crs/OGC/1.3/CRS84&q=towns")["numberMatched"] >= 1


def test_http_paging(http, layers):
    first = _search(http, "limit=3&sortby=title")
    assert first["numberReturned"] == 3 and first["numberMatched"] == len(layers)
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = httpx.get(nxt, timeout=60).json()
    titles = sorted(layer.record.title for layer in layers)
    assert [f["properties"]["title"] for f in first["features"] + second["features"]] == titles[:6]


def test_http_record_links(http, ogc_url):
    record = http.get("/collections/records/items/ct-population-density?f=json").json()
    enclosure = next(link for link in record["links"] if link["rel"] == "enclosure")
    assert enclosure["type"] == COG_MEDIA_TYPE
    cog = httpx.get(enclosure["href"].replace(ogc_url, str(http.base_url).rstrip("/")), headers={"Range": "bytes=0-3"})
    assert cog.status_code == 206 and cog.content[:2] in (b"II", b"MM")  # a TIFF
    assert http.get("/collections/records/items/no-such-layer?f=json").status_code == 404


@pytest.mark.parametrize(
    ("path", "query", "param"),
    [
        ("items", "ooga=booga", "ooga"),
        ("items", "crs=http://www.opengis.net/def/crs/EPSG/0/4326", "crs"),
        ("items", "filter=title=", "filter"),
        ("items", "filter=nosuchfield='x'", "filter"),
        ("items", "filter=theme='x'&filter-lang=cql2-json", "filter-lang"),
        ("items", "filter-crs=http://www.opengis.net/def/crs/EPSG/0/4326", "filter-crs"),
        ("items", "q=", "q"),
        ("items", "q=,", "q"),
        ("items", "keywords=", "keywords"),
        ("items", "theme=health&theme=education", "theme"),
        ("items", "datetime=yesterday", "datetime"),
        ("items", "f=csv", "f"),
        ("items/ct-towns", "f=csv", "f"),
        ("items/ct-towns", "ooga=booga", "ooga"),
        ("items/ct-towns", "q=towns", "q"),
    ],
)
def test_http_unknown_or_bad_params_are_400(http, path, query, param):
    response = http.get(f"/collections/records/{path}?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidParameterValue"
    assert f"parameter '{param}'" in body["description"]


def test_provider_lists_the_snapshot_versions_only(tmp_path):
    settings = store_settings(store_dir=tmp_path)
    store = open_store(settings)
    records = load_records(settings.layers.dir, ["ct-towns", "ct-hospitals"])
    for record in records.values():
        publish_layer(record, validate_layer(record, settings), store, settings)
    served = store.published()
    towns = records["ct-towns"]
    newer = towns.model_copy(update={"title": "Connecticut towns, republished"})
    publish_layer(newer, validate_layer(newer, settings), store, settings)
    assert store.get("ct-towns").version == 2
    token = CURRENT.set(_context(served))  # a request that started before the republish
    try:
        both = RecordsProvider(records_resource(served, settings)["providers"][0])
        assert both.get("ct-towns")["properties"]["title"] == towns.title
        assert both.get("ct-towns")["properties"]["version"] == 1
        one = RecordsProvider(records_resource(served[:1], settings)["providers"][0])
        assert [r["id"] for r in one.query(limit=10)["features"]] == [served[0].id]
    finally:
        CURRENT.reset(token)
    token = CURRENT.set(_context(store.published()))  # a request after it
    try:
        assert both.get("ct-towns")["properties"]["version"] == 2
    finally:
        CURRENT.reset(token)
    token = CURRENT.set(None)
    try:
        with pytest.raises(RecordsStoreError) as outside:  # no request context: a clear 503, not a crash
            RecordsProvider(records_resource(served, settings)["providers"][0]).query()
    finally:
        CURRENT.reset(token)
    assert outside.value.http_status_code == 503
