"""The schedule: intervals and due times, one sync per layer across processes, and ``geosvc sync --watch``
republishing a changed upstream with no one acting while a broken one keeps its last good version."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time

import pytest
from feedkit import GEOSVC, ROOT, collection, points, record
from typer.testing import CliRunner

from geosvc.cli.main import app
from geosvc.feeds.lock import layer_lock
from geosvc.feeds.schedule import due_at, interval
from geosvc.records.models import LayerRecord

HOUR = dt.timedelta(hours=1)


def _record(source=None, **extra) -> LayerRecord:
    return LayerRecord.model_validate(record("sites", source or {"url": "http://127.0.0.1:1/s.geojson"}, **extra))


@pytest.mark.parametrize(("extra", "expected"), [
    ({"sync": {"every": "PT6H"}}, 6 * HOUR),
    ({"sync": {"every": "PT1S"}}, dt.timedelta(seconds=1)),
    ({"update_cadence": "P1Y"}, 24 * HOUR),  # a thirtieth of a year, capped at a day
    ({"update_cadence": "P1W"}, dt.timedelta(days=7) / 30),
    ({"update_cadence": "P1D"}, HOUR),  # raised to an hour
    ({"update_cadence": "static"}, None),
])
def test_interval_from_sync_every_or_the_cadence(extra, expected):
    assert interval(_record(**extra)) == expected


def test_local_file_layers_are_never_scheduled():
    assert interval(_record({"path": "x.geojson"})) is None


def test_due_time_adds_a_stable_bounded_jitter():
    rec = _record(sync={"every": "PT1H"})
    assert due_at(rec, None, 0.1) < dt.datetime.now(dt.UTC)  # never synced: due now
    last = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    due = due_at(rec, last, 0.1)
    assert last + HOUR <= due <= last + 1.1 * HOUR
    assert due_at(rec, last, 0.1) == due  # every watcher computes the same time
    assert due_at(rec, last, 0.0) == last + HOUR
    later = [due_at(rec, last + dt.timedelta(minutes=m), 0.1) - last - dt.timedelta(minutes=m) for m in range(8)]
    assert len(set(later)) > 1  # the jitter moves from one attempt to the next


def test_a_layer_locked_by_another_process_is_skipped_and_not_recorded(sandbox, upstream):
    upstream.put_json("/s.geojson", collection(points(4)))
    sandbox.write(record("sites", {"url": upstream.url("/s.geojson")}))
    with layer_lock(sandbox.settings.store.dir, "sites") as held:
        assert held
        busy = sandbox.sync("sites")
        assert busy.outcome == "busy" and upstream.hits["/s.geojson"] == 0
    assert sandbox.store.events("sites") == []
    assert sandbox.sync("sites").outcome == "published"


def _watch(sandbox, **env):
    return subprocess.Popen(
        [str(GEOSVC), "sync", "--watch"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **sandbox.env, "GEOSVC_SYNC_TICK": "0.2", **env},
    )


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _stop(proc) -> str:
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert time.monotonic() - started < 8, "SIGTERM took too long"
    return out


@pytest.mark.xdist_group("feeds_watch")
def test_watch_republishes_a_changed_upstream_and_keeps_a_broken_one(sandbox, upstream):
    upstream.put_json("/moving.geojson", collection(points(10)))
    upstream.put_json("/breaking.geojson", collection(points(10, seed=2)))
    for name in ("moving", "breaking"):
        sandbox.write(record(name, {"url": upstream.url(f"/{name}.geojson")}, sync={"every": "PT1S"}))
    store = sandbox.store

    def version(layer_id):
        return max((v.version for v in store.versions(layer_id)), default=0)

    proc = _watch(sandbox)
    try:
        _wait(lambda: version("moving") == 1 and version("breaking") == 1, 30, "the first publish")
        _wait(lambda: upstream.not_modified["/moving.geojson"] >= 1, 10, "a conditional re-check")
        upstream.put_json("/moving.geojson", collection(points(14, seed=5)))
        upstream.fail["/breaking.geojson"] = 500
        _wait(lambda: version("moving") == 2, 20, "the changed upstream to be republished")
        _wait(lambda: any(e.outcome == "failed" for e in store.events("breaking", kind="sync")), 20, "a failure")
    finally:
        out = _stop(proc)
    assert "moving: published v2" in out and "breaking: failed" in out and out.rstrip().endswith("stopped")
    assert len(store.read_features(store.get("moving"))) == 14
    assert version("breaking") == 1 and len(store.read_features(store.get("breaking"))) == 10
    report = json.loads(CliRunner().invoke(app, ["report", "--format", "json"], env=sandbox.env).stdout)
    assert report["summary"]["sync_failing"] == ["breaking"]
    row = next(r for r in report["layers"] if r["id"] == "breaking")
    assert "HTTP 500" in row["sync_error"] and row["published_version"] == 1


@pytest.mark.xdist_group("feeds_watch")
def test_sigterm_abandons_a_stalled_fetch_within_seconds(sandbox, upstream):
    upstream.put_json("/slow.geojson", collection(points(3)))
    upstream.stall["/slow.geojson"] = 30
    sandbox.write(record("slow", {"url": upstream.url("/slow.geojson")}, sync={"every": "PT1S"}))
    proc = _watch(sandbox, GEOSVC_SYNC_TIMEOUT="60")
    try:
        _wait(lambda: upstream.hits["/slow.geojson"] >= 1, 30, "the fetch to start")
    finally:
        out = _stop(proc)
    assert "slow: cancelled" in out
    assert sandbox.store.events("slow") == []  # an abandoned fetch records nothing
    staging = sandbox.settings.store.dir / "staging"
    assert list(staging.glob("sync-slow.*"))  # the process left before its worker could clean up
    upstream.stall.clear()
    assert sandbox.sync("slow").outcome == "published"
    assert list(staging.glob("sync-slow.*")) == []  # the next sync of the layer removes the leftover


@pytest.mark.xdist_group("feeds_watch")
def test_two_watchers_never_sync_the_same_layer_at_once(sandbox, upstream):
    upstream.put_json("/shared.geojson", collection(points(5)))
    upstream.stall["/shared.geojson"] = 0.4  # each fetch takes a while, so overlaps would show
    sandbox.write(record("shared", {"url": upstream.url("/shared.geojson")}, sync={"every": "PT1S"}))
    watchers = [_watch(sandbox, GEOSVC_SYNC_JITTER="0"), _watch(sandbox, GEOSVC_SYNC_JITTER="0")]
    try:
        _wait(lambda: len(sandbox.store.events("shared", kind="sync")) >= 4, 30, "four syncs")
    finally:
        outputs = [_stop(proc) for proc in watchers]
    assert upstream.most_active == 1  # never two fetches of the layer at the same time
    events = sandbox.store.events("shared", kind="sync")
    assert [e.outcome for e in events][:2] == ["published", "not-modified"]
    gaps = [(b.at - a.at).total_seconds() for a, b in zip(events, events[1:], strict=False)]
    assert min(gaps) >= 0.9  # each attempt waits the interval after the previous one, whichever process made it
    recorded = [line for out in outputs for line in out.splitlines()
                if line.startswith(("shared: published", "shared: not-modified", "shared: unchanged"))]
    assert len(recorded) == len(events)  # every recorded attempt was made by one of the two watchers
