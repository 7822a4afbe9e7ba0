"""A process SIGKILLed mid-publish leaves the previously published version intact and served."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from store_helpers import make_record, ok_report, points_frame
from support.postgis import gpkg_only

from geosvc.settings import load_settings
from geosvc.store.files import sha256_file
from geosvc.store.gpkg import GpkgStore
from geosvc.store.publish import publish_layer

pytestmark = gpkg_only  # PostGIS: tests/store/test_postgis_store.py

CHILD = r"""
import os, signal, sys
import geopandas as gpd, numpy as np, shapely
from geosvc.records.models import LayerRecord
from geosvc.settings import load_settings
from geosvc.store import gpkg
from geosvc.store.publish import publish_layer
from geosvc.validate.findings import LayerReport

store_dir, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = load_settings(store_dir=store_dir)
store = gpkg.GpkgStore(settings)
record = LayerRecord.model_validate({"id": "sample", "title": "Sample", "theme": "testing",
    "update_cadence": "static", "source": {"path": "sample.gpkg"}, "id_field": "fid"})
rng = np.random.default_rng(42)
frame = gpd.GeoDataFrame({"fid": np.arange(n)},
    geometry=shapely.points(rng.uniform(-73.6, -71.8, n), rng.uniform(41.0, 42.0, n)), crs="EPSG:4326")
report = LayerReport("sample", [], 1.0, data=frame)
real_replace = os.replace

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def rename_then_die(*args, **kwargs):
    real_replace(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

if mode == "before-rename":
    gpkg.os.replace = die
elif mode == "after-rename":
    gpkg.os.replace = rename_then_die
print("publishing", flush=True)
run = 0
while True:  # mode "loop": publish (a changed record each time, so each is a new version) until killed
    run += 1
    publish_layer(record.model_copy(update={"description": f"run {run}"}), report, store, settings)
"""


@pytest.fixture
def published(tmp_path):
    settings = load_settings(store_dir=tmp_path / "store")
    store = GpkgStore(settings)
    record = make_record()
    first = publish_layer(record, ok_report(record, points_frame()), store, settings)
    return settings, store, record, first


def _assert_intact(store, first):
    latest = store.get("sample")
    for version in store.versions("sample"):
        assert sha256_file(store.file(version)) == version.checksum
    assert len(store.read_features(store.get("sample"))) == latest.feature_count
    assert store.get("sample", 1) == first
    return latest


@pytest.mark.parametrize("mode", ["before-rename", "after-rename"])
def test_kill_inside_the_catalog_transaction(published, mode):
    settings, store, record, first = published
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(settings.store.dir), mode, "1000"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _assert_intact(store, first).version == 1  # the killed publish never became a version
    # the store still works: the next publish takes version 2 (overwriting any orphan file)
    second = publish_layer(record, ok_report(record, points_frame(7)), store, settings)
    assert second.version == 2 and sha256_file(store.file(second)) == second.checksum
    assert len(store.read_features(store.get("sample"))) == 7


@pytest.mark.slow
def test_kill_at_a_random_moment(published):
    settings, store, record, first = published
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(settings.store.dir), "loop", "200000"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "publishing"
        time.sleep(2.5)  # several publishes of 200k points are under way by now
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    latest = _assert_intact(store, first)
    versions = [v.version for v in store.versions("sample")]
    assert versions == list(range(1, latest.version + 1))
    changed = record.model_copy(update={"description": "after the kill"})
    nxt = publish_layer(changed, ok_report(changed, points_frame()), store, settings)
    assert nxt.version == latest.version + 1
