"""PyQGIS 3.22 (Debian python3-qgis, system python, offscreen) loads every vector collection of a live
server through its OAPIF provider, from the landing-page URL as the "WFS / OGC API-Features" dialog does."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from liveserver import VECTOR_IDS, inner_bbox

# One xdist worker runs the whole module (with --dist loadgroup), so its one-off client run happens once.
pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("qgis_client")]

SYSTEM_PYTHON = Path("/usr/bin/python3")
PROBE = Path(__file__).with_name("qgis_probe.py")


@pytest.fixture(scope="module")
def qgis(live_server, tmp_path_factory) -> dict[str, dict]:
    """What QGIS saw for every vector collection (one QGIS process for all of them), by id."""
    check = subprocess.run([str(SYSTEM_PYTHON), "-c", "import qgis.core"], capture_output=True)
    if check.returncode:
        pytest.skip("PyQGIS is not installed (Debian python3-qgis qgis-providers: bash scripts/setup.sh --test)")
    layers = []
    for layer_id in VECTOR_IDS:
        layer = live_server.layer(layer_id)
        layers.append({"id": layer_id, "keys": ["id", layer.record.id_field], "rect": list(inner_bbox(layer.bbox))})
    spec = tmp_path_factory.mktemp("qgis") / "spec.json"
    spec.write_text(json.dumps({"landing": live_server.ogc_url, "page_size": 1000, "layers": layers}))
    proc = subprocess.run([str(SYSTEM_PYTHON), str(PROBE), str(spec)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {r["id"]: r for r in json.loads(proc.stdout.strip().splitlines()[-1])["layers"]}


@pytest.mark.parametrize("layer_id", VECTOR_IDS)
def test_layer_is_valid_with_published_count(qgis, live_server, layer_id):
    seen, layer = qgis[layer_id], live_server.layer(layer_id)
    assert seen["valid"], seen["error"]
    assert seen["feature_count"] == layer.feature_count
    assert seen["fetched"] == layer.feature_count
    assert seen["crs"] in ("EPSG:4326", "OGC:CRS84")


@pytest.mark.parametrize("layer_id", VECTOR_IDS)
def test_layer_extent(qgis, live_server, layer_id):
    assert qgis[layer_id]["extent"] == pytest.approx(live_server.layer(layer_id).bbox, abs=1e-6)


@pytest.mark.parametrize("layer_id", VECTOR_IDS)
def test_bbox_request_returns_the_right_features(qgis, live_server, layer_id):
    rect = inner_bbox(live_server.layer(layer_id).bbox)
    expected = live_server.ids_in_bbox(layer_id, rect)
    assert expected, "the test window holds no feature"
    assert qgis[layer_id]["rect_keys"] == expected
