"""Real upstream servers: Debian's MapServer as a WFS 2 server, and another geosvc as an OGC API Features
server (``geosvc serve`` over a store of its own)."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from feedkit import GEOSVC, ROOT, Sandbox, collection, points, record
from mapserver import mapserver, write_layer
from support.serverproc import free_port, running
from typer.testing import CliRunner

from geosvc.cli.main import app

pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("feeds_upstreams")]


@pytest.fixture
def wfs(tmp_path):
    """MapServer serving 12 seeded points (EPSG:26918) as ``ms:sites``; yields (url, frame, folder)."""
    (tmp_path / "ms").mkdir()
    frame = gpd.GeoDataFrame.from_features(points(12), crs="OGC:CRS84").to_crs("EPSG:26918")
    with mapserver(tmp_path / "ms", "sites", frame) as url:
        yield url, frame, tmp_path / "ms"


def test_wfs2_layer_from_mapserver_is_published_then_unchanged_then_republished(wfs, sandbox):
    url, frame, folder = wfs
    sandbox.write(record("sites", {"kind": "wfs", "url": url, "typename": "ms:sites", "page_size": 5},
                         crs="EPSG:26918"))
    first = sandbox.sync("sites")
    assert first.outcome == "published", first.message
    served = sandbox.store.get("sites")
    assert served.native_crs == "EPSG:26918" and served.feature_count == 12
    got = sandbox.store.read_features(sandbox.store.get("sites")).sort_values("id")
    assert list(got["id"]) == list(range(1, 13))
    expected = gpd.GeoDataFrame.from_features(points(12), crs="OGC:CRS84")
    assert abs(got.geometry.x.to_numpy() - expected.geometry.x.to_numpy()).max() < 1e-6

    assert sandbox.sync("sites").outcome == "unchanged"
    write_layer(folder, "sites", frame.iloc[:9])  # the WFS now serves fewer features
    changed = sandbox.sync("sites")
    assert (changed.outcome, changed.version) == ("published", 2)
    assert sandbox.store.get("sites").feature_count == 9


def test_wfs_unknown_typename_fails_with_a_clear_message(wfs, sandbox):
    sandbox.write(record("sites", {"kind": "wfs", "url": wfs[0], "typename": "ms:nope"}))
    result = sandbox.sync("sites")
    assert result.outcome == "failed" and "ms:nope" in result.message


def test_ogcapi_collection_of_another_geosvc_is_paged_by_next_links(tmp_path):
    upstream_root = tmp_path / "upstream"
    (upstream_root / "data").mkdir(parents=True)
    (upstream_root / "data" / "sites.geojson").write_text(json.dumps(collection(points(20))))
    upstream = Sandbox(upstream_root)
    upstream.write(record("upstream-sites", {"path": "data/sites.geojson"}))
    published = CliRunner().invoke(app, ["publish"], env=upstream.env)
    assert published.exit_code == 0, published.output

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(GEOSVC), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with running(command, f"{base}/health", tmp_path / "serve.log", env=upstream.env, cwd=ROOT):
        (tmp_path / "down").mkdir()
        sandbox = Sandbox(tmp_path / "down")
        sandbox.write(record("sites", {"kind": "ogcapi", "url": f"{base}/ogc", "collection": "upstream-sites",
                                       "page_size": 7}))
        result = sandbox.sync("sites")
        assert result.outcome == "published", result.message
        event = sandbox.store.events("sites", kind="sync")[-1]
        assert event.detail["pages"] == 3 and event.detail["features"] == 20
        got = sandbox.store.read_features(sandbox.store.get("sites"))
        assert sorted(got["id"]) == list(range(1, 21))
        again = sandbox.sync("sites")
        assert (again.outcome, again.version) == ("unchanged", 1)
