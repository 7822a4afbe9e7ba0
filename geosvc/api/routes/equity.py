"""``/equity``: thin HTTP routes over :class:`geosvc.equity.service.EquityService`.

``POST /equity/{exposure,access,disparity,svi}`` take the request models of
:mod:`geosvc.equity.requests`; the answer's format is ``?f=json|geojson|csv`` or, without ``f``,
negotiated from ``Accept``. Errors go through the app's single error mapping (OGC exception bodies).

(No ``from __future__ import annotations`` here: FastAPI reads the endpoints' body models from
their evaluated annotations, which the route factory sets per operation.)
"""

from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from geosvc.equity.report import FORMATS, Report, compressed, encode
from geosvc.equity.requests import OPERATIONS
from geosvc.equity.service import EquityService, shared_service
from geosvc.errors import InvalidParameter
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer

Format = Literal["json", "geojson", "csv"]
_ACCEPT = (("application/geo+json", "geojson"), ("text/csv", "csv"), ("application/json", "json"))
_GZIP_MIN = 1024
_F = Query(description="Output format (default: negotiated from Accept, else json)")


def negotiate(f: str | None, accept: str | None) -> str:
    """The output format: ``f`` if given, else the first known media type in ``Accept``, else json."""
    if f is not None:
        if f not in FORMATS:
            raise InvalidParameter(f"unknown format '{f}' (use one of {', '.join(FORMATS)})", param="f")
        return f
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        for known, fmt in _ACCEPT:
            if media == known:
                return fmt
    return "json"


def respond(report: Report, fmt: str, accept_encoding: str | None = None) -> Response:
    """Encode ``report`` (gzip once per answer when accepted) with provenance headers (CSV carries them too)."""
    body, media_type = encode(report, fmt)
    provenance = report.provenance()
    headers = {
        "Content-Crs": f"<{provenance['crs'].get('output', '')}>",
        "Geosvc-Result-Hash": provenance["result_hash"],
        "Geosvc-Layers": ", ".join(f"{x['id']}@v{x['version']}" for x in provenance["layers"]),
    }
    if fmt != "json":
        extension = "geojson" if fmt == "geojson" else "csv"
        headers["Content-Disposition"] = f'inline; filename="equity-{report.operation}.{extension}"'
    if len(body) > _GZIP_MIN and "gzip" in (accept_encoding or "").lower():
        body = compressed(report, fmt)
        headers |= {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return Response(body, media_type=media_type, headers=headers)


SUMMARIES = {
    "exposure": "Who lives in a hazard zone, by group and place",
    "access": "Distance to the nearest facility and 2SFCA accessibility, by group and place",
    "disparity": "Disparity indices (ID, weighted ID, Gini, Theil) and RR/RD over groups",
    "svi": "CDC/ATSDR Social Vulnerability Index ranking",
}


def _add_operation(router: APIRouter, operation: str, model: type) -> None:
    async def endpoint(body: model, request: Request, f: Annotated[Format | None, _F] = None) -> Response:
        fmt = negotiate(f, request.headers.get("accept"))
        service: EquityService = request.app.state.equity
        report = await run_in_threadpool(service.run, operation, body)
        return respond(report, fmt, request.headers.get("accept-encoding"))

    router.add_api_route(
        f"/{operation}", endpoint, methods=["POST"], operation_id=f"equity{operation.capitalize()}",
        summary=SUMMARIES[operation], response_class=Response,
        responses={200: {"content": {media: {} for media in FORMATS.values()},
                         "description": "The protected answer (JSON, GeoJSON or CSV)"}},
    )


def create_router() -> APIRouter:
    """Router with the four equity operations; the service is ``request.app.state.equity``."""
    router = APIRouter(prefix="/equity", tags=["equity"])
    for operation, model in OPERATIONS.items():
        _add_operation(router, operation, model)
    return router


def install_equity(app: FastAPI, layers: list[PublishedLayer], settings: Settings) -> None:
    """``create_app`` hook: the process's :class:`EquityService` on ``app.state.equity`` and the router."""
    app.state.equity = shared_service(settings, app.state.store)
    app.include_router(create_router())
