"""The CLI on the real sample catalog, and its one-line errors for bad input (console script in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.postgis import store_env, store_settings

GEOSVC = str(Path(sys.executable).with_name("geosvc"))


def test_validate_sample_catalog_is_clean(cli):
    result = cli("validate", "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["ok"] is True and len(body["layers"]) == 8
    codes = {f["code"] for layer in body["layers"] for f in layer["findings"]}
    assert "join.duplicate_key" in codes and "geometry.null" in codes  # explained warnings of the bundle
    runs = cli.store.validations()
    assert len(runs) == 8 and all(run.ok for run in runs)


def test_publish_then_report(cli):
    result = cli("publish", "ct-population-density", "ct-tracts-2010", "ct-towns")
    assert result.exit_code == 0, result.output
    assert "3 layer(s) published, 0 unchanged, 0 failed" in result.stdout
    store = cli.store
    assert [p.id for p in store.published()] == ["ct-population-density", "ct-towns", "ct-tracts-2010"]
    for layer in store.published():
        store.check(layer)  # raises if the version cannot be read
        if layer.kind == "vector":
            assert len(store.read_features(layer)) == layer.feature_count

    report = cli("report", "--format", "json")
    assert report.exit_code == 0, report.output
    body = json.loads(report.stdout)
    summary = body["summary"]
    assert summary["layers"] == 8 and summary["by_sensitivity"] == {"public": 8}
    assert sum(summary["by_theme"].values()) == 8
    assert set(summary["unpublished"]) == {"ct-hospitals", "ct-public-schools", "ct-public-schools-csv", "ct-tracts-2020", "us-drought-20161004"}
    assert summary["failing_validation"] == []
    assert "ct-hospitals" in summary["stale"]  # last updated 2020, yearly cadence
    rows = {row["id"]: row for row in body["layers"]}
    assert rows["ct-towns"]["published_version"] == 1 and rows["ct-towns"]["validation"] == "ok"
    assert rows["ct-hospitals"]["validation"] == "not validated"
    text = cli("report")
    assert text.exit_code == 0 and "stale: " in text.stdout and "ct-towns" in text.stdout


def test_schema_and_version(cli):
    schema = json.loads(cli("schema").stdout)
    assert schema["title"] == "LayerRecord" and "id" in schema["required"]
    version = cli("--version")
    assert version.exit_code == 0 and version.stdout.startswith("geosvc ")


def _run(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "GEOSVC_STORE_DIR": str(tmp_path / "store"), **env}
    return subprocess.run([GEOSVC, *args], capture_output=True, text=True, env=full_env, timeout=120)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["validate", "no-such-layer"], "no-such-layer"),
        (["validate", "--format", "xml"], "--format"),
        (["publish", "--bogus"], "--bogus"),
        (["serve", "--port", "0"], "--port"),
        (["--config", "/nonexistent/geosvc.toml", "report"], "--config"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_usage_errors_are_one_line_exit_2(tmp_path, args, needle):
    proc = _run(*args, tmp_path=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("error:")
    assert "Traceback" not in proc.stdout + proc.stderr


def test_bad_setting_from_environment(tmp_path):
    proc = _run("report", tmp_path=tmp_path, GEOSVC_STATE_BBOX="not-a-bbox")
    assert proc.returncode == 2
    assert "state.bbox" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_broken_record_yaml(tmp_path):
    layers = tmp_path / "layers"
    layers.mkdir()
    (layers / "bad-record.yaml").write_text("id: bad-record\ntitle: [unclosed\n")
    (layers / "no-theme.yaml").write_text("id: no-theme\ntitle: T\nupdate_cadence: static\nsource: {path: a.shp}\n")
    store = store_env(store_settings(store_dir=tmp_path / "store"))
    proc = _run("validate", "--format", "json", tmp_path=tmp_path, GEOSVC_LAYERS_DIR=str(layers), **store)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    layers_out = {layer["layer"]: layer for layer in json.loads(proc.stdout)["layers"]}
    assert layers_out["bad-record"]["findings"][0]["code"] == "record.invalid"
    assert "theme" in layers_out["no-theme"]["findings"][0]["message"]
    publish = _run("publish", tmp_path=tmp_path, GEOSVC_LAYERS_DIR=str(layers), **store)
    assert publish.returncode == 1 and "Traceback" not in publish.stdout + publish.stderr
    assert "layer 'bad-record': not published" in publish.stderr


def test_a_failed_publish_is_listed_in_the_report(sandbox):
    import json

    sandbox.write({"id": "gone-source", "title": "Missing", "theme": "testing", "update_cadence": "P1Y",
                   "source": {"path": "nowhere/missing.gpkg"}})
    assert sandbox("publish", "gone-source").exit_code == 1
    report = sandbox("report", "--format", "json")
    body = json.loads(report.stdout)
    assert body["summary"]["publish_failing"] == ["gone-source"]
    row = next(r for r in body["layers"] if r["id"] == "gone-source")
    assert row["publish_error"] and "validation failed" in row["publish_error"]
    assert "publish failed" in sandbox("report").stdout
