"""Raster layers: coverage parameter checks, the coverage endpoint and the COG over HTTP range requests.

The sample catalog is really published (the population-density COG is derived from the 2010 tracts)
and served by a real uvicorn process; GDAL reads the COG through ``/vsicurl/``.
"""

from __future__ import annotations

import dataclasses
import types
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rasterio.io import MemoryFile
from rasterio.windows import Window
from starlette.datastructures import QueryParams

from geosvc.api.errors import install_error_handlers
from geosvc.crs import CRS84_URI, bbox_to_crs
from geosvc.errors import InvalidParameter
from geosvc.ogc.coverage import COG_MEDIA_TYPE, coverage_links, coverage_router, raster_resource
from geosvc.ogc.coverage_guard import check_coverage_query, raster_grid
from support.published_catalog import served_catalog

RASTER = "ct-population-density"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
HARTFORD = "-72.8,41.5,-72.6,41.7"


@pytest.fixture(scope="module")
def served(request):
    return served_catalog(request)


@pytest.fixture(scope="module")
def raster(served):
    return served.store.get(RASTER)


@pytest.fixture(scope="module")
def server(served):
    return served.base_url


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


def _check(served, raster, query: str, serve_crs=(CRS84_URI, EPSG4326)):
    check_coverage_query(QueryParams(query), Path(served.store.raster_source(raster)), serve_crs)


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("bbox=0,0,0,0", "bbox"),
        ("bbox=-72,42,-71,41", "bbox"),  # miny > maxy
        ("bbox=-71,41,-72,42", "bbox"),  # minx > maxx
        ("bbox=-72,41,-71", "bbox"),  # 3 values
        ("bbox=-72,41,0,-71,42,10", "bbox"),  # 3D box on a 2D coverage
        ("bbox=a,b,c,d", "bbox"),
        ("bbox=-72,41,nan,42", "bbox"),
        ("bbox=10,10,11,11", "bbox"),  # outside the raster
        ("bbox=-72,41,-71,42&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/99999", "bbox-crs"),
        ("bbox=-72,41,-71,42&bbox-crs=not-a-crs", "bbox-crs"),
        ("bbox-crs=" + EPSG4326, "bbox-crs"),  # without bbox
        ("bbox=-72,41,-71,42&subset=x(1:2),y(1:2)", "subset"),
        ("subset=x(1900000:1910000)", "subset"),  # one axis only: stock pygeoapi ignores it
        ("subset=lat(41:42),lon(-72:-71)", "subset"),  # not the raster's axes
        ("subset=x(5:1),y(1:5)", "subset"),
        ("subset=x(0:1),y(0:1)", "subset"),  # outside the raster
        ("datetime=2014-01-01", "datetime"),
        ("ooga=booga", "ooga"),
        ("bbox=-72,41,-71,42&bbox=-72,41,-71,42", "bbox"),
    ],
)
def test_guard_refuses(served, raster, query, param):
    with pytest.raises(InvalidParameter) as refused:
        _check(served, raster, query)
    assert refused.value.param == param


def test_guard_accepts(served, raster):
    x0, y0, x1, y1 = raster_grid(Path(served.store.raster_source(raster))).bounds
    for query in (
        f"bbox={HARTFORD}",
        f"bbox=41.5,-72.8,41.7,-72.6&bbox-crs={EPSG4326}",
        f"subset=x({x0}:{x0 + 10000}),y({y1 - 10000}:{y1})",
        "f=GTiff&properties=1",
        "",
    ):
        _check(served, raster, query)


def test_bbox_to_crs_honours_axis_order():
    lonlat = bbox_to_crs((41.5, -72.8, 41.7, -72.6), EPSG4326, CRS84_URI)
    assert lonlat == pytest.approx((-72.8, 41.5, -72.6, 41.7))


def test_raster_resource_links_the_cog(served, raster):
    resource_id, resource = raster_resource(raster, served.settings, served.store)
    assert resource_id == RASTER
    assert resource["providers"][0]["type"] == "coverage"
    assert resource["providers"][0]["data"] == str(Path(served.store.raster_source(raster)))
    enclosure = next(link for link in resource["links"] if link["rel"] == "enclosure")
    assert enclosure["type"] == COG_MEDIA_TYPE
    assert enclosure["length"] == Path(served.store.raster_source(raster)).stat().st_size
    assert coverage_links(raster, "http://h/ogc", str(Path(served.store.raster_source(raster))))[1]["href"] == f"http://h/ogc/collections/{RASTER}/cog.tif"


@pytest.mark.parametrize(
    "query",
    [
        "bbox=0,0,0,0",
        "bbox=-72,42,-71,41",
        "bbox=-72,41,-71",
        "bbox=10,10,11,11",
        "bbox=-72,41,-71,42&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/99999",
        "subset=x(1900000:1910000)",
        "datetime=2014-01-01",
        "ooga=booga",
    ],
)
def test_coverage_bad_requests_are_400(http, query):
    response = http.get(f"/ogc/collections/{RASTER}/coverage?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidParameterValue"
    assert "parameter '" in body["description"]


def _geotiff(http, query: str) -> tuple[np.ndarray, rasterio.Affine]:
    response = http.get(f"/ogc/collections/{RASTER}/coverage?{query}&f=GTiff")
    assert response.status_code == 200, response.text
    with MemoryFile(response.content) as memfile, memfile.open() as src:
        return src.read(1), src.transform


def test_coverage_bbox_subset_in_crs84_and_epsg4326_uri(served, http, raster):
    data, transform = _geotiff(http, f"bbox={HARTFORD}")
    swapped, swapped_transform = _geotiff(http, f"bbox=41.5,-72.8,41.7,-72.6&bbox-crs={EPSG4326}")
    assert data.shape == swapped.shape and transform == swapped_transform
    np.testing.assert_array_equal(data, swapped)
    with rasterio.open(Path(served.store.raster_source(raster))) as src:
        assert 0 < data.size < src.width * src.height / 20  # a small part of the state
        row, col = src.index(transform.c, transform.f)
        window = src.read(1, window=Window(col, row, data.shape[1], data.shape[0]), masked=True)
    inside = ~np.ma.getmaskarray(window) & (data != src.nodata)
    np.testing.assert_allclose(data[inside], window.data[inside])


def test_coverage_json_names_the_native_crs_and_the_band(served, http, raster):
    body = http.get(f"/ogc/collections/{RASTER}/coverage?bbox={HARTFORD}&f=json").json()
    assert body["domain"]["referencing"][0]["system"]["id"] == "http://www.opengis.net/def/crs/EPSG/0/5070"
    with rasterio.open(Path(served.store.raster_source(raster))) as src:
        description = src.descriptions[0]
    assert list(body["parameters"]) == list(body["ranges"]) == ["band_1"]
    assert body["parameters"]["band_1"]["description"]["en"] == description
    shape = body["ranges"]["band_1"]["shape"]
    assert len(body["ranges"]["band_1"]["values"]) == shape[0] * shape[1]


def test_collection_links_cog_enclosure(http, server):
    links = http.get(f"/ogc/collections/{RASTER}?f=json").json()["links"]
    enclosure = next(link for link in links if link["rel"] == "enclosure")
    assert enclosure["type"] == COG_MEDIA_TYPE
    assert enclosure["href"] == f"{server}/ogc/collections/{RASTER}/cog.tif"


def test_cog_range_requests(served, http, raster):
    url = f"/ogc/collections/{RASTER}/cog.tif"
    blob = Path(served.store.raster_source(raster)).read_bytes()
    whole = http.get(url, headers={"Accept-Encoding": "gzip"})
    assert whole.status_code == 200 and whole.content == blob
    assert "content-encoding" not in whole.headers  # already compressed; length and ranges stay exact
    assert int(whole.headers["content-length"]) == len(blob)
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["etag"] == raster.etag
    assert whole.headers["content-type"] == COG_MEDIA_TYPE
    part = http.get(url, headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1123/{len(blob)}"
    assert part.content == blob[100:1124]
    tail = http.get(url, headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == blob[-500:]
    beyond = http.get(url, headers={"Range": f"bytes={len(blob) + 10}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(blob)}"
    assert http.get(url, headers={"If-None-Match": raster.etag}).status_code == 304
    head = http.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(blob)
    assert http.get("/ogc/collections/ct-towns/cog.tif").status_code == 404


@pytest.mark.clients
def test_gdal_reads_cog_over_vsicurl(served, server, raster):
    url = f"/vsicurl/{server}/ogc/collections/{RASTER}/cog.tif"
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), rasterio.open(url) as remote:
        with rasterio.open(Path(served.store.raster_source(raster))) as local:
            assert remote.profile == local.profile
            assert remote.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert remote.overviews(1) == local.overviews(1) and remote.overviews(1)
            window = Window(200, 200, 64, 64)
            np.testing.assert_array_equal(remote.read(1, window=window), local.read(1, window=window))
            np.testing.assert_array_equal(remote.read(1, out_shape=(153, 153)), local.read(1, out_shape=(153, 153)))


@pytest.mark.clients
@pytest.mark.skipif(shutil.which("gdalinfo") is None, reason="gdalinfo (Debian gdal-bin) not installed")
def test_gdalinfo_reads_cog_over_vsicurl(served, server, raster):
    url = f"/vsicurl/{server}/ogc/collections/{RASTER}/cog.tif"
    out = subprocess.run(["gdalinfo", "-json", url], capture_output=True, text=True, timeout=60, check=True)
    info = json.loads(out.stdout)
    with rasterio.open(Path(served.store.raster_source(raster))) as local:
        assert info["size"] == [local.width, local.height]
    assert info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"] == "COG"
    assert 'ID["EPSG",5070]' in info["coordinateSystem"]["wkt"]


def test_cog_route_without_its_file_is_503(served, raster):
    gone = dataclasses.replace(raster, id="gone-raster", location="layers/gone-raster/v1.tif")
    app = FastAPI()
    install_error_handlers(app)
    app.state.store = served.store
    snapshot = types.SimpleNamespace(layers={raster.id: raster, gone.id: gone}, restricted=frozenset())

    @app.middleware("http")
    async def pin(request, call_next):
        request.state.snapshot = snapshot
        return await call_next(request)

    app.include_router(coverage_router())
    with TestClient(app) as client:
        assert client.get(f"/ogc/collections/{RASTER}/cog.tif", headers={"Range": "bytes=0-1"}).status_code == 206
        missing = client.get("/ogc/collections/gone-raster/cog.tif")
        assert missing.status_code == 503 and "gone-raster" in missing.text
        assert client.get("/ogc/collections/nope/cog.tif").status_code == 404


QGIS_PROBE = """
import json, sys
from qgis.core import QgsApplication, QgsRasterLayer
app = QgsApplication([], False)
app.initQgis()
layer = QgsRasterLayer(sys.argv[1], "cog", "gdal")
out = {"valid": layer.isValid()}
if layer.isValid():
    ext = layer.extent()
    out |= {"size": [layer.width(), layer.height()], "crs": layer.crs().authid(),
            "extent": [ext.xMinimum(), ext.yMinimum(), ext.xMaximum(), ext.yMaximum()],
            "max": layer.dataProvider().bandStatistics(1).maximumValue}
print(json.dumps(out))
app.exitQgis()
"""


def _system_qgis() -> bool:
    probe = subprocess.run(["/usr/bin/python3", "-c", "import qgis.core"], capture_output=True, timeout=60)
    return probe.returncode == 0


@pytest.mark.clients
def test_qgis_opens_cog_over_vsicurl(served, server, raster, tmp_path):
    if not Path("/usr/bin/python3").exists() or not _system_qgis():
        pytest.skip("PyQGIS (Debian python3-qgis) not installed")
    script = tmp_path / "qgis_cog.py"
    script.write_text(QGIS_PROBE)
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)}
    url = f"/vsicurl/{server}/ogc/collections/{RASTER}/cog.tif"
    run = subprocess.run(["/usr/bin/python3", str(script), url], capture_output=True, text=True, timeout=120, env=env)
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert info["valid"], run.stderr[-2000:]
    with rasterio.open(Path(served.store.raster_source(raster))) as local:
        data = local.read(1, masked=True)
        assert info["size"] == [local.width, local.height]
        assert info["extent"] == pytest.approx(list(local.bounds))
    assert info["crs"] == "EPSG:5070"
    assert info["max"] == pytest.approx(float(data.max()))
