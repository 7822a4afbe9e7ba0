"""The four services of the serving benchmark, each one process on 127.0.0.1.

- ``geosvc``: our ``geosvc serve`` on the embedded store;
- ``pygeoapi-geojson`` / ``pygeoapi-postgresql``: stock pygeoapi 0.24 (its Starlette app under uvicorn,
  as geosvc uses it) with the GeoJSON and PostgreSQL providers, from ``.venv-pygeoapi``;
- ``tipg``: tipg under uvicorn on the same PostGIS table, from ``.venv-tipg``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' process helpers (support.serverproc)
from support import serverproc  # noqa: E402
from support.serverproc import free_port  # noqa: E402
GEOSVC = ROOT / ".venv" / "bin" / "geosvc"
PYGEOAPI_VENV = ROOT / ".venv-pygeoapi"
TIPG_VENV = ROOT / ".venv-tipg"


@dataclass
class Service:
    """One server process and the URL of its items endpoint for the benchmarked collection."""

    name: str
    command: list[str]
    port: int
    items_path: str  # e.g. /ogc/collections/ct-tracts-2010/items
    ready_path: str
    query: str = ""  # extra query string for every items request, e.g. "f=json"
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT
    cpu_pids: list[int] = field(default_factory=list)  # process trees whose CPU time the service uses

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def items_url(self, bbox: tuple[float, float, float, float], limit: int) -> str:
        """Path and query of an items request (relative to :attr:`base_url`)."""
        extra = f"&{self.query}" if self.query else ""
        return f"{self.items_path}?bbox={','.join(f'{v:.6f}' for v in bbox)}&limit={limit}{extra}"


@contextlib.contextmanager
def running(service: Service, logdir: Path, timeout: float = 120.0) -> Iterator[Service]:
    """Start ``service``, wait until ``ready_path`` answers 200, and stop it on exit."""
    with serverproc.running(service.command, service.base_url + service.ready_path, logdir / f"{service.name}.log",
                            env=service.env, cwd=service.cwd, timeout=timeout) as proc:
        service.cpu_pids.append(proc.pid)
        yield service


def geosvc(store_dir: Path, layer_id: str, name: str = "geosvc", tree: Path | None = None) -> Service:
    """Our service: ``geosvc serve`` (one process) on a store holding ``layer_id``; ``tree``: run the
    geosvc source in that folder (an earlier commit) instead of this checkout's."""
    port = free_port()
    env = {"GEOSVC_STORE_DIR": str(store_dir)}
    if tree is not None:
        env |= {"PYTHONPATH": str(tree), "GEOSVC_DATA_ROOT": str((ROOT / ".." / "shared" / "data").resolve())}
    return Service(
        name=name,
        command=[str(GEOSVC), "serve", "--host", "127.0.0.1", "--port", str(port)],
        port=port,
        items_path=f"/ogc/collections/{layer_id}/items",
        ready_path="/health",
        query="f=json",
        env=env,
        cwd=tree or ROOT,
    )


def _pygeoapi_config(port: int, collection: str, bbox, provider: dict) -> dict:
    url = f"http://127.0.0.1:{port}"
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": url,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "language": "en-US",
            "limits": {"default_items": 10, "max_items": 10000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "stock pygeoapi baseline",
                "description": "benchmark baseline",
                "keywords": ["benchmark"],
                "keywords_type": "theme",
                "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                "url": url,
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "geosvc benchmark", "url": url},
            "contact": {"name": "benchmark", "email": "bench@example.org"},
        },
        "resources": {
            collection: {
                "type": "collection",
                "title": collection,
                "description": "2010 census tracts",
                "keywords": ["tracts"],
                "extents": {"spatial": {"bbox": list(bbox), "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
                "providers": [provider],
            }
        },
    }


def pygeoapi(name: str, workdir: Path, collection: str, bbox, provider: dict) -> Service:
    """Stock pygeoapi (Starlette app, one uvicorn process) serving one collection from ``provider``."""
    port = free_port()
    config = workdir / f"{name}.config.yml"
    openapi = workdir / f"{name}.openapi.yml"
    config.write_text(yaml.safe_dump(_pygeoapi_config(port, collection, bbox, provider)))
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run([str(PYGEOAPI_VENV / "bin" / "pygeoapi"), "openapi", "generate", str(config),
                    "--output-file", str(openapi)], check=True, capture_output=True, env={**os.environ, **env})
    return Service(
        name=name,
        command=[str(PYGEOAPI_VENV / "bin" / "uvicorn"), "pygeoapi.starlette_app:APP", "--host", "127.0.0.1",
                 "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
        port=port,
        items_path=f"/collections/{collection}/items",
        ready_path="/conformance?f=json",
        query="f=json",
        env=env,
    )


def geojson_provider(path: Path, key: str) -> dict:
    """pygeoapi's GeoJSON provider on a FeatureCollection file."""
    return {"type": "feature", "name": "GeoJSON", "data": str(path), "id_field": key}


def postgresql_provider(dsn: dict, table: str, key: str) -> dict:
    """pygeoapi's PostgreSQL provider on a PostGIS table (SRID 4326, lon/lat)."""
    return {"type": "feature", "name": "PostgreSQL", "data": {**dsn, "search_path": ["public"]},
            "id_field": key, "table": table, "geom_field": "geom"}


def tipg(database_url: str, table: str, workers: int = 1, postmaster: int | None = None) -> Service:
    """tipg (``workers`` uvicorn processes) on the ``public`` schema; its CPU time includes the
    database's (``postmaster``: the PostgreSQL server process)."""
    port = free_port()
    return Service(
        name="tipg",
        command=[str(TIPG_VENV / "bin" / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
                 "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        port=port,
        items_path=f"/collections/public.{table}/items",
        ready_path=f"/collections/public.{table}",
        query="f=geojson",
        env={"DATABASE_URL": database_url, "TIPG_DB_SCHEMAS": '["public"]'},
        cpu_pids=[postmaster] if postmaster else [],
    )
