"""The geosvc web application: FastAPI with pygeoapi mounted at ``/ogc``.

``create_app(settings)`` reads the published layers once, generates the pygeoapi configuration
(:func:`geosvc.ogc.config.build_config`), writes it to ``<store_dir>/run/`` and mounts pygeoapi; a
registry change means regenerate-and-restart (``geosvc serve`` does it at start-up).

Extension points for the other parts of geosvc are dotted paths (``module:attribute``):

* :data:`RESOURCE_BUILDERS` ``{kind: "mod:builder"}``, ``builder(layer, settings) -> (id, resource)``;
* :data:`CONFIG_EXTENSIONS` ``extension(config, layers, settings) -> None`` (records catalog, HTML assets, processes);
* :data:`INSTALLERS` ``install(app, layers, settings) -> None``, called before pygeoapi is mounted, to add
  routers and middleware (COG routes, equity API); ``app.state`` holds ``settings``, ``store``,
  ``layers`` (served) and ``index_cache``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from geosvc import __version__
from geosvc.api.errors import install_error_handlers
from geosvc.api.routes import registry
from geosvc.ogc.config import DEFAULT_BUILDERS, MOUNT_PATH, build_config, served_layers
from geosvc.ogc.crs import warm_transformers
from geosvc.ogc.fastpath import GZIP_MIN, OgcDocuments, OgcFastPath
from geosvc.ogc.index import IndexCache
from geosvc.ogc.mount import load_pygeoapi
from geosvc.ogc.openapi import conformance_document
from geosvc.settings import Settings
from geosvc.store.base import Store

RESOURCE_BUILDERS = {"raster": "geosvc.ogc.coverage:raster_resource"}
CONFIG_EXTENSIONS = (
    "geosvc.ogc.records:add_records",
    "geosvc.ogc.assets:add_html_assets",
    "geosvc.ogc.processes:add_processes",
    "geosvc.ogc.linked_data:add_jsonld",
)
INSTALLERS = ("geosvc.ogc.coverage:install_coverage", "geosvc.ogc.records:install_records",
              "geosvc.api.routes.equity:install_equity", "geosvc.api.routes.metadata:install_metadata")
CONFORMANCE_EXTRAS = ("geosvc.ogc.records:CONFORMANCE", "geosvc.ogc.coverage:CONFORMANCE",
                      "geosvc.ogc.processes:CONFORMANCE")


def load_hook(path: str) -> Any:
    """``"module:attribute"`` -> the attribute."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _hooks(paths) -> list[Callable]:
    return [load_hook(path) for path in paths]


def open_store(settings: Settings) -> Store:
    """The embedded GeoPackage store of ``settings``."""
    from geosvc.store.gpkg import GpkgStore

    return GpkgStore(settings)


@asynccontextmanager
async def lifespan(app: FastAPI):
    """Build every layer index at start-up so no client pays for it; CRS transformers in the background."""
    threading.Thread(target=warm_transformers, args=(list(app.state.settings.serve_crs),), daemon=True).start()
    app.state.index_cache.warm()
    app.state.started_at = dt.datetime.now(dt.UTC)
    yield


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The whole service for the layers published in ``store`` (default: the store of ``settings``)."""
    store = store if store is not None else open_store(settings)
    layers = served_layers(store.published())
    builders = dict(DEFAULT_BUILDERS)
    builders.update({kind: load_hook(path) for kind, path in RESOURCE_BUILDERS.items()})
    config = build_config(layers, settings, resource_builders=builders, extensions=_hooks(CONFIG_EXTENSIONS))
    served = [layer for layer in layers if layer.id in config["resources"]]
    cache = IndexCache(store, {layer.id: layer for layer in served if layer.kind == "vector"})
    ogc = load_pygeoapi(config, settings.store_dir / "run", cache, settings.store_dir)
    conformance = conformance_document([c for extra in _hooks(CONFORMANCE_EXTRAS) for c in extra])

    app = FastAPI(
        title="geosvc",
        description="Geospatial data coordination service. OGC API at /ogc, layer registry at /registry.",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # served below from the vendored Swagger UI: no asset from another host
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.layers = served
    app.state.index_cache = cache
    app.state.ogc = ogc
    app.state.started_at = None
    install_error_handlers(app)
    _add_root_routes(app)
    app.include_router(registry.create_router())
    for install in _hooks(INSTALLERS):
        install(app, served, settings)
    app.mount(MOUNT_PATH, ogc.asgi)
    app.add_middleware(
        OgcFastPath,
        cache=cache,
        layers={layer.id: layer for layer in served},
        base_url=settings.base_url,
        serve_crs=list(settings.serve_crs),
        documents=OgcDocuments(openapi=_json(ogc.openapi), conformance=_json(conformance)),
    )
    # COGs are already compressed and must keep Content-Length and byte ranges intact.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN, compresslevel=1,
                       exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "image/tiff", "application/tiff"))
    return app


def _json(value: Any) -> bytes:
    import orjson

    return orjson.dumps(value)


def _add_root_routes(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        vendor = f"{MOUNT_PATH}/static/vendor/swagger-ui"
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="geosvc API",
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url=f"{vendor}/favicon-32x32.png",
        )

    @app.get("/", operation_id="getRoot", summary="Service root", tags=["service"])
    def root(request: Request) -> dict:
        base = request.app.state.settings.base_url
        return {
            "title": "geosvc",
            "description": "Published state layers over OGC API, with a registry and an equity API.",
            "links": [
                {"rel": "service", "type": "application/json", "title": "OGC API landing page", "href": f"{base}/ogc"},
                {"rel": "data", "type": "application/json", "title": "Layer registry", "href": f"{base}/registry"},
                {"rel": "service-doc", "type": "text/html", "title": "API documentation", "href": f"{base}/docs"},
                {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0",
                 "title": "OpenAPI (non-OGC routes)", "href": f"{base}/openapi.json"},
                {"rel": "status", "type": "application/json", "title": "Health", "href": f"{base}/health"},
            ],
        }

    @app.get("/health", operation_id="getHealth", summary="Store and catalog state", tags=["service"])
    def health(request: Request) -> dict:
        state = request.app.state
        try:
            published = state.store.published()
            store_ok = True
        except Exception as exc:  # the store being unreachable is exactly what health reports
            published, store_ok = [], False
            store_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        served = {layer.id: layer for layer in state.layers}
        stale = [layer.id for layer in published if layer.id in served and layer.version != served[layer.id].version]
        body = {
            "status": "ok" if store_ok and not stale else "degraded",
            "store": {"dir": str(state.settings.store_dir), "reachable": store_ok},
            "catalog": {
                "published": len(published),
                "served": len(served),
                "layers": [{"id": layer.id, "kind": layer.kind, "version": layer.version,
                            "published_at": layer.published_at.isoformat()} for layer in state.layers],
                "stale": stale,
            },
            "started_at": state.started_at.isoformat() if state.started_at else None,
        }
        if not store_ok:
            body["store"]["error"] = store_error
        if stale:
            body["hint"] = "newer versions were published since start-up: restart to serve them"
        return body


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the service with uvicorn (``geosvc serve``)."""
    import uvicorn

    update = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = settings.model_copy(update=update) if update else settings
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning",
                proxy_headers=False)
