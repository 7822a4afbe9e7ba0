"""The store's privacy ledger (both backends): one release per (layer, version, key), the budget of each
version never exceeded, also by concurrent OS processes on one store; kept across reopening."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import psycopg
import pytest
from store_helpers import make_record, ok_report, points_frame
from support.postgis import ROOT, backend, postgis_only, store_env

from geosvc.equity import privacy
from geosvc.errors import InvalidParameter, NotPublished, PrivacyBudgetExhausted, StoreError
from geosvc.ogc.exceptions import error_response_parts
from geosvc.store import postgis
from geosvc.store.backends import open_store
from geosvc.store.publish import publish_layer


class Maker:
    """A ``make`` that counts its calls and returns distinct bytes each time."""

    def __init__(self):
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return f"release {self.calls}".encode()


@pytest.fixture
def layer(settings, store):
    record = make_record("records")
    return publish_layer(record, ok_report(record, points_frame()), store, settings)


def test_same_key_returns_the_stored_bytes_without_calling_make_again(store, layer):
    make = Maker()
    first = store.privacy_release("records", 1, "tract×sex", 0.5, 2.0, make)
    again = store.privacy_release("records", 1, "tract×sex", 0.5, 2.0, make)
    assert make.calls == 1 and first.payload == again.payload == b"release 1"
    assert (first.layer_id, first.version, first.key, first.epsilon, first.spent_after) == ("records", 1, "tract×sex", 0.5, 0.5)
    assert again == first and first.created.tzinfo is not None and first.created.utcoffset().total_seconds() == 0
    assert store.privacy_spent("records", 1) == 0.5  # asked twice, charged once
    other = store.privacy_release("records", 1, "tract×age", 0.25, 2.0, make)
    assert make.calls == 2 and other.payload == b"release 2" and other.spent_after == 0.75
    listed = store.privacy_releases("records")
    assert [(r.key, r.epsilon, r.spent_after, r.payload) for r in listed] == [("tract×sex", 0.5, 0.5, b""),
                                                                              ("tract×age", 0.25, 0.75, b"")]
    assert store.privacy_releases("nothing") == [] and store.privacy_spent("records", 2) == 0.0


def test_budget_exhaustion_is_409_naming_the_version_and_stores_nothing(store, layer):
    make = Maker()
    store.privacy_release("records", 1, "a", 0.6, 1.0, make)
    with pytest.raises(PrivacyBudgetExhausted) as exc:
        store.privacy_release("records", 1, "b", 0.5, 1.0, make)
    err = exc.value
    assert err.http_status == 409 and err.layer == "records" and (err.version, err.spent, err.budget) == (1, 0.6, 1.0)
    assert "v1" in str(err) and "0.6" in str(err) and "ε=1" in str(err) and str(err).startswith("layer 'records'")
    status, body = error_response_parts(err)  # what the web layer answers
    assert status == 409 and json.loads(body)["code"] == "PrivacyBudgetExhausted"
    assert make.calls == 1 and store.privacy_spent("records", 1) == 0.6
    assert [r.key for r in store.privacy_releases("records")] == ["a"]
    assert store.privacy_release("records", 1, "a", 0.6, 1.0, make).payload == b"release 1"  # released: still served
    assert store.privacy_release("records", 1, "b", 0.4, 1.0, make).spent_after == pytest.approx(1.0)  # fits exactly
    with pytest.raises(PrivacyBudgetExhausted):
        store.privacy_release("records", 1, "c", 1e-6, 1.0, make)
    assert make.calls == 2


def test_float_sums_that_reach_the_budget_exactly_fit(store, layer):
    for key, epsilon in (("x", 0.1), ("y", 0.2)):  # 0.1 + 0.2 > 0.3 in binary floating point
        store.privacy_release("records", 1, key, epsilon, 0.3, Maker())
    assert store.privacy_spent("records", 1) == pytest.approx(0.3)


def test_a_new_version_has_a_fresh_budget(settings, store, layer):
    store.privacy_release("records", 1, "t", 1.0, 1.0, Maker())
    store.withdraw("records")  # withdrawing does not refund, restoring does not reset
    store.restore("records")
    with pytest.raises(PrivacyBudgetExhausted):
        store.privacy_release("records", 1, "u", 0.1, 1.0, Maker())
    record = make_record("records", description="republished")
    assert publish_layer(record, ok_report(record, points_frame(6)), store, settings).version == 2
    fresh = store.privacy_release("records", 2, "t", 1.0, 1.0, Maker())
    assert fresh.spent_after == 1.0 and fresh.version == 2
    assert [(r.version, r.key) for r in store.privacy_releases("records")] == [(1, "t"), (2, "t")]
    assert store.privacy_spent("records", 1) == store.privacy_spent("records", 2) == 1.0


def test_failures_store_and_charge_nothing(store, layer):
    def broken() -> bytes:
        raise RuntimeError("no records")

    with pytest.raises(RuntimeError):
        store.privacy_release("records", 1, "k", 0.5, 1.0, broken)
    with pytest.raises(TypeError):
        store.privacy_release("records", 1, "k", 0.5, 1.0, lambda: "not bytes")
    with pytest.raises(NotPublished) as exc:
        store.privacy_release("records", 9, "k", 0.5, 1.0, Maker())
    assert exc.value.layer == "records" and "version 9" in str(exc.value)
    for name, args in (("epsilon", ("k", 0, 1.0)), ("epsilon", ("k", float("nan"), 1.0)), ("budget", ("k", 0.1, -1)),
                       ("budget", ("k", 0.1, float("inf"))), ("key", ("", 0.1, 1.0))):
        with pytest.raises(InvalidParameter) as bad:
            store.privacy_release("records", 1, *args, Maker())
        assert bad.value.param == name
    for version in (0, "1", True):
        with pytest.raises(InvalidParameter) as bad:
            store.privacy_release("records", version, "k", 0.1, 1.0, Maker())
        assert bad.value.param == "version"
    assert store.privacy_spent("records", 1) == 0.0 and store.privacy_releases("records") == []
    assert store.privacy_release("records", np.int64(1), "k", np.float64(0.1), 1, Maker()).version == 1


@postgis_only
def test_waiting_too_long_for_another_release_of_the_version_is_a_503(monkeypatch, store, layer):
    monkeypatch.setattr(postgis, "LEDGER_WAIT_S", 1)
    started, finish, done = threading.Event(), threading.Event(), []

    def slow() -> bytes:
        started.set()
        finish.wait(30)
        return b"slow"

    thread = threading.Thread(target=lambda: done.append(store.privacy_release("records", 1, "a", 0.5, 1.0, slow)))
    thread.start()
    try:
        assert started.wait(30)
        began = time.monotonic()
        with pytest.raises(StoreError) as exc:
            store.privacy_release("records", 1, "b", 0.5, 1.0, Maker())
        assert exc.value.http_status == 503 and "still being made" in str(exc.value)
        assert time.monotonic() - began < 10
    finally:
        finish.set()
        thread.join(30)
    assert done[0].payload == b"slow" and store.privacy_spent("records", 1) == 0.5
    assert store.privacy_release("records", 1, "b", 0.5, 1.0, Maker()).spent_after == 1.0  # the lock is free again


def test_the_ledger_survives_reopening_and_old_stores_gain_it(settings, store, layer):
    made = store.privacy_release("records", 1, "k", 0.5, 1.0, Maker())
    assert open_store(settings).privacy_release("records", 1, "k", 0.5, 1.0, Maker()) == made

    if backend() == "postgis":  # a database written before the ledger: no table yet
        with psycopg.connect(settings.store.dsn.get_secret_value(), autocommit=True) as con:
            con.execute("DROP TABLE geosvc.privacy_releases")
        postgis._ready.discard(settings.store.dsn.get_secret_value())  # as in a newly started process
    else:
        with sqlite3.connect(settings.catalog_path) as con:
            con.execute("DROP TABLE privacy_releases")
    upgraded = open_store(settings)
    assert upgraded.get("records").version == 1 and upgraded.privacy_spent("records", 1) == 0.0
    assert upgraded.privacy_release("records", 1, "k", 0.5, 1.0, Maker()).payload == b"release 1"


CHILD = r"""
import json, sys, time
import numpy as np, pandas as pd
from geosvc.equity import privacy
from geosvc.errors import PrivacyBudgetExhausted
from geosvc.settings import load_settings
from geosvc.store.backends import open_store

keys = sys.argv[1].split(",")
store = open_store(load_settings())
cells = privacy.domain(["a", "b", "c"], {"d": [0, 1, 2]})
base = pd.Series(np.arange(9, dtype=np.int64), index=cells)
made, got = [], {}

def make(key):
    def run():
        made.append(key)
        time.sleep(0.2)  # widen the window in which another process could slip in
        return privacy.to_bytes(privacy.release(base, 0.25))
    return run

print("ready", flush=True)
sys.stdin.readline()  # every process starts together
for key in keys:
    try:
        got[key] = store.privacy_release("records", 1, key, 0.25, 1.0, make(key)).payload.hex()
    except PrivacyBudgetExhausted:
        got[key] = None
print(json.dumps({"made": made, "got": got}))
"""


@pytest.mark.slow
def test_concurrent_processes_release_each_key_once_within_the_budget(settings, store, layer):
    keys = [f"k{n}" for n in range(6)]  # ε 0.25 each, budget 1: exactly four fit
    orders = [keys, keys[::-1], keys[2:] + keys[:2]]
    env = {**os.environ, **store_env(settings), "PYTHONPATH": str(ROOT)}
    children = [subprocess.Popen([sys.executable, "-c", CHILD, ",".join(order)], env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for order in orders]
    for child in children:
        assert child.stdout.readline() == "ready\n", child.stderr.read()
    for child in children:  # all at once
        child.stdin.write("go\n")
        child.stdin.close()
    results = []
    for child in children:
        out, err = child.stdout.read(), child.stderr.read()  # small outputs: no pipe fills up
        assert child.wait(timeout=120) == 0, err
        results.append(json.loads(out))

    stored = {r.key: r for r in store.privacy_releases("records")}
    assert len(stored) == 4 and store.privacy_spent("records", 1) == pytest.approx(1.0)
    assert max(r.spent_after for r in stored.values()) == pytest.approx(1.0)
    assert sorted(k for result in results for k in result["made"]) == sorted(stored)  # one make per stored key
    for key in keys:
        answers = {result["got"][key] for result in results}
        if key in stored:  # every process got the one stored release
            payload = store.privacy_release("records", 1, key, 0.25, 1.0, Maker()).payload
            assert answers == {payload.hex()}
            release = privacy.from_bytes(payload)
            assert len(release) == 9 and release.index.names == ["piece", "d"]
        else:
            assert answers == {None}
    noisy = [privacy.from_bytes(store.privacy_release("records", 1, k, 0.25, 1.0, Maker()).payload) for k in stored]
    assert not all(n.equals(noisy[0]) for n in noisy[1:])  # each key its own draw
    assert isinstance(noisy[0], pd.Series)
