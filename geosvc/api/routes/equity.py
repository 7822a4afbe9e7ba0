"""``/equity``: thin HTTP routes generated from the registry :data:`geosvc.equity.operations.OPERATIONS`.

``POST /equity/<operation>`` takes the operation's request model (documented in OpenAPI, decoded
strictly by :func:`geosvc.equity.requests.parse_request`); the answer's format is
``?f=json|geojson|csv`` or, without ``f``, negotiated from ``Accept``. Each request runs in a worker
thread on the app's own :class:`~geosvc.equity.service.EquityService` (``app.state.equity``), under
the time budget ``settings.equity.time_budget_s``. Errors go through the app's single error mapping
(OGC exception bodies). :func:`install_equity` also installs the OGC API Processes execution route.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from geosvc.equity.operations import OPERATIONS, Operation
from geosvc.equity.report import FORMATS, Report, compressed, encode
from geosvc.equity.requests import request_schema
from geosvc.equity.service import EquityService
from geosvc.errors import InvalidParameter
from geosvc.ogc.processes import install_process_execution
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


def _add_operation(router: APIRouter, op: Operation) -> None:
    async def endpoint(request: Request, f: Annotated[Format | None, _F] = None) -> Response:
        fmt = negotiate(f, request.headers.get("accept"))
        service: EquityService = request.app.state.equity
        report = await run_in_threadpool(service.run, op.name, await request.body(), None,
                                         request.state.snapshot.layers, request.state.snapshot.record_level)
        response = respond(report, fmt, request.headers.get("accept-encoding"))
        request.app.state.audit_equity(request.scope, report, response.body)
        return response

    router.add_api_route(
        f"/{op.name}", endpoint, methods=["POST"], operation_id=f"equity{op.name.capitalize()}",
        summary=op.summary, description=(op.request.__doc__ or op.title).strip(), response_class=Response,
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/json": {"schema": request_schema(op.request)}}}},
        responses={200: {"content": {media: {} for media in FORMATS.values()},
                         "description": "The protected answer (JSON, GeoJSON or CSV)"}},
    )


def create_router() -> APIRouter:
    """Router with one route per registered operation; the service is ``request.app.state.equity``."""
    router = APIRouter(prefix="/equity", tags=["equity"])
    for op in OPERATIONS.values():
        _add_operation(router, op)
    return router


def install_equity(app: FastAPI, layers: list[PublishedLayer], settings: Settings) -> None:
    """``create_app`` hook: this app's own :class:`EquityService` on ``app.state.equity``, the
    ``/equity`` router and the OGC API Processes execution route (both answer from that service)."""
    app.state.equity = EquityService(app.state.store, settings)
    app.include_router(create_router())
    install_process_execution(app)
