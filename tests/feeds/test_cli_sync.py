"""``geosvc sync`` as a command, the record model of remote sources, and their JSON Schema."""

from __future__ import annotations

import json

import pytest
from feedkit import collection, points, record
from pydantic import ValidationError
from typer.testing import CliRunner

from geosvc.cli.main import app
from geosvc.records.models import LayerRecord, Source


def _cli(sandbox, *args):
    return CliRunner().invoke(app, list(args), env=sandbox.env, catch_exceptions=False)


def test_sync_prints_each_outcome_and_exits_1_when_one_failed(sandbox, upstream):
    upstream.put_json("/good.geojson", collection(points(5)))
    sandbox.write(record("good", {"url": upstream.url("/good.geojson")}))
    sandbox.write(record("gone", {"url": upstream.url("/gone.geojson")}))
    (sandbox.root / "local.geojson").write_text(json.dumps(collection(points(3))))
    sandbox.write(record("local", {"path": "local.geojson"}))
    result = _cli(sandbox, "sync")
    assert result.exit_code == 1
    assert "good" in result.stdout and "published" in result.stdout and "local" not in result.stdout
    assert "layer 'gone': sync failed: GET " in result.stderr and "HTTP 404" in result.stderr
    again = _cli(sandbox, "sync", "good")
    assert again.exit_code == 0 and "not-modified" in again.stdout


def test_sync_of_a_local_layer_is_a_usage_error(sandbox):
    (sandbox.root / "local.geojson").write_text(json.dumps(collection(points(3))))
    sandbox.write(record("local", {"path": "local.geojson"}))
    result = _cli(sandbox, "sync", "local")
    assert result.exit_code == 2
    assert result.stderr == "error: parameter 'ID': layer 'local' has no remote source (a url); nothing to sync\n"


def test_validate_of_a_service_source_says_to_sync(sandbox):
    sandbox.write(record("svc", {"kind": "ogcapi", "url": "http://127.0.0.1:1/ogc", "collection": "x"}))
    result = _cli(sandbox, "validate", "svc", "--format", "json")
    assert "source.remote" in result.stdout and "geosvc sync svc" in result.stdout


@pytest.mark.parametrize(("source", "message"), [
    ({"kind": "wfs", "url": "http://h/wfs"}, "needs 'typename'"),
    ({"kind": "ogcapi", "path": "a.geojson"}, "needs url"),
    ({"kind": "file", "url": "http://h/a.zip"}, "needs path"),
    ({"kind": "http", "url": "http://h/a.zip", "format": "csv"}, "does not apply"),
    ({"kind": "arcgis", "url": "http://h/FeatureServer/0", "credentials_env": {"token": "not-a-var"}}, "pattern"),
    ({"kind": "socrata", "url": "http://h/resource/abcd-1234", "credentials_env": {"username": "U"}}, "both"),
])
def test_bad_sources_are_refused(source, message):
    with pytest.raises(ValidationError, match=message):
        Source.model_validate(source)


def test_kind_defaults_keep_path_and_url_records_working():
    assert Source(path="a.shp").kind == "file" and not Source(path="a.shp").remote
    assert Source(url="http://h/a.zip").kind == "http" and Source(url="http://h/a.zip").remote
    with pytest.raises(ValidationError, match="remote source"):
        LayerRecord.model_validate(record("xx", {"path": "a.shp"}, sync={"every": "PT6H"}))
    with pytest.raises(ValidationError, match="ISO 8601"):
        LayerRecord.model_validate(record("xx", {"url": "http://h/a"}, sync={"every": "6 hours"}))


def test_schema_describes_source_kinds_and_sync():
    result = CliRunner().invoke(app, ["schema"])
    schema = json.loads(result.stdout)
    source = schema["$defs"]["Source"]["properties"]
    assert set(source["kind"]["enum"]) == {"file", "http", "ogcapi", "wfs", "arcgis", "socrata"}
    assert "credentials_env" in source and "Sync" in schema["$defs"]
