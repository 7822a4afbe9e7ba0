"""GDAL and PyQGIS read a restricted layer from a real server with an API key (GDAL: header or HTTP Basic;
QGIS: a "Basic" configuration of its own auth manager), and see nothing without one or with a revoked or
forged key; the keys are made (and revoked) with the real `geosvc keys`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.postgis import store_env, store_settings
from support.serverproc import free_port, running

from geosvc.records.loader import load_records
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer
from geosvc.validate.layer import validate_layer

pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("restricted_clients")]
SECRET = "ct-towns-health"
CLI = "from geosvc.cli.main import app; app()"
SYSTEM_PYTHON = Path("/usr/bin/python3")
QGIS_PROBE = Path(__file__).with_name("qgis_probe.py")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A live server with the restricted layer; yields its URL, a key of the role, a revoked one and the
    layer's town names by GEOID (as published)."""
    store_dir = tmp_path_factory.mktemp("restricted-clients") / "store"
    settings = store_settings(store_dir=store_dir)
    towns = load_records(settings.layers.dir, ["ct-towns"])["ct-towns"]
    secret = towns.model_copy(update={"id": SECRET, "sensitivity": "restricted",
                                      "access": {"roles": ["health-analyst"]}})
    store = open_store(settings)
    published = publish_layer(secret, validate_layer(secret, settings), store, settings)
    names = dict(store.read_features(published)[["GEOID", "NAME"]].itertuples(index=False))
    env = {**os.environ, **store_env(settings)}

    def geosvc(*args: str) -> list[str]:
        return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, env=env,
                              check=True).stdout.strip().splitlines()

    key = geosvc("keys", "create", "--role", "health-analyst", "--name", "gdal")[-1]
    made = geosvc("keys", "create", "--role", "health-analyst", "--name", "left-the-team")
    geosvc("keys", "revoke", re.search(r"created API key (\S+)", made[0]).group(1))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-c", CLI, "serve", "--port", str(port)], f"{base}/health",
                 store_dir / "serve.log", env=store_env(settings)):
        yield base, key, made[-1], names


def _ogrinfo(base: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["ogrinfo", "-ro", "-so", f"OAPIF:{base}/ogc/collections/{SECRET}", SECRET],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **extra_env})


def test_gdal_reads_it_with_the_key_and_sees_nothing_without(server):
    base, key, _, _ = server
    with_header = _ogrinfo(base, {"GDAL_HTTP_HEADERS": f"X-API-Key: {key}"})
    assert with_header.returncode == 0, with_header.stderr[-800:]
    assert int(re.search(r"^Feature Count: (\d+)$", with_header.stdout, re.M).group(1)) == 169
    basic = _ogrinfo(base, {"GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"qgis:{key}"})
    assert basic.returncode == 0 and "Feature Count: 169" in basic.stdout, basic.stderr[-800:]
    anonymous = _ogrinfo(base, {})
    assert anonymous.returncode != 0 and "Feature Count" not in anonymous.stdout
    wrong = _ogrinfo(base, {"GDAL_HTTP_HEADERS": f"X-API-Key: {key[:-3]}xyz"})
    assert wrong.returncode != 0 and "401" in wrong.stderr + wrong.stdout


def test_qgis_reads_it_through_a_basic_auth_configuration_and_sees_nothing_without(server, tmp_path):
    if subprocess.run([str(SYSTEM_PYTHON), "-c", "import qgis.core"], capture_output=True).returncode:
        pytest.skip("PyQGIS is not installed (Debian python3-qgis qgis-providers: bash scripts/setup.sh --test)")
    base, key, revoked, names = server
    cases = {"none": None, "key": key, "revoked": revoked, "forged": key[:-3] + "xyz"}
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"landing": f"{base}/ogc", "layers": [
        {"id": SECRET} if password is None else {"id": SECRET, "password": password} for password in cases.values()]}))
    auth_db = tmp_path / "qgis-auth"  # a throw-away QGIS auth database, never the user's
    auth_db.mkdir()
    proc = subprocess.run([str(SYSTEM_PYTHON), str(QGIS_PROBE), str(spec)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen",
                                            "QGIS_AUTH_DB_DIR_PATH": str(auth_db), "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = dict(zip(cases, json.loads(proc.stdout.strip().splitlines()[-1])["layers"], strict=True))
    with_key = seen["key"]
    assert with_key["valid"], with_key["error"]
    assert with_key["authcfg"] and Path(with_key["auth_db"]).parent == auth_db
    assert with_key["feature_count"] == with_key["fetched"] == 169
    assert {"NAME", "GEOID"} <= set(with_key["fields"]), with_key["fields"]
    assert with_key["first"]["NAME"] == names[with_key["first"]["GEOID"]]
    for case in ("none", "revoked", "forged"):  # the server answers 401: QGIS cannot open the layer
        assert bool(seen[case]["authcfg"]) == (case != "none")
        assert not seen[case]["valid"], (case, seen[case])
