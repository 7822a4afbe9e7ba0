"""HTTP caching: ETag and Last-Modified from the layer version, 304s, gzip for large responses."""

from __future__ import annotations

import pytest

URLS = ["/ogc/collections/ct-towns", "/ogc/collections/ct-towns/items?limit=5",
        "/ogc/collections/ct-towns/items/0900104720", "/ogc/collections/ct-towns/items?f=html&limit=2"]


@pytest.mark.parametrize("url", URLS)
def test_validators_and_304(client, store, url):
    layer = store.get("ct-towns")
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == layer.etag
    last_modified = response.headers["last-modified"]
    assert last_modified.endswith("GMT")
    assert client.get(url, headers={"if-none-match": layer.etag}).status_code == 304
    assert client.get(url, headers={"if-none-match": '"other"'}).status_code == 200
    assert client.get(url, headers={"if-modified-since": last_modified}).status_code == 304
    assert client.get(url, headers={"if-modified-since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200


def test_304_carries_the_etag_and_no_body(client, store):
    layer = store.get("ct-towns")
    response = client.get(URLS[1], headers={"if-none-match": f"W/{layer.etag}"})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["etag"] == layer.etag


def test_large_pages_are_gzipped(client):
    response = client.get("/ogc/collections/ct-tracts-2010/items?limit=50", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["numberReturned"] == 50
    plain = client.get("/ogc/collections/ct-tracts-2010/items?limit=50", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert [f["id"] for f in plain.json()["features"]] == [f["id"] for f in response.json()["features"]]


def test_pre_compressed_pages_decode_to_the_plain_page(client):
    import gzip
    import json

    url = "/ogc/collections/ct-tracts-2010/items?limit=40&offset=7&bbox=-73.5,41,-72,42"
    with client.stream("GET", url, headers={"accept-encoding": "gzip"}) as raw:
        assert raw.headers["content-encoding"] == "gzip" and "accept-encoding" in raw.headers["vary"].lower()
        compressed = b"".join(raw.iter_raw())
    plain = client.get(url, headers={"accept-encoding": "identity"}).json()
    unzipped = json.loads(gzip.decompress(compressed))
    unzipped.pop("timeStamp"), plain.pop("timeStamp")
    assert unzipped == plain and plain["numberReturned"] == 40


def test_head_has_the_get_headers_and_no_body(client):
    url = "/ogc/collections/ct-towns/items?limit=3"
    head = client.head(url, headers={"accept-encoding": "identity"})
    get = client.get(url, headers={"accept-encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert abs(int(head.headers["content-length"]) - len(get.content)) < 5  # only the timeStamp may differ
