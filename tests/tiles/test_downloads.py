"""Downloads per version: every format opens in GDAL with the published count and fields, checksums match
the bytes, files are cached in the store folder per version, and the QGIS layer files are well formed."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pyogrio
import pytest

from geosvc.store.downloads import FORMATS

TOWNS, HOSPITALS = "ct-towns", "ct-hospitals"
CASES = [(TOWNS, key) for key in ("gpkg", "geojson", "csv-wkt", "shp.zip", "fgb")] + [(HOSPITALS, "csv-xy")]


def _open_path(tmp_path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return f"/vsizip/{path}" if name.endswith(".zip") else str(path)


@pytest.mark.parametrize("layer_id, key", CASES)
def test_each_format_opens_in_gdal_with_count_and_fields(client, store, tmp_path, layer_id, key):
    layer = store.get(layer_id)
    response = client.get(f"/ogc/collections/{layer_id}/downloads/{key}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(FORMATS[key].media_type.split(";")[0])
    filename = f"{layer_id}-v{layer.version}.{FORMATS[key].suffix}"
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    info = pyogrio.read_info(_open_path(tmp_path, filename, response.content))
    assert info["features"] == layer.feature_count
    fields = [name for name in info["fields"] if name not in ("WKT", "X", "Y")]
    expected = [name[:10] for name in layer.fields] if key == "shp.zip" else list(layer.fields)
    assert fields == expected
    if key == "csv-xy":
        frame = pyogrio.read_dataframe(_open_path(tmp_path, filename, response.content), read_geometry=False)
        served = store.read_features(layer)
        assert frame["X"].astype(float).tolist() == pytest.approx(served.geometry.x.tolist())


def test_checksum_header_matches_the_bytes_and_the_listing(client, store):
    listing = client.get(f"/ogc/collections/{TOWNS}/downloads").json()
    assert listing["version"] == store.get(TOWNS).version
    entries = {entry["format"]: entry for entry in listing["downloads"]}
    assert set(entries) == {"gpkg", "geojson", "csv-wkt", "shp.zip", "fgb", "qlr", "tiles.qlr"}  # no X/Y for polygons
    for key, entry in entries.items():
        response = client.get(urlsplit(entry["href"]).path)
        digest = hashlib.sha256(response.content).digest()
        assert response.headers["repr-digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
        assert entry["sha256"] == digest.hex() and entry["size"] == len(response.content), key


def test_files_are_cached_per_version_in_the_store_folder(client, store, settings):
    layer = store.get(TOWNS)
    client.get(f"/ogc/collections/{TOWNS}/downloads/gpkg")
    folder = settings.store.dir / "downloads" / TOWNS / f"v{layer.version}"
    cached = folder / f"{TOWNS}-v{layer.version}.gpkg"
    assert cached.is_file() and (folder / f"{cached.name}.sha256").read_text().strip() == \
        hashlib.sha256(cached.read_bytes()).hexdigest()
    before = cached.stat().st_mtime_ns
    client.get(f"/ogc/collections/{TOWNS}/downloads/gpkg")
    assert cached.stat().st_mtime_ns == before  # reused, not written again
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]


def test_etag_per_version_and_format_and_304(client, store):
    response = client.get(f"/ogc/collections/{TOWNS}/downloads/fgb")
    etag = response.headers["etag"]
    assert etag == f'"{store.get(TOWNS).etag[1:-1]}-fgb"'
    assert client.get(f"/ogc/collections/{TOWNS}/downloads/geojson").headers["etag"] != etag
    again = client.get(f"/ogc/collections/{TOWNS}/downloads/fgb", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("path, status", [
    (f"/ogc/collections/{TOWNS}/downloads/csv-xy", 404),  # X/Y only for points
    (f"/ogc/collections/{TOWNS}/downloads/kml", 404),
    ("/ogc/collections/no-such-layer/downloads", 404),
    ("/ogc/collections/ct-towns-restricted/downloads", 404),  # not in the snapshot for this caller
    ("/ogc/collections/ct-towns-restricted/downloads/gpkg", 404),
    ("/ogc/collections/ct-population-density/downloads", 404),  # a raster
    (f"/ogc/collections/{TOWNS}/downloads?bbox=1,2,3,4", 400),
])
def test_bad_downloads_are_4xx(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert response.json()["description"]


def test_restricted_layer_is_never_generated(client, settings):
    client.get("/ogc/collections/ct-towns-restricted/downloads/gpkg")
    assert not (settings.store.dir / "downloads" / "ct-towns-restricted").exists()


@pytest.mark.parametrize("key, provider, source_start", [("qlr", "OAPIF", "url='"), ("tiles.qlr", None, "type=xyz&url=")])
def test_qlr_is_a_layer_definition_pointing_at_this_service(client, settings, key, provider, source_start):
    response = client.get(f"/ogc/collections/{TOWNS}/downloads/{key}")
    assert response.headers["content-type"].startswith("application/x-qgis-layer-definition+xml")
    root = ET.fromstring(response.content.split(b"\n", 1)[1])
    assert root.tag == "qlr"
    tree_layer = root.find("layer-tree-group/layer-tree-layer")
    maplayer = root.find("maplayers/maplayer")
    assert tree_layer.get("id") == maplayer.findtext("id")
    source = maplayer.findtext("datasource")
    assert source.startswith(source_start) and f"{settings.base_url}/ogc" in source and TOWNS in source
    assert maplayer.findtext("provider") == provider
