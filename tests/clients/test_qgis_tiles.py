"""PyQGIS 3.22 (Debian python3-qgis, offscreen) opens a collection's vector tiles from the URL template,
renders them, decodes the right attributes at a known point, and loads the served ``.qlr`` files."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("qgis_tiles")]

SYSTEM_PYTHON = Path("/usr/bin/python3")
PROBE = Path(__file__).with_name("qgis_tiles_probe.py")
TOWNS = "ct-towns"
HARTFORD = [-72.6851, 41.7637]


@pytest.fixture(scope="module")
def qgis(live_server, tmp_path_factory) -> dict:
    """What QGIS saw (one QGIS process for everything)."""
    check = subprocess.run([str(SYSTEM_PYTHON), "-c", "import qgis.core"], capture_output=True)
    if check.returncode:
        pytest.skip("PyQGIS is not installed (Debian python3-qgis qgis-providers: bash scripts/setup.sh --test)")
    live_server.layer(TOWNS)
    work = tmp_path_factory.mktemp("qgis-tiles")
    qlrs = []
    for key in ("qlr", "tiles.qlr"):
        response = httpx.get(f"{live_server.ogc_url}/collections/{TOWNS}/downloads/{key}", timeout=30)
        response.raise_for_status()
        qlrs.append(str(work / f"{TOWNS}.{key}"))
        Path(qlrs[-1]).write_bytes(response.content)
    spec = {
        "template": f"{live_server.ogc_url}/collections/{TOWNS}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}",
        "layer": TOWNS, "zmax": 14,
        "views": [{"name": "state", "center": [-72.7, 41.5], "zoom": 8, "size": [512, 384]},
                  {"name": "sound", "center": [-72.9, 40.6], "zoom": 12, "size": [256, 256]}],
        "point": {"lonlat": HARTFORD, "attribute": "NAME", "value": "Hartford", "other": "West Hartford"},
        "qlr": qlrs,
    }
    (work / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.run([str(SYSTEM_PYTHON), str(PROBE), str(work / "spec.json")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_vector_tile_layer_from_the_template_is_valid(qgis):
    assert qgis["valid"] and qgis["zmax"] == 14


def test_state_renders_offscreen(qgis):
    assert 0.1 < qgis["tiles"]["state"]["coverage"] < 0.9  # the state's towns, on a white background


def test_empty_tiles_render_blank(qgis):
    assert qgis["tiles"]["sound"]["coverage"] == 0  # open water south of the state: only 204 tiles


def test_feature_at_known_point_carries_its_attributes(qgis):
    assert qgis["point"]["centre_rgb"] == [255, 0, 0]  # drawn by the style filtered on NAME = 'Hartford'


def test_qlr_files_load_in_qgis(qgis, live_server):
    features, tiles = qgis["qlr"]
    assert features["loaded"] and tiles["loaded"], (features["message"], tiles["message"])
    (oapif,) = features["layers"]
    assert oapif["valid"] and oapif["provider"] == "OAPIF" and oapif["in_tree"]
    assert oapif["features"] == live_server.layer(TOWNS).feature_count
    (vector_tiles,) = tiles["layers"]
    assert vector_tiles["valid"] and vector_tiles["provider"] == "vectortile" and vector_tiles["in_tree"]
