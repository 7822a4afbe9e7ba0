"""Mount pygeoapi under ``/ogc`` with a configuration generated from the store at start-up.

pygeoapi reads ``PYGEOAPI_CONFIG`` / ``PYGEOAPI_OPENAPI`` and builds all its state when
``pygeoapi.starlette_app`` is imported, so the files are written to a run directory under the store
(``<store_dir>/run/``, never committed) and the module is executed (a private copy per app) only here.
A change to the published layers therefore means: regenerate and restart (``geosvc serve`` does
both at start-up).
"""

from __future__ import annotations

import importlib.util
import os
import threading
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
    # Several servers may start on one store at once (e.g. test workers): never expose a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_pygeoapi(config: dict[str, Any], run_dir: Path, cache: IndexCache, store_dir: Path) -> MountedOgc:
    """Generate the run files, point pygeoapi at them and (re)import its Starlette app."""
    providers.use_cache(str(store_dir), cache)
    config_path, openapi_path, openapi = write_run_files(config, run_dir)
    os.environ["PYGEOAPI_CONFIG"] = str(config_path)
    os.environ["PYGEOAPI_OPENAPI"] = str(openapi_path)
    # A private copy of the module per app: pygeoapi keeps its state in module globals, so
    # re-importing the shared module would switch every earlier app to the newest config.
    spec = importlib.util.find_spec("pygeoapi.starlette_app")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return MountedOgc(asgi=module.APP, openapi=openapi, config_path=config_path, openapi_path=openapi_path)
