"""The audit trail is hash-chained: it verifies when intact, and an edited or deleted row is found."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from geosvc.auth.access import audit
from geosvc.auth.audit import answer_hash, entry_hash, verify
from geosvc.auth.caller import Caller
from geosvc.cli.main import app

from support.postgis import store_free

pytestmark = store_free


@pytest.fixture
def filled(access_store):
    analyst = Caller("alice", frozenset({"epi"}), "token")
    audit(access_store, analyst, "read", "/ogc/collections/cases/items", layers=["cases"],
          params={"limit": 10, "bbox": "-73,41,-72,42"}, answer=b'{"features": []}')
    audit(access_store, analyst, "equity", "/equity/exposure", layers=["cases", "ct-tracts-2020"],
          params={"hazard": "flood"}, answer=b"a,b\n1,2\n", withheld=3)
    audit(access_store, Caller("key:0123456789ab", via="key"), "read", "/ogc/collections/towns/items", layers=["towns"])
    return access_store


def test_entries_record_who_what_and_the_answer_hash(filled):
    entries = filled.audit_entries()
    assert [e.seq for e in entries] == [1, 2, 3]
    second = entries[1]
    assert (second.subject, second.via, second.action, second.route, second.layers, second.withheld) == (
        "alice", "token", "equity", "/equity/exposure", ("cases", "ct-tracts-2020"), 3)
    assert second.answer_hash == answer_hash(b"a,b\n1,2\n")
    assert second.prev_hash == entries[0].hash
    assert verify(entries) is None


def test_an_edited_row_breaks_the_chain_there(filled):
    with sqlite3.connect(filled.path) as db:
        db.execute("UPDATE audit SET withheld = 0 WHERE seq = 2")
    broken = verify(filled.audit_entries())
    assert broken is not None and broken.seq == 2


def test_a_deleted_row_breaks_the_chain_at_the_next(filled):
    with sqlite3.connect(filled.path) as db:
        db.execute("DELETE FROM audit WHERE seq = 1")
    assert verify(filled.audit_entries()).seq == 2


def test_a_rehashed_row_is_still_caught_by_its_successor(filled):
    """Recomputing an edited row's own hash does not help: the next row names the old one."""
    edited = replace(filled.audit_entries()[0], subject="mallory")
    with sqlite3.connect(filled.path) as db:
        db.execute("UPDATE audit SET subject = ?, hash = ? WHERE seq = 1", ("mallory", entry_hash(edited)))
    assert verify(filled.audit_entries()).seq == 2


def test_cli_lists_filters_and_verifies(filled, tmp_path):
    runner, env = CliRunner(), {"GEOSVC_STORE_DIR": str(tmp_path)}
    run = lambda *args: runner.invoke(app, ["audit", *args], env=env, catch_exceptions=False)  # noqa: E731
    ok = run("--verify")
    assert ok.exit_code == 0 and "intact: 3 entries" in ok.output
    only_cases = run("--layer", "cases", "-f", "json")
    assert [e["seq"] for e in json.loads(only_cases.output)["entries"]] == [1, 2]
    assert "3 audit entries" in run("--since", "2000-01-01").output
    assert "0 audit entries" in run("--since", "2999-01-01").output
    with sqlite3.connect(filled.path) as db:
        db.execute("UPDATE audit SET route = '/elsewhere' WHERE seq = 3")
    bad = run("--verify")
    assert bad.exit_code == 1 and "audit chain broken at entry 3" in bad.output
    assert len(bad.output.strip().splitlines()) == 1
