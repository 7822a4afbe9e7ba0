"""Hostile and edge-case requests to the OGC API: none may crash, wedge or monopolise the process.

Each answer is a 400 (or 404/405) with an OGC exception body naming the parameter, never a 500, a
hang or a dead server. Requests that killed or hung the process before are sent to a real server
process (:func:`support.published_catalog.served_catalog`), the rest through a TestClient.
"""

from __future__ import annotations

import json
import socket
import types

import httpx
import numpy as np
import pytest
import rasterio
import rasterio.transform
from fastapi.testclient import TestClient
from starlette.datastructures import QueryParams
from support.published_catalog import served_catalog
from support.sample_store import RESTRICTED_ID, publish_samples

from geosvc.crs import CRS84_URI, bbox_to_crs, crs_uri
from geosvc.errors import InvalidParameter
from geosvc.ogc.coverage_guard import MAX_OUTPUT_CELLS, MAX_WINDOW_SIDE, check_coverage_query
from geosvc.settings import load_settings

TOWNS = "/ogc/collections/ct-towns/items"
RASTER = "ct-population-density"
COVERAGE = f"/ogc/collections/{RASTER}/coverage"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
FORMATS = ["json", "csv", "html", "jsonld"]

server_group = pytest.mark.xdist_group("hostile_server")


def _refused(response: httpx.Response, param: str | None = None, status: int = 400) -> str:
    """The exception description of a refusal (JSON body, or the HTML page for f=html)."""
    assert response.status_code == status, response.text[:300]
    if response.headers["content-type"].startswith("text/html"):
        return response.text
    body = response.json()
    assert body["code"] in ("InvalidParameterValue", "NotFound"), body
    if param is not None:
        assert f"parameter '{param}'" in body["description"], body
    return body["description"]


def _nested_collection_filter(depth: int) -> str:
    """CQL2 JSON ``s_intersects`` with a GeometryCollection literal nested ``depth`` deep."""
    head = '{"type": "GeometryCollection", "geometries": [' * depth
    point = '{"type": "Point", "coordinates": [-72.7, 41.6]}'
    return '{"op": "s_intersects", "args": [{"property": "geometry"}, ' + head + point + "]}" * depth + "]}"


# ---- a real server process: requests that killed or hung it -------------------------------------


@pytest.fixture(scope="module")
def served(request):
    return served_catalog(request)


@pytest.fixture(scope="module")
def http(served):
    with httpx.Client(base_url=served.base_url, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def grid(served):
    """Native CRS URI, bounds and pixel size of the published raster."""
    with rasterio.open(served.store.raster_source(served.store.get(RASTER))) as src:
        return types.SimpleNamespace(crs=crs_uri(src.crs.to_wkt()), bounds=tuple(src.bounds), res=src.res)


def _alive(http: httpx.Client) -> None:
    assert http.get("/health").status_code == 200


@server_group
@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("subset=x(1833250:1e7),y(2212500:1e7)&f=json", "subset"),  # segfaulted the server (stack overflow)
        ("subset=x(-1e300:1e300),y(-1e300:1e300)", "subset"),
        ("bbox=-180,-90,180,90", "bbox"),
        ("bbox=-9000000,4000000,-7000000,6000000&bbox-crs=" + EPSG + "3857", "bbox"),
    ],
)
def test_huge_coverage_window_is_400_and_the_server_survives(http, query, param):
    description = _refused(http.get(COVERAGE, params=query), param)
    assert f"at most {MAX_WINDOW_SIDE}" in description
    _alive(http)


@server_group
def test_coverage_window_at_the_limit_is_served_with_the_cells_it_returns(http, grid):
    x0, y0, x1, y1 = grid.bounds
    side = MAX_WINDOW_SIDE * grid.res[0]
    response = http.get(COVERAGE, params=f"subset=x({x0}:{x0 + side}),y({y0}:{y0 + side})&f=json")
    assert response.status_code == 200, response.text[:300]
    axes = response.json()["domain"]["axes"]
    # the domain describes the raster cells returned, not the (larger) window asked for
    assert x0 <= min(axes["x"]["start"], axes["x"]["stop"]) and max(axes["x"]["start"], axes["x"]["stop"]) <= x1
    assert y0 <= min(axes["y"]["start"], axes["y"]["stop"]) and max(axes["y"]["start"], axes["y"]["stop"]) <= y1


@server_group
def test_coverage_box_outside_the_raster_is_400(http, grid):
    x0, y0, x1, y1 = grid.bounds
    for query, param in [
        (f"subset=x({x0 - 20000}:{x0 - 10000}),y({y0}:{y1})", "subset"),
        ("bbox=0,0,1,1&bbox-crs=" + EPSG + "2234", "bbox"),  # outside the area of use of EPSG:2234
    ]:
        _refused(http.get(COVERAGE, params=query), param)
    # a lon/lat box just off the corner of the raster
    corner = bbox_to_crs((x0 - 4000, y0 - 4000, x0 - 3000, y0 - 3000), grid.crs, CRS84_URI)
    _refused(http.get(COVERAGE, params={"bbox": ",".join(map(str, corner))}), "bbox")
    _alive(http)


@server_group
@pytest.mark.parametrize("fmt", ["csv", "html", "jsonld"])
def test_post_cql2_json_in_other_formats_answers(http, fmt):
    """POST items with f=csv/html/jsonld used to hang (pygeoapi waited for a body already read)."""
    body = {"op": "between", "args": [{"property": "ALAND"}, 1, 100_000_000]}
    expected = http.post(TOWNS, json=body).json()["numberMatched"]
    response = http.post(TOWNS, params={"f": fmt, "limit": 1000}, json=body)
    assert response.status_code == 200, response.text[:300]
    if fmt == "csv":
        assert len(response.text.strip().splitlines()) - 1 == expected
    _refused(http.post(TOWNS, params={"f": fmt}, content='{"op":"=","args":[{"property":"NAME"},"\\ud800"]}'),
             None if fmt == "html" else "filter")
    _alive(http)


@server_group
def test_keep_alive_connection_stays_usable_after_errors(served):
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=served.base_url, limits=limits, timeout=20) as client:
        for method, path, body, status in [
            ("POST", TOWNS, b'{"op":', 400),
            ("POST", "/ogc/collections/no-such-layer/items", b'{"op":"=","args":[1,1]}', 404),  # was a 500
            ("POST", f"{TOWNS}/1", b"x" * 10_000, 405),
            ("PUT", TOWNS, b"x" * 100_000, 405),
            ("POST", COVERAGE, b"x" * 1000, 405),
        ]:
            assert client.request(method, path, content=body).status_code == status, (method, path)
            assert client.get("/ogc/conformance").status_code == 200, (method, path)
    # the same over one raw socket: a 400 with a body, then a GET, on one connection
    host, port = served.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        body = b'{"op":'
        sock.sendall(b"POST " + TOWNS.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                     + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while received.count(b"HTTP/1.1 ") < 2 or not received.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    assert received.startswith(b"HTTP/1.1 400")
    assert b"HTTP/1.1 200" in received.split(b"HTTP/1.1 400", 1)[1]


# ---- through a TestClient -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("limit=99999999999999999999999", "limit"),
        ("offset=99999999999999999999999", "offset"),
        ("ALAND=99999999999999999999999", "ALAND"),
        ("foo=1", "foo"),
        ("limit=1&limit=2", "limit"),
        ("NAME=%ED%A0%80", "NAME"),  # a lone surrogate, percent-encoded
        ("filter=NAME%3D%27%ED%A0%80%27", "filter"),
        ("filter=ALAND%3D%27abc%27", "filter"),  # type mismatch: was an empty 200 in some formats
        ("filter=NAME%3E5", "filter"),
        ("filter=NAME%20LIKE%205", "filter"),
        ("filter=ALAND%20BETWEEN%20%27a%27%20AND%20%27b%27", "filter"),
        ("filter=" + "TRUE%20AND%20" * 3000 + "TRUE", "filter"),  # longer than the limit
        ("filter-lang=cql2-json&filter=" + "%5B" * 200 + "%5D" * 200, "filter"),
        ("bbox=100,100,101,101&bbox-crs=" + EPSG + "4326", "bbox"),  # latitude 100
        ("bbox=0,0,1,1&bbox-crs=" + EPSG + "2234", "bbox"),  # outside Connecticut's state plane
        ("bbox=-1e9,-1e9,1e9,1e9&bbox-crs=" + EPSG + "2234", "bbox"),
    ],
)
def test_bad_items_query_is_400_in_every_format(client, fmt, query, param):
    _refused(client.get(f"{TOWNS}?f={fmt}&{query}"), None if fmt == "html" else param)


def test_limit_above_the_maximum_is_lowered(client):
    assert client.get(TOWNS, params={"limit": 2**40, "resulttype": "hits"}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        '{"op":"=","args":[{"property":"NAME"},"\\ud800"]}',  # lone surrogate: was a 500
        '{"op":"=","args":[{"property":"NAME"},"\\udc00x"]}',
        _nested_collection_filter(40),
        _nested_collection_filter(5000),
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"op": "=", "args": [{"property": "ALAND"}, "abc"]}),
        json.dumps({"op": "=", "args": [{"property": "ALAND"}, 10**30]}),
    ],
)
def test_bad_cql2_json_body_is_400(client, body):
    _refused(client.post(TOWNS, content=body, headers={"content-type": "application/json"}), "filter")


def test_nested_geometry_collection_in_cql2_text_is_400(client):
    text = "S_INTERSECTS(geometry," + "GEOMETRYCOLLECTION(" * 300 + "POINT(-72.7 41.6)" + ")" * 301
    _refused(client.get(TOWNS, params={"filter": text}), "filter")


def _matched(client, params: dict) -> int:
    response = client.get(TOWNS, params={**params, "resulttype": "hits"})
    assert response.status_code == 200, response.text[:300]
    return response.json()["numberMatched"]


def _csv_rows(client, params: dict) -> int:
    response = client.get(TOWNS, params={**params, "f": "csv", "limit": 1000})
    assert response.status_code == 200, response.text[:300]
    return max(len(response.text.strip().splitlines()) - 1, 0)  # pygeoapi sends no header row for no rows


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"filter": "TRUE"}, 169),
        ({"filter": "FALSE"}, 0),
        ({"filter": "NAME IN ('O''Brien', 'Manchester')"}, 1),  # doubled quote inside a string
        ({"filter": "NAME = 'Manchester' AND TRUE"}, 1),
        ({"filter-lang": "cql2-json", "filter": "true"}, 169),
        ({"filter-lang": "cql2-json",
          "filter": json.dumps({"op": "between", "args": [{"property": "ALAND"}, 1, 10_000]})}, 0),
        ({"filter-lang": "cql2-json",
          "filter": json.dumps({"op": "between", "args": [{"property": "ALAND"}, 1, 10**12]})}, 169),
    ],
)
def test_valid_cql2_the_conformance_page_claims_works_in_json_and_csv(client, params, expected):
    assert _matched(client, params) == expected
    assert _csv_rows(client, params) == expected


# ---- /health --------------------------------------------------------------------------------------


def test_anonymous_health_shows_no_paths_and_no_unserved_layers(tmp_path):
    settings = load_settings(store_dir=tmp_path / "store")
    store = publish_samples(settings, ["ct-towns"])
    for layer_id in ("ct-towns", RESTRICTED_ID):  # both versions become unreadable
        store.file(store.get(layer_id)).write_bytes(b"not a geopackage")
    from geosvc.api.app import create_app

    with TestClient(create_app(settings, store=store)) as client:
        client.get(TOWNS)
        text = client.get("/health").text
    health = json.loads(text)
    assert health["status"] == "degraded"
    assert [b["id"] for b in health["catalog"]["unreadable"]] == ["ct-towns"]
    assert RESTRICTED_ID not in text
    for root in {str(tmp_path), str(settings.store.dir), str(settings.data.root)}:
        assert root not in text
    assert not any(piece.startswith("/") and len(piece) > 1 for piece in text.replace('"', " ").split()), text


# ---- the output bound, on a generated multi-band raster ----------------------------------------------


@pytest.fixture(scope="module")
def three_bands(tmp_path_factory):
    """A 3000 x 2000, 3-band GeoTIFF in EPSG:5070 (18M cells; seeded noise in one row)."""
    path = tmp_path_factory.mktemp("raster") / "three.tif"
    data = np.zeros((3, 2000, 3000), dtype="uint8")
    data[:, 0, :] = np.random.default_rng(8).integers(0, 255, (3, 3000), dtype="uint8")
    transform = rasterio.transform.from_origin(1_800_000, 2_400_000, 30, 30)
    with rasterio.open(path, "w", driver="GTiff", width=3000, height=2000, count=3, dtype="uint8",
                       crs="EPSG:5070", transform=transform, compress="deflate") as dst:
        dst.write(data)
    return path


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("f=json", "f"),  # the whole raster as CoverageJSON: 18M cells
        ("subset=x(1800000:1890000),y(2340000:2400000)", "subset"),  # all of it, all bands
        ("bbox", "bbox"),  # a lon/lat box around all of it
    ],
)
def test_output_beyond_the_cell_bound_is_400(three_bands, query, param):
    if query == "bbox":
        around = bbox_to_crs((1_800_000, 2_340_000, 1_890_000, 2_400_000), EPSG + "5070", CRS84_URI)
        query = "bbox=" + ",".join(map(str, around))
    with pytest.raises(InvalidParameter) as refused:
        check_coverage_query(QueryParams(query), three_bands, [CRS84_URI])
    assert refused.value.param == param
    assert f"at most {MAX_OUTPUT_CELLS}" in refused.value.message


@pytest.mark.parametrize(
    "query",
    ["f=GTiff", "f=json&properties=1", "properties=1,1,2", "subset=x(1800000:1890000),y(2340000:2400000)&properties=2"],
)
def test_output_within_the_cell_bound_passes(three_bands, query):
    check_coverage_query(QueryParams(query), three_bands, [CRS84_URI])


# ---- one accept rule for CRS parameters -------------------------------------------------------------


def test_crs_parameters_share_one_rule(client):
    forms = [EPSG + "4326", EPSG.replace("http:", "https:") + "4326", "[EPSG:4326]", "urn:ogc:def:crs:EPSG::4326"]
    for form in forms:
        response = client.get(TOWNS, params={"crs": form, "limit": 1})
        assert response.status_code == 200, (form, response.text[:200])
        assert response.headers["content-crs"] == f"<{EPSG}4326>"
    for param in ("crs", "bbox-crs"):
        for bad in ("EPSG:4326", "WGS 84", EPSG + "26918", "x" * 5000):  # not a URI / not served / junk
            extra = {"bbox": "41,-73,42,-72"} if param == "bbox-crs" else {}
            _refused(client.get(TOWNS, params={param: bad, **extra}), param)
