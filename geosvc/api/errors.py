"""One mapping from errors to HTTP: status code plus an OGC exception body ``{code, description}``.

Domain code raises :class:`~geosvc.errors.GeosvcError`; FastAPI's validation errors become 400s; any
other exception becomes a 500 with a generic message (the traceback goes to the log, never to a client).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from geosvc.errors import GeosvcError
from geosvc.ogc.exceptions import error_response_parts, exception_body

LOGGER = logging.getLogger("geosvc.api")
_CODES = {400: "InvalidParameterValue", 404: "NotFound", 405: "NoApplicableCode", 406: "NoApplicableCode"}


def ogc_error(status: int, code: str, description: str) -> Response:
    """JSON OGC exception response."""
    return Response(exception_body(code, description), status_code=status, media_type="application/json")


async def _geosvc_error(request: Request, exc: GeosvcError) -> Response:
    status, body = error_response_parts(exc)
    return Response(body, status_code=status, media_type="application/json", headers=dict(exc.headers))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
    message = f"parameter '{where}': {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    return ogc_error(400, "InvalidParameterValue", message)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    response = ogc_error(exc.status_code, _CODES.get(exc.status_code, "NoApplicableCode"), str(exc.detail))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    LOGGER.exception("unhandled error on %s %s", request.method, request.url.path)
    return ogc_error(500, "NoApplicableCode", "internal error; the incident was logged")


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on ``app``."""
    app.add_exception_handler(GeosvcError, _geosvc_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
