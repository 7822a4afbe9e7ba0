"""ASGI middleware: resolve the caller once per request, answer bad credentials (401) and spent equity rate
limits (429) itself, and keep caches from serving one caller's answer to another.

``scope["state"]["caller"]`` (so ``request.state.caller``) holds the :class:`Caller` for everything inside;
``pin(scope, caller)``, if given, adds what depends on the caller (the app pins its snapshot view there, so
one middleware does both).
Every response gets ``Vary: Authorization, X-API-Key``; a signed-in caller's responses become
``Cache-Control: private, no-cache`` (shared caches never keep them, browsers revalidate each time).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geosvc.auth.caller import ANONYMOUS, Caller
from geosvc.auth.ratelimit import RateLimiter, caller_key
from geosvc.auth.resolve import Authenticator
from geosvc.errors import GeosvcError
from geosvc.ogc.exceptions import error_response_parts

RATE_LIMITED = re.compile(r"^(/equity(/|$)|/ogc/processes/[^/]+/execution/?$)")
VARY = ("Authorization", "X-API-Key")
_VARY = ", ".join(VARY)


def caller_of(scope_or_request: Scope | HTTPConnection | Any) -> Caller:
    """The caller the middleware resolved (anonymous when it did not run)."""
    scope = getattr(scope_or_request, "scope", scope_or_request)
    return (scope.get("state") or {}).get("caller", ANONYMOUS)


class CallerMiddleware:
    """``app.add_middleware(CallerMiddleware, settings=settings)``; tests may pass ``authenticator``/``limiter``."""

    def __init__(self, app: ASGIApp, settings: Any = None, *, authenticator: Authenticator | None = None,
                 limiter: RateLimiter | None = None, pin: Callable[[Scope, Caller], None] | None = None):
        self.app = app
        self.pin = pin
        self.auth = authenticator or Authenticator.from_settings(settings)
        self.limiter = limiter or (RateLimiter(self.auth.store, settings.equity.rate_limit) if settings else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            caller = ANONYMOUS
            if "authorization" in headers or "x-api-key" in headers:
                caller = await run_in_threadpool(self.auth.resolve_caller, headers)
            if self.limiter is not None and RATE_LIMITED.match(scope["path"]):
                client = scope.get("client")
                await run_in_threadpool(self.limiter.check, caller_key(caller, client[0] if client else None))
        except GeosvcError as exc:
            await _error(exc, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        if self.pin is not None:
            self.pin(scope, caller)

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                _cache_rules(MutableHeaders(scope=message), caller)
            await send(message)

        await self.app(scope, receive, send_private)


def _cache_rules(headers: MutableHeaders, caller: Caller) -> None:
    headers.add_vary_header(_VARY)
    if not caller.anonymous and "no-store" not in headers.get("cache-control", ""):
        headers["Cache-Control"] = "private, no-cache"


async def _error(exc: GeosvcError, send: Send) -> None:
    status, body = error_response_parts(exc)
    headers = MutableHeaders(raw=[(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())])
    for key, value in exc.headers.items():
        headers[key] = value
    for name in VARY:
        headers.add_vary_header(name)
    await send({"type": "http.response.start", "status": status, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body})
