"""The pathway to access: request -> steward approves with an expiry (CLI) -> readable on the caller's next
request -> lapses; denials; every step audited; time to decision reported."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml
from typer.testing import CliRunner

from geosvc.auth.access import decide_request, request_access
from geosvc.auth.caller import ANONYMOUS, Caller
from geosvc.auth.grants import visible
from geosvc.auth.requests import parse_expiry
from geosvc.auth.resolve import Authenticator
from geosvc.auth.store import SqliteAccessStore
from geosvc.cli.main import app
from geosvc.errors import InvalidParameter, Unauthorized
from geosvc.records.models import LayerRecord

from support.postgis import store_free

pytestmark = store_free

CASES = {"id": "cases", "title": "Cases", "theme": "health", "update_cadence": "P1Y", "source": {"path": "c.gpkg"},
         "sensitivity": "restricted", "access": {"roles": ["epi"]}}


class Clock:
    def __init__(self):
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def env(tmp_path):
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "cases.yaml").write_text(yaml.safe_dump(CASES))
    runner = CliRunner()
    env = {"GEOSVC_STORE_DIR": str(tmp_path / "store"), "GEOSVC_LAYERS_DIR": str(tmp_path / "layers"),
           "GEOSVC_DATA_ROOT": str(tmp_path)}
    store = SqliteAccessStore(tmp_path / "store" / "access.sqlite")
    return store, lambda *args: runner.invoke(app, list(args), env=env, catch_exceptions=False)


def test_request_approve_with_expiry_then_lapse(env):
    store, cli = env
    keyed = cli("keys", "create", "--role", "reader", "--name", "bob-script").output.strip().splitlines()[-1]
    clock = Clock()
    auth = Authenticator(store, clock=clock)
    layers = [LayerRecord.model_validate(CASES)]
    bob = auth.resolve_caller({"X-API-Key": keyed})
    assert visible(bob, layers, at=clock.now) == []

    request = request_access(store, bob, "cases", "epi", "overdose cluster review", "/access-requests")
    assert request.status == "requested"

    approved = cli("access", "approve", str(request.id), "--expires", "2h", "--by", "carol", "--note", "DSA 2026-14")
    assert approved.exit_code == 0, approved.output
    assert "approved request" in approved.output

    bob = auth.resolve_caller({"X-API-Key": keyed})  # no restart: the next request sees the grant
    assert [r.id for r in visible(bob, layers, at=clock.now)] == ["cases"]

    clock.now += dt.timedelta(hours=3)
    bob = auth.resolve_caller({"X-API-Key": keyed})
    assert visible(bob, layers, at=clock.now) == []

    listed = json.loads(cli("access", "list", "-f", "json").output)
    assert listed["requests"][0]["status"] == "approved" and listed["requests"][0]["decided_by"] == "cli:carol"
    assert listed["summary"]["decided"] == listed["summary"]["approved"] == 1
    assert 0 <= listed["summary"]["median_hours_to_decision"] < 1
    report = json.loads(cli("report", "-f", "json").output)["access_requests"]
    assert (report["approved"], report["requested"], report["decided"]) == (1, 0, 1)
    assert "access requests: 0 pending, 1 approved, 0 denied; time to decision: median" in cli("report").output

    actions = [(e.action, e.subject) for e in store.audit_entries()]
    assert actions == [("access.request", bob.subject), ("access.approve", "cli:carol")]
    assert json.loads(json.dumps(store.audit_entries()[1].params))["note"] == "DSA 2026-14"


def test_deny_and_decide_only_once(env):
    store, cli = env
    alice = Caller("alice", frozenset(), "token")
    request = request_access(store, alice, "cases", "epi", "research", "/access-requests")
    assert cli("access", "deny", str(request.id), "--by", "carol").exit_code == 0
    assert store.grants_for("alice", dt.datetime.now(dt.UTC)) == frozenset()
    again = cli("access", "approve", str(request.id))
    assert again.exit_code == 1 and "already denied" in again.output


def test_approval_checks_the_layer_and_role(env):
    store, cli = env
    alice = Caller("alice", frozenset(), "token")
    wrong_role = request_access(store, alice, "cases", "gis", "mapping", "/access-requests")
    no_layer = request_access(store, alice, "no-such-layer", "epi", "curious", "/access-requests")
    out = cli("access", "approve", str(wrong_role.id))
    assert out.exit_code == 1 and "role 'gis' does not open layer 'cases' (its roles: epi)" in out.output
    out = cli("access", "approve", str(no_layer.id))
    assert out.exit_code == 1 and "'no-such-layer' is no layer record" in out.output
    assert cli("access", "approve", "999").exit_code == 2


def test_requests_need_a_signed_in_caller_and_complete_fields(access_store):
    with pytest.raises(Unauthorized):
        request_access(access_store, ANONYMOUS, "cases", "epi", "x", "/access-requests")
    alice = Caller("alice", via="token")
    for layer, role, purpose, param in (("Bad.Id", "epi", "x", "layer"), ("cases", " ", "x", "role"),
                                        ("cases", "epi", "", "purpose")):
        with pytest.raises(InvalidParameter) as caught:
            request_access(access_store, alice, layer, role, purpose, "/access-requests")
        assert caught.value.param == param


def test_expiry_must_be_in_the_future_and_only_on_approval(access_store):
    now = dt.datetime.now(dt.UTC)
    alice = Caller("alice", via="token")
    request = request_access(access_store, alice, "cases", "epi", "x", "/access-requests")
    records = {"cases": LayerRecord.model_validate(CASES)}
    with pytest.raises(InvalidParameter, match="future"):
        decide_request(access_store, request.id, True, Caller("s", via="cli"), records, "cli",
                       expires_at=now - dt.timedelta(seconds=1), at=now)
    assert parse_expiry("90m", now) == now + dt.timedelta(minutes=90)
    assert parse_expiry("2027-01-01", now) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(InvalidParameter, match="neither a duration"):
        parse_expiry("soon", now)
