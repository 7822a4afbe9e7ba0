"""Real server processes: two workers on one port answer alike and both switch on a publish; a slow request
stalls no one and SIGTERM during it ends the server within seconds."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from support.postgis import backend, store_env, store_settings
from support.serverproc import free_port, running
from test_live_registry import _points, _publish, _record

from geosvc.store.backends import open_store

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("live_processes")]
SERVE = "from geosvc.cli.main import app; app()"


def _server(settings, *args, env=None):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", SERVE, "serve", "--port", str(port), *args]
    environment = {**store_env(settings), "GEOSVC_SERVER_REGISTRY_POLL_S": "0.2", **(env or {})}
    settings.store.dir.mkdir(parents=True, exist_ok=True)  # for the log (PostGIS keeps no vector files there)
    return base, running(command, f"{base}/health", settings.store.dir / f"serve-{port}.log", env=environment)


def test_two_workers_answer_alike_and_both_serve_a_publish(tmp_path):
    settings = store_settings(store_dir=tmp_path / "store")
    store = open_store(settings)
    _publish(store, settings, _record("live-points"), _points(1))
    base, server = _server(settings, "--workers", "2")
    with server as proc, httpx.Client(base_url=base, timeout=10) as client:
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) >= 2, children  # uvicorn's supervisor and its worker processes
        url = "/ogc/collections/live-points/items?limit=5"
        first = {(r.headers["etag"], r.content[:0] + r.content.split(b'"timeStamp"')[0])
                 for r in (client.get(url, headers={"connection": "close"}) for _ in range(20))}
        assert len(first) == 1  # identical answers whichever worker took the request
        v2 = _publish(store, settings, _record("live-points"), _points(2))
        published = time.monotonic()
        while True:
            tags = [client.get(url, headers={"connection": "close"}).headers["etag"] for _ in range(12)]
            if all(f"-v{v2.version}-" in tag for tag in tags):
                break
            assert time.monotonic() - published < 5, tags
            time.sleep(0.1)
        assert time.monotonic() - published < 3.5  # poll (0.2 s) + snapshot build, in every worker


@pytest.mark.skipif(backend() == "postgis", reason="PostGIS answers this filter within a second: the stall "
                    "needs a query slow on the embedded store (database faults: tests/api/test_postgis_instances.py)")
def test_a_slow_request_stalls_no_one_and_sigterm_stops_the_server_within_seconds(tmp_path):
    settings = store_settings(store_dir=tmp_path / "store")
    store = open_store(settings)
    _publish(store, settings, _record("many-points"), _points(1, n=20000))
    far = "POLYGON((10 10, 11 10, 11 11, 10 11, 10 10))"  # disjoint from every point: no index can skip the test
    slow_filter = " OR ".join(f"S_DISJOINT(geom, {far}) AND wave = {k}" for k in range(2, 200))
    base, server = _server(settings, env={"GEOSVC_SERVER_QUERY_TIMEOUT_S": "60"})
    with server as proc:
        slow = {}

        def ask_slowly():
            try:
                slow["response"] = httpx.get(f"{base}/ogc/collections/many-points/items",
                                             params={"filter": slow_filter, "limit": 1}, timeout=60)
            except httpx.HTTPError as exc:
                slow["error"] = exc

        thread = threading.Thread(target=ask_slowly)
        thread.start()
        time.sleep(1.0)  # the slow query is running now
        assert thread.is_alive()
        started = time.monotonic()
        quick = httpx.get(f"{base}/ogc/collections/many-points/items?limit=1", timeout=10)
        assert quick.status_code == 200 and time.monotonic() - started < 2.0
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        stopped = time.monotonic() - stop
        thread.join(timeout=15)
    assert stopped < 8, stopped  # graceful period (3 s) plus the watchdog's 2 s, with slack for a busy machine
