"""``geosvc serve`` starts the OGC API (imported lazily) on the given host and port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from support.postgis import store_env, store_settings

GEOSVC = str(Path(sys.executable).with_name("geosvc"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_health(tmp_path):
    port = _free_port()
    env = {**os.environ, **store_env(store_settings(store_dir=tmp_path / "store"))}
    proc = subprocess.Popen(
        [GEOSVC, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.5)
        assert response.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
