"""GDAL's OAPIF driver (Debian gdal-bin: ogrinfo, ogr2ogr) reads every vector collection of a live server."""

from __future__ import annotations

import re
import subprocess

import httpx
import pyogrio
import pytest
import shapely
from liveserver import VECTOR_IDS, expected_ids, inner_bbox, require

pytestmark = pytest.mark.clients


def _oapif(live_server, layer_id: str) -> str:
    return f"OAPIF:{live_server.ogc_url}/collections/{layer_id}"


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd[0]} failed: {proc.stderr[-1500:]}"
    return proc.stdout


def _copy(live_server, layer_id: str, out, *extra: str):
    """``ogr2ogr -f GPKG`` the collection (1000 features a page); return the copy with its ids."""
    require("ogr2ogr")
    _run(["ogr2ogr", "-f", "GPKG", str(out), _oapif(live_server, layer_id), layer_id, "-oo", "PAGE_SIZE=1000", *extra])
    frame = pyogrio.read_dataframe(out)
    # OGR keeps a string feature id as an "id" field; an integer one only becomes a sequential FID, so the
    # id is then read from the record's id field, which the features also carry as a property.
    if "id" in frame.columns:
        return frame, [str(v) for v in frame["id"]]
    id_field = live_server.layer(layer_id).record.id_field
    return frame, [str(v) for v in frame[id_field]]


@pytest.mark.parametrize("layer_id", VECTOR_IDS)
def test_ogrinfo_count_and_extent(live_server, layer_id):
    require("ogrinfo")
    layer = live_server.layer(layer_id)
    out = _run(["ogrinfo", "-ro", "-so", _oapif(live_server, layer_id), layer_id])
    assert int(re.search(r"^Feature Count: (\d+)$", out, re.M).group(1)) == layer.feature_count
    numbers = re.search(r"^Extent: \(([-\d.]+), ([-\d.]+)\) - \(([-\d.]+), ([-\d.]+)\)$", out, re.M).groups()
    assert [float(v) for v in numbers] == pytest.approx(layer.bbox, abs=1e-6)


@pytest.mark.parametrize("layer_id", VECTOR_IDS)
def test_ogr2ogr_round_trips_features(live_server, layer_id, tmp_path):
    layer = live_server.layer(layer_id)
    stored = live_server.store.read_features(live_server.store.get(layer_id))
    copy, ids = _copy(live_server, layer_id, tmp_path / "copy.gpkg")
    assert len(copy) == layer.feature_count
    assert sorted(ids) == sorted(expected_ids(stored, layer))
    by_id = dict(zip(expected_ids(stored, layer), stored.geometry.values))
    same = shapely.equals(copy.geometry.values, [by_id[i] for i in ids])
    assert same.all(), f"{(~same).sum()} geometries changed, e.g. id {ids[int((~same).argmax())]}"
    # GeoPackage field names are case-insensitive: GDAL renames a property that clashes with the "id" it
    # makes from the feature id (ID -> ID2) and takes an integer "FID" property as the table's fid.
    names = {c.lower() for c in copy.columns} | {"fid"}
    missing = [c for c in stored.columns if c != "geometry" and not {c.lower(), f"{c.lower()}2"} & names]
    assert not missing, f"properties lost: {missing}"


@pytest.mark.parametrize("layer_id", VECTOR_IDS)
def test_ogr2ogr_spat_matches_bbox_query(live_server, layer_id, tmp_path):
    layer = live_server.layer(layer_id)
    bbox = inner_bbox(layer.bbox)
    _, ids = _copy(live_server, layer_id, tmp_path / "window.gpkg", "-spat", *map(str, bbox))
    response = httpx.get(f"{live_server.ogc_url}/collections/{layer_id}/items",
                         params={"bbox": ",".join(map(str, bbox)), "limit": 10000, "f": "json"}, timeout=60)
    assert response.status_code == 200
    direct = sorted(str(f["id"]) for f in response.json()["features"])
    assert sorted(ids) == direct == live_server.ids_in_bbox(layer_id, bbox)
    assert ids, "the test window holds no feature"
