"""Run a server as a subprocess on a free 127.0.0.1 port, wait until it answers, stop it afterwards.

Shared by the real-client tests and ``benchmarks/bench_serve.py``; needs only httpx.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (never 5000, which the lead's server may use)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != 5000:
            return port


@contextlib.contextmanager
def running(command: list[str], ready_url: str, log_path: Path, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 120.0, poll: float = 0.3) -> Iterator[subprocess.Popen]:
    """Start ``command`` (output to ``log_path``), wait for ``ready_url`` to answer 200 (asking every
    ``poll`` seconds), terminate on exit.

    Raises RuntimeError with the end of the log if the process exits or is not ready in ``timeout`` s.
    """
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, env={**os.environ, **(env or {})}, cwd=cwd, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            _wait_ready(proc, ready_url, log_path, timeout, poll)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen, url: str, log_path: Path, timeout: float, poll: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5).status_code == 200:
                return
        time.sleep(poll)
    raise RuntimeError(f"{proc.args[0]} did not answer {url} within {timeout:.0f} s")
