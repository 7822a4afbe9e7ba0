"""GDAL reads a restricted layer from a real server with an API key (header or HTTP Basic), and sees
nothing without one; the key is made with the real `geosvc keys create`."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from geosvc.records.loader import load_records
from geosvc.settings import load_settings
from geosvc.store.gpkg import GpkgStore
from geosvc.store.publish import publish_layer
from geosvc.validate.layer import validate_layer
from support.serverproc import free_port, running

pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("restricted_clients")]
SECRET = "ct-towns-health"
CLI = "from geosvc.cli.main import app; app()"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store_dir = tmp_path_factory.mktemp("restricted-clients") / "store"
    settings = load_settings(store_dir=store_dir)
    towns = load_records(settings.layers.dir, ["ct-towns"])["ct-towns"]
    secret = towns.model_copy(update={"id": SECRET, "sensitivity": "restricted",
                                      "access": {"roles": ["health-analyst"]}})
    publish_layer(secret, validate_layer(secret, settings), GpkgStore(settings), settings)
    env = {**os.environ, "GEOSVC_STORE_DIR": str(store_dir)}
    made = subprocess.run([sys.executable, "-c", CLI, "keys", "create", "--role", "health-analyst", "--name", "gdal"],
                          capture_output=True, text=True, env=env, check=True)
    key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-c", CLI, "serve", "--port", str(port)], f"{base}/health",
                 store_dir / "serve.log", env={"GEOSVC_STORE_DIR": str(store_dir)}):
        yield base, key


def _ogrinfo(base: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{base}/ogc/collections/{SECRET}", SECRET],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **extra_env})


def test_gdal_reads_it_with_the_key_and_sees_nothing_without(server):
    base, key = server
    with_header = _ogrinfo(base, {"GDAL_HTTP_HEADERS": f"X-API-Key: {key}"})
    assert with_header.returncode == 0, with_header.stderr[-800:]
    assert int(re.search(r"^Feature Count: (\d+)$", with_header.stdout, re.M).group(1)) == 169
    basic = _ogrinfo(base, {"GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"qgis:{key}"})
    assert basic.returncode == 0 and "Feature Count: 169" in basic.stdout, basic.stderr[-800:]
    anonymous = _ogrinfo(base, {})
    assert anonymous.returncode != 0 and "Feature Count" not in anonymous.stdout
    wrong = _ogrinfo(base, {"GDAL_HTTP_HEADERS": f"X-API-Key: {key[:-3]}xyz"})
    assert wrong.returncode != 0 and "401" in wrong.stderr + wrong.stdout
