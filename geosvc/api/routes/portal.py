"""The planners' portal over HTTP: ``/`` for browsers, ``/portal/layers/{id}``, ``/portal/explorer``.

``/`` is negotiated: a browser (``Accept`` preferring ``text/html``, or ``?f=html``) gets the portal
catalog, every other client the service's JSON root document as before. Pages list only
:func:`~geosvc.api.served.served_layers` of the request; assets come from ``/portal/static`` and
``/ogc/static`` (nothing from another host).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.staticfiles import StaticFiles

from geosvc.api.routes.metadata import portfolio_for
from geosvc.api.served import served_layer, served_layers
from geosvc.errors import InvalidParameter
from geosvc.portal import catalog, pages
from geosvc.portal.render import STATIC_DIR, render
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer
from geosvc.store.query import FeatureQuery

STATIC_PATH = "/portal/static"


def wants_html(request: Request) -> bool:
    """``?f=html``, or no ``f`` and an ``Accept`` that ranks ``text/html`` at least as high as JSON."""
    f = request.query_params.get("f")
    if f is not None:
        if f not in ("html", "json"):
            raise InvalidParameter(f"unknown format '{f}' (use html or json)", param="f")
        return f == "html"
    quality: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = next((float(p[2:]) for p in params if p.startswith("q=") and p[2:].replace(".", "", 1).isdigit()), 1.0)
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    html = quality.get("text/html", 0.0)
    return html > 0 and html >= quality.get("application/json", 0.0)


def install_portal(app: FastAPI, layers: list[PublishedLayer], settings: Settings) -> None:
    """Installer (see :data:`geosvc.api.app.INSTALLERS`): the portal pages, its static files, and ``/``
    negotiated ahead of the JSON root route (which still answers every non-browser client)."""
    json_root = next(r for r in app.router.routes if isinstance(r, APIRoute) and r.path == "/" and "GET" in r.methods)
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="portal-static")
    app.include_router(create_router())

    async def root(request: Request) -> Response:
        response = catalog_page(request) if wants_html(request) else JSONResponse(json_root.endpoint(request))
        response.headers["Vary"] = "Accept"
        return response

    app.router.routes.insert(0, APIRoute("/", root, methods=["GET"], include_in_schema=False))


def create_router() -> APIRouter:
    router = APIRouter(prefix="/portal", include_in_schema=False)
    router.add_api_route("", catalog_page, methods=["GET"])
    router.add_api_route("/layers/{layer_id}", layer_page, methods=["GET"])
    router.add_api_route("/explorer", explorer_page, methods=["GET"])
    return router


def catalog_page(request: Request) -> HTMLResponse:
    """Search, filters (theme, agency, keyword), badges and a sort order, all from the query string."""
    params = {name: request.query_params.get(name, "") for name in ("q", "theme", "agency", "keyword")}
    sort = request.query_params.get("sort") or "title"
    if sort not in catalog.SORTS:
        raise InvalidParameter(f"unknown sort '{sort}' (use one of {', '.join(catalog.SORTS)})", param="sort")
    portfolio = portfolio_for(request)
    entries = catalog.entries([layer.record for layer in served_layers(request)], portfolio.layers, portfolio.date)
    shown = catalog.select(entries, sort=sort, **params)
    return _page(request, "catalog.html", title="Data catalog", entries=shown, total=len(entries),
                 facets=catalog.facets(entries), params=params, sort=sort, sorts=catalog.SORTS)


def layer_page(request: Request, layer_id: str) -> HTMLResponse:
    """Map, description, fields with examples, extent, licence, contact, history, downloads, OGC API / QGIS."""
    layer = served_layer(request, layer_id)
    store = request.app.state.store
    examples = {}
    if layer.kind == "vector" and layer.fields:
        sample = store.read_features(layer, FeatureQuery(limit=5, count=False), columns=list(layer.fields))
        examples = pages.examples(sample.drop(columns="geometry").to_dict("records"), list(layer.fields))
    portfolio = portfolio_for(request)
    status = next(s for s in portfolio.layers if s.id == layer_id)
    runs = store.validations(layer_id)
    return _page(request, "layer.html", title=layer.record.title, layer=layer, record=layer.record,
                 fields=pages.fields(layer, examples), history=pages.history(store.versions(layer_id)),
                 status=status, freshness=catalog.freshness(status, portfolio.date),
                 validation=runs[-1] if runs else None,
                 links=pages.ogc_links(layer, request.app.state.settings.base_url))


def explorer_page(request: Request) -> HTMLResponse:
    """The equity explorer form; the page's script runs the question the query string holds."""
    layers = served_layers(request)
    return _page(request, "explorer.html", title="Equity explorer", options=pages.explorer_options(layers))


def _page(request: Request, template: str, **context) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    # the pages list what this caller may see: never stored by a shared cache
    return HTMLResponse(render(template, portal=settings.portal, path=request.url.path, **context),
                        headers={"Cache-Control": "private, no-cache"})
