"""OGC API exception bodies (``{"code", "description"}``) for :class:`~geosvc.errors.GeosvcError`."""

from __future__ import annotations

import orjson

from geosvc.errors import GeosvcError


def exception_body(code: str, description: str) -> bytes:
    """JSON OGC exception document."""
    return orjson.dumps({"type": code, "code": code, "description": description})


def error_response_parts(exc: GeosvcError) -> tuple[int, bytes]:
    """HTTP status and OGC exception body for a domain error."""
    return exc.http_status, exception_body(exc.ogc_code, str(exc))
