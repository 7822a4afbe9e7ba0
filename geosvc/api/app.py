"""The geosvc web application: FastAPI with pygeoapi mounted at ``/ogc``.

``create_app(settings)`` serves what the store publishes *now*: a :class:`~geosvc.api.live.LiveRegistry`
builds a snapshot (served versions, pygeoapi app generated for them by
:func:`geosvc.ogc.config.build_config`, documents) and rebuilds it whenever the store's catalog changes,
without a restart; each request finishes on the snapshot it started on.

Extension points for the other parts of geosvc are dotted paths (``module:attribute``):

* :data:`RESOURCE_BUILDERS` ``{kind: "mod:builder"}``, ``builder(layer, settings) -> (id, resource)``;
* :data:`CONFIG_EXTENSIONS` ``extension(config, layers, settings) -> None`` (records catalog, HTML assets, processes);
* :data:`INSTALLERS` ``install(app, layers, settings) -> None``, called before pygeoapi is mounted, to add
  routers and middleware (COG routes, equity API); ``layers`` are those served at start-up only — routes
  must ask :func:`geosvc.api.served.served_layers` per request. ``app.state`` holds ``settings``,
  ``store`` and ``registry``.
"""

from __future__ import annotations

import datetime as dt
import functools
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
from geosvc.api.live import LiveRegistry, Snapshot, SnapshotMiddleware
from geosvc.api.routes import registry
from geosvc.api.served import served_layers
from geosvc.crs import warm_transformers
from geosvc.ogc.config import DEFAULT_BUILDERS, MOUNT_PATH, build_config
from geosvc.ogc.fastpath import OgcDocuments, OgcFastPath
from geosvc.ogc.mount import load_pygeoapi
from geosvc.ogc.openapi import conformance_document
from geosvc.settings import Settings
from geosvc.store.backends import open_store
from geosvc.store.base import PublishedLayer, Store

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
GZIP_MIN = 1024


def load_hook(path: str) -> Any:
    """``"module:attribute"`` -> the attribute."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _hooks(paths) -> list[Callable]:
    return [load_hook(path) for path in paths]


def pygeoapi_config(settings: Settings, store: Store, layers: list[PublishedLayer]) -> dict[str, Any]:
    """The pygeoapi configuration served for ``layers``, with every resource builder and extension."""
    builders = dict(DEFAULT_BUILDERS)
    builders.update({kind: load_hook(path) for kind, path in RESOURCE_BUILDERS.items()})
    return build_config(layers, settings, store=store, resource_builders=builders, extensions=_hooks(CONFIG_EXTENSIONS))


def build_snapshot(settings: Settings, store: Store, generation: int, layers: list[PublishedLayer],
                   broken: dict[str, str]) -> Snapshot:
    """Generate the pygeoapi configuration for ``layers`` and build everything served from it."""
    config = pygeoapi_config(settings, store, layers)
    served = {layer.id: layer for layer in layers if layer.id in config["resources"]}
    ogc = load_pygeoapi(config, settings.store.dir / "run")
    conformance = conformance_document([c for extra in _hooks(CONFORMANCE_EXTRAS) for c in extra])
    return Snapshot(generation=generation, layers=served, broken=broken, ogc=ogc,
                    documents=OgcDocuments(openapi=_json(ogc.openapi), conformance=_json(conformance)))


class OgcMount:
    """The ``/ogc`` mount: the pygeoapi app of the snapshot the request started on."""

    async def __call__(self, scope, receive, send) -> None:
        await scope["state"]["snapshot"].ogc.asgi(scope, receive, send)


@asynccontextmanager
async def lifespan(app: FastAPI):
    """Start watching the store for registry changes; warm CRS transformers in the background."""
    threading.Thread(target=warm_transformers, args=(list(app.state.settings.crs.serve),), daemon=True).start()
    app.state.registry.start()
    app.state.started_at = dt.datetime.now(dt.UTC)
    try:
        yield
    finally:
        app.state.registry.stop()


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The whole service for the layers published in ``store`` (default: the store ``settings`` select)."""
    store = store if store is not None else open_store(settings)
    live = LiveRegistry(store, functools.partial(build_snapshot, settings, store),
                        poll_seconds=settings.server.registry_poll_s)
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
    app.state.registry = live
    app.state.started_at = None
    install_error_handlers(app)
    _add_root_routes(app)
    app.include_router(registry.create_router())
    initial = list(live.current().layers.values())
    for install in _hooks(INSTALLERS):
        install(app, initial, settings)
    app.mount(MOUNT_PATH, OgcMount())
    app.add_middleware(OgcFastPath, store=store, settings=settings, registry=live)
    app.add_middleware(SnapshotMiddleware, registry=live)
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

    @app.get("/health", operation_id="getHealth", summary="Store and registry state", tags=["service"])
    def health(request: Request) -> dict:
        state = request.app.state
        snapshot = request.state.snapshot
        try:
            generation = state.store.generation()
            store_ok, store_error = True, None
        except Exception as exc:  # the store being unreachable is exactly what health reports
            generation, store_ok = None, False
            store_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        layers = served_layers(request)
        visible = {layer.id for layer in layers}
        broken = [{"id": lid, "finding": why} for lid, why in sorted(snapshot.broken.items())
                  if lid in visible or _public_record(state.store, lid)]
        body = {
            "status": "ok" if store_ok and not broken and state.registry.last_error is None else "degraded",
            "store": {"backend": state.settings.store.backend, "reachable": store_ok},
            "registry": {"generation": snapshot.generation, "store_generation": generation,
                         "built_at": snapshot.built_at.isoformat()},
            "catalog": {
                "served": len(layers),
                "layers": [{"id": layer.id, "kind": layer.kind, "version": layer.version,
                            "published_at": layer.published_at.isoformat()} for layer in layers],
                "unreadable": broken,
            },
            "started_at": state.started_at.isoformat() if state.started_at else None,
        }
        if store_error:
            body["store"]["error"] = store_error
        if state.registry.last_error:
            body["registry"]["error"] = state.registry.last_error
        return body


def _public_record(store: Store, layer_id: str) -> bool:
    """True if the latest version of ``layer_id`` is a public layer (its failure may be reported)."""
    try:
        return store.get(layer_id).record.sensitivity == "public"
    except Exception:
        return False


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Run the service with uvicorn (``geosvc serve``)."""
    import uvicorn

    update = {k: v for k, v in (("server_host", host), ("server_port", port)) if v is not None}
    settings = settings.replace(**update) if update else settings
    uvicorn.run(create_app(settings), host=settings.server.host, port=settings.server.port, log_level="warning",
                proxy_headers=False)
