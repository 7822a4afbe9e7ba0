"""PostgisStore specifics: version tables and the catalog in the database, a killed publish, concurrent
publishes of one layer (the store contract itself runs on both backends in the other store tests)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from store_helpers import make_record, ok_report, points_frame
from support.postgis import postgis_only

from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer
from geosvc.store.query import FeatureQuery

pytestmark = postgis_only

CHILD = r"""
import sys
import geopandas as gpd, numpy as np, shapely
from geosvc.records.models import LayerRecord
from geosvc.settings import load_settings
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer
from geosvc.validate.findings import LayerReport

store_dir, dsn, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = load_settings(store_dir=store_dir, store_backend="postgis", store_dsn=dsn)
store = open_store(settings)
record = LayerRecord.model_validate({"id": "sample", "title": "Sample", "theme": "testing",
    "update_cadence": "static", "source": {"path": "sample.gpkg"}, "id_field": "fid"})
rng = np.random.default_rng(42)
frame = gpd.GeoDataFrame({"fid": np.arange(n)},
    geometry=shapely.points(rng.uniform(-73.6, -71.8, n), rng.uniform(41.0, 42.0, n)), crs="EPSG:4326")
print("publishing", flush=True)
run = 0
while True:  # publish (a changed record each time, so each is a new version) until killed
    run += 1
    publish_layer(record.model_copy(update={"description": f"run {run}"}), LayerReport("sample", [], 1.0, data=frame),
                  store, settings)
"""


def _sql(settings, query, params=()):
    with psycopg.connect(settings.store.dsn.get_secret_value(), autocommit=True) as con:
        return con.execute(query, params).fetchall()


def _assert_consistent(settings, store):
    """Every catalog row's table exists with its feature count; no table is outside the catalog."""
    rows = _sql(settings, "SELECT path, feature_count FROM geosvc.layer_versions WHERE kind = 'vector'")
    tables = {f"geosvc_layers.{t}" for (t,) in _sql(settings, "SELECT tablename FROM pg_tables "
                                                              "WHERE schemaname = 'geosvc_layers'")}
    assert tables == {path for path, _ in rows}
    for path, count in rows:
        schema, _, name = path.partition(".")
        assert _sql(settings, f'SELECT COUNT(*) FROM "{schema}"."{name}"')[0][0] == count


def test_versions_are_indexed_tables_and_the_catalog_is_in_the_database(records, settings, store):
    record = records["ct-towns"]
    from geosvc.validate.layer import validate_layer

    report = validate_layer(record, settings)
    start = store.generation()
    first = publish_layer(record, report, store, settings)
    second = publish_layer(record.model_copy(update={"description": "revised"}), report, store, settings)
    assert (first.version, second.version) == (1, 2) and store.generation() == start + 2
    assert first.location == "geosvc_layers.ct-towns_v1" and second.location == "geosvc_layers.ct-towns_v2"
    indexes = _sql(settings, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'geosvc_layers' "
                             "AND tablename = 'ct-towns_v2'")
    assert any("USING gist (geosvc_geom)" in d for (d,) in indexes)
    assert _sql(settings, "SELECT COUNT(*) FROM geosvc.layer_versions WHERE layer_id = 'ct-towns'")[0][0] == 2
    _assert_consistent(settings, store)
    # a second store object on the same database (another instance) sees the same catalog
    other = open_store(settings)
    assert other.published() == store.published() and other.generation() == store.generation()
    store.withdraw("ct-towns")
    assert other.published() == [] and other.generation() == start + 3
    assert other.restore("ct-towns") and [p.version for p in store.published()] == [2]


def test_a_killed_publish_leaves_the_previous_version_served(settings, store):
    record = make_record()
    first = publish_layer(record, ok_report(record, points_frame()), store, settings)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(settings.store.dir),
                             settings.store.dsn.get_secret_value(), "200000"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "publishing"
        time.sleep(2.5)  # a publish of 200k points is under way (COPY inside its transaction)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while _sql(settings, "SELECT COUNT(*) FROM pg_stat_activity WHERE query LIKE 'COPY%%'")[0][0]:
        assert time.monotonic() < deadline, "the killed publisher's transaction was not rolled back"
        time.sleep(0.1)
    latest = store.get("sample")
    assert [v.version for v in store.versions("sample")] == list(range(1, latest.version + 1))
    assert store.get("sample", 1) == first
    page = store.query(latest, FeatureQuery(limit=3))
    assert page.matched == latest.feature_count and len(page.rows) == 3
    _assert_consistent(settings, store)
    changed = record.model_copy(update={"description": "after the kill"})
    assert publish_layer(changed, ok_report(changed, points_frame(7)), store, settings).version == latest.version + 1


def test_concurrent_publishes_of_one_layer_both_become_versions(settings, store):
    record = make_record()
    publish_layer(record, ok_report(record, points_frame()), store, settings)
    results, errors = {}, []

    def publish(n: int) -> None:
        try:
            changed = record.model_copy(update={"description": f"{n} points"})
            results[n] = publish_layer(changed, ok_report(changed, points_frame(n)), open_store(settings), settings)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(n,)) for n in (20_000, 30_000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert sorted(r.version for r in results.values()) == [2, 3]
    for n, layer in results.items():
        assert layer.feature_count == n and store.query(layer, FeatureQuery(limit=0)).matched == n
    assert [v.version for v in store.versions("sample")] == [1, 2, 3]
    _assert_consistent(settings, store)
