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
from urllib.parse import parse_qsl
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from geosvc import __version__
from geosvc.api.errors import install_error_handlers
from geosvc.auth.access import audit
from geosvc.auth.middleware import CallerMiddleware, caller_of
from geosvc.auth.resolve import Authenticator, verifier_from
from geosvc.auth.store import open_access_store
from geosvc.api.live import LiveRegistry, Snapshot
from geosvc.api.routes import registry
from geosvc.api.served import served_layers
from geosvc.ogc.config import DEFAULT_BUILDERS, MOUNT_PATH, build_config
from geosvc.crs import warm_transformers
from geosvc.ogc.fastpath import OgcDocuments, OgcFastPath
from geosvc.ogc.mount import MountedOgc, load_pygeoapi
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
    "geosvc.ogc.tiles:add_tile_links",
    "geosvc.ogc.downloads:add_download_links",
)
INSTALLERS = ("geosvc.ogc.coverage:install_coverage", "geosvc.ogc.records:install_records",
              "geosvc.api.routes.equity:install_equity", "geosvc.api.routes.metadata:install_metadata",
              "geosvc.api.routes.access:install_access", "geosvc.api.routes.portal:install_portal",
              "geosvc.ogc.tiles:install_tiles", "geosvc.ogc.downloads:install_downloads")
CONFORMANCE_EXTRAS = ("geosvc.ogc.records:CONFORMANCE", "geosvc.ogc.coverage:CONFORMANCE",
                      "geosvc.ogc.processes:CONFORMANCE", "geosvc.ogc.tiles:CONFORMANCE")
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


def build_view(settings: Settings, store: Store, layers: list[PublishedLayer]) -> tuple[MountedOgc, OgcDocuments]:
    """pygeoapi and the served documents for exactly ``layers`` (what one set of callers may read)."""
    ogc = load_pygeoapi(pygeoapi_config(settings, store, layers), settings.store.dir / "run")
    conformance = conformance_document([c for extra in _hooks(CONFORMANCE_EXTRAS) for c in extra])
    return ogc, OgcDocuments(openapi=_json(ogc.openapi), conformance=_json(conformance))


def build_snapshot(settings: Settings, store: Store, generation: int, layers: list[PublishedLayer],
                   broken: dict) -> Snapshot:
    """The snapshot of one catalog generation (its public view is built now, others on first use)."""
    return Snapshot(generation, layers, broken, functools.partial(build_view, settings, store))


def audit_read(access_store, scope, layer: PublishedLayer, body: bytes | None) -> None:
    """Append a read of a restricted layer to the audit trail (who, route, parameters, answer hash)."""
    params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    audit(access_store, caller_of(scope), "read", scope["path"], layers=[layer.id], params=params, answer=body)


def audit_equity(access_store, scope, report, body: bytes) -> None:
    """Append an equity answer to the audit trail (who, route, parameters, layers, answer hash, cells withheld)."""
    withheld = report.protections.get("withheld", {}) if isinstance(report.protections, dict) else {}
    audit(access_store, caller_of(scope), "equity", scope["path"],
          layers=[layer["id"] for layer in report.provenance()["layers"]], params=report.parameters,
          answer=body, withheld=sum(int(v) for v in withheld.values()) if isinstance(withheld, dict) else None)


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
        app.state.on_shutdown()


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
    app.state.access_store = open_access_store(settings)
    app.state.audit_read = functools.partial(audit_read, app.state.access_store)
    app.state.audit_equity = functools.partial(audit_equity, app.state.access_store)
    app.state.started_at = None
    app.state.on_shutdown = lambda: None  # geosvc.api.server makes a served process exit surely
    install_error_handlers(app)
    _add_root_routes(app)
    app.include_router(registry.create_router())
    initial = list(live.current().layers.values())
    for install in _hooks(INSTALLERS):
        install(app, initial, settings)
    app.mount(MOUNT_PATH, OgcMount())
    app.add_middleware(OgcFastPath, store=store, settings=settings, registry=live,
                       audit=app.state.audit_read)
    app.add_middleware(CallerMiddleware, settings=settings, pin=live.pin,
                       authenticator=Authenticator(app.state.access_store, verifier_from(settings)))
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
        broken = [{"id": lid, "finding": why} for lid, why in sorted(snapshot.broken.items())]
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
