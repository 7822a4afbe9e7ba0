"""API keys through the real CLI: created (printed once, last line, stored hashed), accepted as X-API-Key,
as the Basic password (any user name) and as a bearer; listed; revoked -> 401."""

from __future__ import annotations

import base64
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from geosvc.auth.resolve import Authenticator
from geosvc.auth.store import SqliteAccessStore
from geosvc.cli.main import app
from geosvc.errors import Unauthorized

from support.postgis import store_free

pytestmark = store_free


@pytest.fixture
def cli(tmp_path):
    runner, env = CliRunner(), {"GEOSVC_STORE_DIR": str(tmp_path)}
    return lambda *args: runner.invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def auth(tmp_path):
    return Authenticator(SqliteAccessStore(tmp_path / "access.sqlite"))


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_create_list_use_revoke(cli, auth, tmp_path):
    made = cli("keys", "create", "--role", "health-analyst", "--name", "qgis-desk-3")
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    assert key.startswith("gsk_") and len(key) > 40

    stored = sqlite3.connect(tmp_path / "access.sqlite").execute("SELECT * FROM api_keys").fetchall()
    assert len(stored) == 1 and key not in json.dumps(stored)  # only the hash is kept

    listed = json.loads(cli("keys", "list", "--format", "json").output)["keys"]
    assert [(k["name"], k["roles"], k["revoked_at"]) for k in listed] == [("qgis-desk-3", ["health-analyst"], None)]
    key_id = listed[0]["key_id"]
    assert key_id in key

    for headers in ({"X-API-Key": key}, _basic("anything", key), _basic("", key), {"Authorization": f"Bearer {key}"}):
        caller = auth.resolve_caller(headers)
        assert (caller.via, caller.roles, caller.key_id, caller.name) == ("key", {"health-analyst"}, key_id, "qgis-desk-3")

    revoked = cli("keys", "revoke", key_id)
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    with pytest.raises(Unauthorized, match="revoked"):
        auth.resolve_caller({"X-API-Key": key})
    with pytest.raises(Unauthorized, match="revoked"):
        auth.resolve_caller(_basic("qgis", key))
    assert json.loads(cli("keys", "list", "-f", "json").output)["keys"][0]["revoked_at"] is not None


@pytest.mark.parametrize("headers, cause", [
    ({"X-API-Key": "gsk_000000000000_not-the-secret"}, "unknown API key"),
    ({"X-API-Key": "hunter2"}, "malformed API key"),
    ({"Authorization": "Basic !!!"}, "malformed Basic"),
    ({"Authorization": "Basic " + base64.b64encode(b"user-only").decode()}, "no API key"),
    ({"Authorization": "Digest abc"}, "unsupported Authorization scheme"),
])
def test_bad_keys_are_401_not_anonymous(auth, headers, cause):
    with pytest.raises(Unauthorized, match=cause) as caught:
        auth.resolve_caller(headers)
    assert caught.value.http_status == 401


def test_a_key_with_a_tampered_secret_is_refused(cli, auth):
    key = cli("keys", "create", "--role", "gis").output.strip().splitlines()[-1]
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    with pytest.raises(Unauthorized, match="unknown API key"):
        auth.resolve_caller({"X-API-Key": tampered})


def test_two_credentials_at_once_are_refused(cli, auth):
    key = cli("keys", "create", "--role", "gis").output.strip().splitlines()[-1]
    with pytest.raises(Unauthorized, match="not both"):
        auth.resolve_caller({"X-API-Key": key} | _basic("x", key))


def test_no_credentials_is_anonymous(auth):
    caller = auth.resolve_caller({"Accept": "application/json"})
    assert caller.anonymous and caller.roles == frozenset() and caller.subject is None


def test_cli_errors_are_one_line(cli):
    for args, message in ((("keys", "revoke", "nope"), "no API key 'nope'"), (("keys", "create"), "--role")):
        result = cli(*args)
        assert result.exit_code == 2
        assert message in result.output and "Traceback" not in result.output
