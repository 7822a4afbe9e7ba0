"""Publishing, adding and withdrawing layers go live without a restart; in-flight reads stay on one version;
an unreadable version is not served and everything else is."""

from __future__ import annotations

import threading
import time

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from support.postgis import backend, store_env, store_settings

from geosvc.api.app import create_app
from geosvc.records.models import LayerRecord
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer
from geosvc.validate.findings import LayerReport

SWITCH_S = 2.0  # every running worker serves a change within this long


def _record(layer_id: str, **fields) -> LayerRecord:
    return LayerRecord.model_validate({
        "id": layer_id, "title": f"Live {layer_id}", "theme": "testing", "update_cadence": "static",
        "source": {"path": "generated.gpkg"}, "id_field": "fid", **fields})


def _points(wave: int, n: int = 300, seed: int = 7) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame({"fid": np.arange(1, n + 1), "wave": np.full(n, wave)},
                            geometry=shapely.points(rng.uniform(-73.6, -71.8, n), rng.uniform(41.0, 42.0, n)),
                            crs="OGC:CRS84")


def _publish(store, settings, record, frame):
    return publish_layer(record, LayerReport(layer=record.id, completeness=1.0, data=frame), store, settings)


def _damage(store, settings, layer, how: bytes) -> None:
    """Make a published version unreadable: overwrite its GeoPackage with ``how``, or (PostGIS) drop its table."""
    if backend() != "postgis":
        store.file(layer).write_bytes(how)
        return
    import psycopg

    from geosvc.store.postgis_query import table

    with psycopg.connect(settings.store.dsn.get_secret_value(), autocommit=True) as con:
        con.execute(f"DROP TABLE {table(layer.location)}")


@pytest.fixture
def live(tmp_path):
    settings = store_settings(store_dir=tmp_path / "store", server_registry_poll_s=0.2)
    store = open_store(settings)
    _publish(store, settings, _record("live-points"), _points(1))
    with TestClient(create_app(settings, store)) as client:
        yield settings, store, client


def _until(check, timeout: float = SWITCH_S + 3):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError("the change was not served in time")


def test_publish_switches_under_concurrent_readers_without_torn_reads(live):
    settings, store, client = live
    answers, stop = [], threading.Event()

    def read():
        while not stop.is_set():
            response = client.get("/ogc/collections/live-points/items?limit=300")
            waves = {f["properties"]["wave"] for f in response.json()["features"]} if response.status_code == 200 else None
            answers.append((response.status_code, response.headers.get("etag"), waves))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    time.sleep(0.3)
    v2 = _publish(store, settings, _record("live-points"), _points(2))
    took = _until(lambda: answers and answers[-1][2] == {2})
    time.sleep(0.3)
    stop.set()
    for reader in readers:
        reader.join()
    assert took < SWITCH_S + 1, took
    assert {status for status, _, _ in answers} == {200}
    for _, etag, waves in answers:  # each answer is wholly one version, and its validator says which
        assert waves in ({1}, {2})
        assert (f"-v{v2.version}-" in etag) == (waves == {2})
    assert {2} in [w for _, _, w in answers] and {1} in [w for _, _, w in answers]


def test_new_layer_appears_everywhere_and_withdrawal_hides_it(live):
    settings, store, client = live
    _publish(store, settings, _record("live-new"), _points(1, n=20, seed=3))
    _until(lambda: client.get("/ogc/collections/live-new/items").status_code == 200)
    assert "live-new" in client.get("/ogc/openapi?f=json").text
    assert "live-new" in [c["id"] for c in client.get("/ogc/collections").json()["collections"]]
    assert "live-new" in [r["id"] for r in client.get("/ogc/collections/records/items").json()["features"]]
    assert "live-new" in [layer["id"] for layer in client.get("/health").json()["catalog"]["layers"]]
    store.withdraw("live-new")
    _until(lambda: client.get("/ogc/collections/live-new/items").status_code == 404)
    assert "live-new" not in client.get("/ogc/openapi?f=json").text
    assert "live-new" not in [layer["id"] for layer in client.get("/health").json()["catalog"]["layers"]]
    assert [v.version for v in store.versions("live-new")] == [1]  # kept
    again = _publish(store, settings, _record("live-new"), _points(1, n=20, seed=3))  # unchanged: served again
    assert again.version == 1
    _until(lambda: client.get("/ogc/collections/live-new/items").status_code == 200)


def test_html_pages_of_a_new_layer_render_with_the_new_configuration(live):
    settings, store, client = live
    assert "ld+json" in client.get("/ogc/collections/live-points?f=html").text  # an HTML page rendered first
    _publish(store, settings, _record("live-later", description="added while serving"), _points(1, n=20, seed=5))
    _until(lambda: client.get("/ogc/collections/live-later").status_code == 200)
    page = client.get("/ogc/collections/live-later?f=html")
    assert page.status_code == 200 and '"name":"Live live-later"' in page.text.replace(": ", ":")


def test_publishing_unchanged_content_creates_no_version(live):
    settings, store, _ = live
    first = store.get("live-points")
    assert _publish(store, settings, _record("live-points"), _points(1)) == first
    assert [v.version for v in store.versions("live-points")] == [1]
    changed = _publish(store, settings, _record("live-points", description="now described"), _points(1))
    assert changed.version == 2


def test_an_unreadable_version_is_withdrawn_from_serving_and_the_rest_is_served(tmp_path):
    settings = store_settings(store_dir=tmp_path / "store")
    store = open_store(settings)
    good = _publish(store, settings, _record("good"), _points(1, n=10))
    bad = _publish(store, settings, _record("bad"), _points(1, n=10, seed=9))
    victim = _publish(store, settings, _record("victim"), _points(1, n=10, seed=11))
    _damage(store, settings, bad, b"this is not a GeoPackage any more" * 10)
    with TestClient(create_app(settings, store)) as client:  # starts: one bad layer does not stop the service
        assert client.get("/ogc/collections/good/items").status_code == 200
        assert client.get("/ogc/collections/bad/items").status_code == 404
        health = client.get("/health").json()
        assert health["status"] == "degraded"
        assert [u["id"] for u in health["catalog"]["unreadable"]] == ["bad"]
        assert "cannot be read" in health["catalog"]["unreadable"][0]["finding"]
        assert str(tmp_path) not in str(health)
        _damage(store, settings, victim, b"\0" * 4096)  # damaged while served: a 503 naming it, then dropped
        failed = client.get("/ogc/collections/victim/items")
        assert failed.status_code == 503 and "victim" in failed.text
        assert client.get("/ogc/collections/victim/items").status_code == 404
        assert {u["id"] for u in client.get("/health").json()["catalog"]["unreadable"]} == {"bad", "victim"}
        assert client.get("/ogc/collections/good/items").status_code == 200
    assert good.version == 1


def test_withdraw_command_names_the_kept_versions(tmp_path):
    from typer.testing import CliRunner

    from geosvc.cli.main import app

    settings = store_settings(store_dir=tmp_path / "store")
    store = open_store(settings)
    _publish(store, settings, _record("gone-soon"), _points(1, n=10))
    env = store_env(settings)
    result = CliRunner().invoke(app, ["withdraw", "gone-soon"], env=env)
    assert result.exit_code == 0 and "withdrawn" in result.stdout and "1 version(s) are kept" in result.stdout
    assert store.published() == [] and store.withdrawn() == {"gone-soon"}
    missing = CliRunner().invoke(app, ["withdraw", "never-published"], env=env)
    assert missing.exit_code == 2 and "never-published" in missing.stderr and "Traceback" not in missing.stderr
