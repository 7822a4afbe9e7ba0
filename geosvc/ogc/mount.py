"""Mount pygeoapi under ``/ogc`` with a configuration generated from the store at start-up.

pygeoapi reads ``PYGEOAPI_CONFIG`` / ``PYGEOAPI_OPENAPI`` and builds all its state when
``pygeoapi.starlette_app`` is imported, so the files are written to a run directory under the store
(``<store_dir>/run/``, never committed) and the module is executed (a private copy per app) only here.
A change to the published layers therefore means: regenerate and restart (``geosvc serve`` does
both at start-up).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from geosvc.ogc import providers
from geosvc.ogc.index import IndexCache
from geosvc.ogc.openapi import fix_openapi


@dataclass(frozen=True)
class MountedOgc:
    """What the app needs after mounting: the pygeoapi ASGI app and the served OpenAPI document."""

    asgi: Any
    openapi: dict[str, Any]
    config_path: Path
    openapi_path: Path


def write_run_files(config: dict[str, Any], run_dir: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Write the pygeoapi config (YAML) and the fixed OpenAPI document (JSON) to ``run_dir``."""
    from pygeoapi.openapi import get_oas

    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / "pygeoapi-config.yml"
    _write_atomic(config_path, yaml.safe_dump(config, sort_keys=False).encode())
    openapi = fix_openapi(get_oas(config))
    openapi_path = run_dir / "pygeoapi-openapi.json"
    _write_atomic(openapi_path, orjson.dumps(openapi))
    return config_path, openapi_path, openapi


def _write_atomic(path: Path, data: bytes) -> None:
    # Never expose a half-written file to a reader that does not take the lock (e.g. an operator).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@contextlib.contextmanager
def _run_dir_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``run_dir`` across processes (servers starting on one store at once)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_pygeoapi(config: dict[str, Any], run_dir: Path, cache: IndexCache, store_dir: Path) -> MountedOgc:
    """Generate the run files, point pygeoapi at them and (re)import its Starlette app.

    Writing and importing happen under one lock: another server starting on the same store must not
    replace the files (its own URL and port) before this one has read them.
    """
    providers.use_cache(str(store_dir), cache)
    with _run_dir_lock(run_dir):
        config_path, openapi_path, openapi = write_run_files(config, run_dir)
        os.environ["PYGEOAPI_CONFIG"] = str(config_path)
        os.environ["PYGEOAPI_OPENAPI"] = str(openapi_path)
        # A private copy of the module per app: pygeoapi keeps its state in module globals, so
        # re-importing the shared module would switch every earlier app to the newest config.
        spec = importlib.util.find_spec("pygeoapi.starlette_app")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return MountedOgc(asgi=module.APP, openapi=openapi, config_path=config_path, openapi_path=openapi_path)
