"""Build a pygeoapi ASGI app from a generated configuration, as often as the registry changes.

pygeoapi reads ``PYGEOAPI_CONFIG`` / ``PYGEOAPI_OPENAPI`` and builds all its state when
``pygeoapi.starlette_app`` is executed, so each build writes the two files to a fresh folder under
``run_dir``, executes a private copy of the module (earlier builds keep their own state), and removes
the folder. Builds in one process are serialised (they set process environment variables).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from pygeoapi import l10n

from geosvc.ogc.openapi import fix_openapi

_BUILD_LOCK = threading.Lock()  # guards the process environment pygeoapi is configured through


class _NeverKept(dict):
    """pygeoapi 0.24 caches the translated configuration per locale for the whole process
    (``pygeoapi.l10n._cfg_cache``), so every HTML page would render with the first configuration it
    ever saw: an older snapshot's, or another app's. Nothing is kept: each page translates its own."""

    def __setitem__(self, key, value) -> None:
        return None


l10n._cfg_cache = _NeverKept()


@dataclass(frozen=True)
class MountedOgc:
    """A built pygeoapi app and the OpenAPI document it serves."""

    asgi: Any
    openapi: dict[str, Any]


def load_pygeoapi(config: dict[str, Any], run_dir: Path) -> MountedOgc:
    """Write the config and fixed OpenAPI document, execute pygeoapi's Starlette app on them."""
    from pygeoapi.openapi import get_oas

    run_dir.mkdir(parents=True, exist_ok=True)
    openapi = fix_openapi(get_oas(config))
    with _BUILD_LOCK:
        folder = Path(tempfile.mkdtemp(prefix="pygeoapi-", dir=run_dir))
        try:
            config_path = folder / "pygeoapi-config.yml"
            config_path.write_bytes(yaml.safe_dump(config, sort_keys=False).encode())
            openapi_path = folder / "pygeoapi-openapi.json"
            openapi_path.write_bytes(orjson.dumps(openapi))
            os.environ["PYGEOAPI_CONFIG"] = str(config_path)
            os.environ["PYGEOAPI_OPENAPI"] = str(openapi_path)
            spec = importlib.util.find_spec("pygeoapi.starlette_app")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return MountedOgc(asgi=module.APP, openapi=openapi)
