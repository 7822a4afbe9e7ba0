"""ASGI front of the OGC API mount: JSON items, conformance, OpenAPI, HTTP caching, request context.

JSON/GeoJSON items and single items are answered here from the store's query seam by joining
pre-encoded features (pygeoapi's stdlib JSON serializer costs ~70 ms per 100 tracts). Everything else
goes to the pygeoapi app of the request's snapshot, with the request context set
(:mod:`geosvc.ogc.context`) so its providers read the same version; items requests in other formats
(HTML, CSV, JSON-LD) are parsed and validated here first, exactly as JSON ones are.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import anyio
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geosvc.crs import is_crs84
from geosvc.errors import GeosvcError, InvalidParameter, NotFound, StoreError
from geosvc.ogc.config import MOUNT_PATH
from geosvc.ogc.context import CURRENT, OgcRequest, use_context_executor
from geosvc.ogc.exceptions import error_response_parts, exception_body
from geosvc.ogc.httpcache import cache_headers, not_modified
from geosvc.ogc.query import (
    ItemsQuery,
    items_href,
    paging_links,
    parse_item_params,
    parse_items_query,
    query_pairs,
    render_feature,
    render_features,
)
from geosvc.store.base import PublishedLayer, Store
from geosvc.store.sqlite_read import QueryTimeout, VersionUnreadable

_PREFIX = re.escape(MOUNT_PATH)
_METADATA = re.compile(rf"^{_PREFIX}/collections/([^/]+)(?:/queryables|/schema)?/?$")
_COLLECTION = re.compile(rf"^{_PREFIX}/collections/([^/]+)(/items(?:/([^/]+))?)?/?$")
METADATA_PARAMS = frozenset({"f", "lang"})
GEOJSON = "application/geo+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
JSON_FORMATS = (None, "json", "geojson")
INLINE_LIMIT = 100  # largest page tried on the event loop (see OgcFastPath._items_inline)


Audit = Callable[[Scope, PublishedLayer, bytes | None], None]
"""Records a read of a restricted layer: the request, the layer and the answer's bytes (None if streamed)."""


@dataclass(frozen=True)
class OgcDocuments:
    """Documents served as-is: the fixed OpenAPI and the honest conformance list."""

    openapi: bytes
    conformance: bytes


def check_metadata_params(pairs: list[tuple[str, str]]) -> None:
    """Landing page, conformance, collections and queryables take only ``f`` and ``lang`` (else 400)."""
    unknown = sorted({k for k, _ in pairs} - METADATA_PARAMS)
    if unknown:
        raise InvalidParameter(f"unknown query parameter(s) {', '.join(unknown)}", param=unknown[0])


def wants_html(params: dict[str, str], accept: str) -> bool:
    """True when the client asks for HTML (``f=html`` or a browser Accept header)."""
    f = params.get("f")
    if f is not None:
        return f == "html"
    accept = accept.lower()
    if "text/html" not in accept:
        return False
    json_at = accept.find("json") if "json" in accept else len(accept) + 1
    return accept.find("text/html") < json_at


def _header_pairs(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in headers.items()]


class OgcFastPath:
    """Pure ASGI middleware; see module docstring. ``registry`` gives unreadable versions back."""

    def __init__(self, app: ASGIApp, *, store: Store, settings, registry, audit: Audit | None = None):
        self.app = app
        self.store = store
        self.settings = settings
        self.registry = registry
        self.audit = audit
        self.base_url = settings.base_url.rstrip("/") + MOUNT_PATH
        self.serve_crs = list(settings.crs.serve)
        self.budget = settings.server.query_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == MOUNT_PATH:  # no 307 to /ogc/: QGIS drops the Accept header on redirects
            scope = dict(scope, path=MOUNT_PATH + "/", raw_path=(MOUNT_PATH + "/").encode())
            path = MOUNT_PATH + "/"
        if not path.startswith(MOUNT_PATH + "/"):
            await self.app(scope, receive, send)
            return
        snapshot = scope["state"]["snapshot"]
        context = OgcRequest(snapshot=snapshot, store=self.store, settings=self.settings,
                             deadline=time.monotonic() + self.budget)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            pairs = query_pairs(scope.get("query_string", b""))
            handled = await self._dispatch(scope, receive, send, path, pairs, headers, context)
        except GeosvcError as exc:
            await _drain(receive, scope)
            await _send(send, exc.http_status, error_response_parts(exc)[1], "application/json")
            return
        if handled:
            return
        use_context_executor()
        token = CURRENT.set(context)
        try:
            await self.app(scope, receive, send)
        finally:
            CURRENT.reset(token)

    async def _dispatch(self, scope, receive, send, path, pairs, headers, context: OgcRequest) -> bool:
        method = scope["method"]
        params = dict(pairs)
        snapshot = context.snapshot
        if method == "GET" and self._is_metadata_path(path, snapshot):
            check_metadata_params(pairs)
        if path in (f"{MOUNT_PATH}/conformance", f"{MOUNT_PATH}/conformance/") and method == "GET":
            if wants_html(params, headers.get("accept", "")):
                return False
            await _send(send, 200, snapshot.documents.conformance, "application/json")
            return True
        if path in (f"{MOUNT_PATH}/openapi", f"{MOUNT_PATH}/openapi/") and method == "GET":
            accept = headers.get("accept", "")
            if params.get("f") == "json" or ("openapi" in accept or "json" in accept) and params.get("f") != "html":
                await _send(send, 200, snapshot.documents.openapi, OPENAPI_JSON)
                return True
            return False
        match = _COLLECTION.match(path)
        if match is None:
            return False
        layer: PublishedLayer | None = snapshot.layers.get(match.group(1))
        if layer is None:
            if method in ("GET", "HEAD", "OPTIONS"):
                return False  # pygeoapi's 404 page
            raise NotFound(f"no collection '{match.group(1)}'", layer=match.group(1))
        is_items, fid = match.group(2) is not None, match.group(3)
        allowed = ("GET", "HEAD", "POST") if is_items and fid is None else ("GET", "HEAD")
        if method not in (*allowed, "OPTIONS"):
            await _drain(receive, scope)
            await _send(send, 405, exception_body("NoApplicableCode", f"{method} is not allowed here; use "
                                                  f"{', '.join(allowed)}"),
                        "application/json", [(b"allow", ", ".join(allowed).encode())])
            return True
        if method == "OPTIONS":
            return False
        caching = cache_headers(layer)
        if method in ("GET", "HEAD") and not_modified(layer, headers):
            await _send(send, 304, b"", None, _header_pairs(caching))
            return True
        if not (is_items and layer.kind == "vector"):
            await self._forward(scope, receive, send, context, caching, layer)
            return True
        if fid is None and method == "POST":
            body = await _read_body(receive, scope)
            if body:
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    raise InvalidParameter("the request body is not UTF-8 text", param="filter") from None
                pairs = [*pairs, ("filter", text), ("filter-lang", "cql2-json")]
        fmt_json = params.get("f") in JSON_FORMATS and not wants_html(params, headers.get("accept", ""))
        if fid is not None:
            crs = parse_item_params(pairs, self.serve_crs)
            if not fmt_json:
                await self._forward(scope, receive, send, context, caching, layer)
                return True
            body = await anyio.to_thread.run_sync(self._item, context, layer, fid, crs)
        else:
            query = parse_items_query([(k, v) for k, v in pairs if k != "f"], layer, self.serve_crs)
            if not fmt_json:
                if "f" in params:  # kept in the provider's paging links
                    query = dataclasses.replace(query, passthrough={**query.passthrough, "f": params["f"]})
                await self._forward(_for_pygeoapi(scope, pairs, query), _body_read(receive, scope), send,
                                    dataclasses.replace(context, items=query), caching, layer)
                return True
            body = self._items_inline(context, layer, query)
            if body is None:
                body = await anyio.to_thread.run_sync(self._items, context, layer, query)
            crs = query.crs
        extra = [*_header_pairs(caching), (b"vary", b"Accept, Accept-Encoding"), (b"content-crs", f"<{crs}>".encode())]
        await _send(send, 200, body, GEOJSON, extra, head_only=method == "HEAD")
        self._audit(scope, snapshot, layer, body)
        return True

    async def _forward(self, scope, receive, send, context: OgcRequest, caching: dict[str, str],
                       layer: PublishedLayer) -> None:
        """Hand the request to the snapshot's pygeoapi app with the context set and caching headers added."""
        use_context_executor()
        token = CURRENT.set(context)
        try:
            await self.app(scope, receive, _with_headers(send, _header_pairs(caching)))
        finally:
            CURRENT.reset(token)
        self._audit(scope, context.snapshot, layer, None)

    def _audit(self, scope: Scope, snapshot, layer: PublishedLayer, body: bytes | None) -> None:
        if self.audit is not None and layer.id in snapshot.restricted:
            self.audit(scope, layer, body)

    def _is_metadata_path(self, path: str, snapshot) -> bool:
        if path.rstrip("/") in (MOUNT_PATH, f"{MOUNT_PATH}/conformance", f"{MOUNT_PATH}/collections"):
            return True
        match = _METADATA.match(path)
        return match is not None and match.group(1) in snapshot.layers

    def _read(self, layer: PublishedLayer, read):
        try:
            return read()
        except StoreError as exc:
            if isinstance(exc, VersionUnreadable):
                self.registry.unreadable(layer, exc.message)
            raise

    def _items(self, context: OgcRequest, layer: PublishedLayer, query: ItemsQuery) -> bytes:
        page = self._read(layer, lambda: self.store.query(layer, query.select, context.deadline))
        head = orjson.dumps({
            "type": "FeatureCollection",
            "numberMatched": page.matched,
            "numberReturned": len(page.rows),
            "timeStamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "links": self._items_links(layer.id, query, page.matched),
        })
        return render_features(page.rows, query, head[:-1] + b',"features":[', b"]}")

    def _items_inline(self, context: OgcRequest, layer: PublishedLayer, query: ItemsQuery) -> bytes | None:
        """A small CRS84 page answered on the event loop if the store reads it within its inline budget
        (a thread hop and its GIL contention cost more than such a read); None: run it in a thread."""
        budget = self.store.inline_budget_s
        if not budget or query.select.limit is None or query.select.limit > INLINE_LIMIT or not is_crs84(query.crs):
            return None
        quick = dataclasses.replace(context, deadline=min(context.deadline, time.monotonic() + budget))
        try:
            return self._items(quick, layer, query)
        except QueryTimeout:
            if time.monotonic() >= context.deadline:
                raise
            return None

    def _items_links(self, layer_id: str, query: ItemsQuery, matched: int) -> list[dict]:
        uri = f"{self.base_url}/collections/{quote(layer_id)}/items"
        offset = query.select.offset
        return [
            {"href": items_href(uri, query, offset), "rel": "self", "type": GEOJSON,
             "title": "This document as GeoJSON"},
            {"href": items_href(uri, query, offset, "html"), "rel": "alternate", "type": "text/html",
             "title": "This document as HTML"},
            {"href": f"{self.base_url}/collections/{quote(layer_id)}", "rel": "collection", "type": "application/json",
             "title": "The collection"},
            *paging_links(uri, query, matched, GEOJSON),
        ]

    def _item(self, context: OgcRequest, layer: PublishedLayer, fid: str, crs: str) -> bytes:
        row = self._read(layer, lambda: self.store.feature(layer, fid, crs=crs, deadline=context.deadline))
        if row is None:
            raise NotFound(f"no feature '{fid}'", layer=layer.id)
        feature = render_feature(row)
        collection = f"{self.base_url}/collections/{quote(layer.id)}"
        links = orjson.dumps([
            {"href": f"{collection}/items/{quote(fid)}", "rel": "self", "type": GEOJSON, "title": "This feature"},
            {"href": f"{collection}/items/{quote(fid)}?f=html", "rel": "alternate", "type": "text/html",
             "title": "This feature as HTML"},
            {"href": collection, "rel": "collection", "type": "application/json", "title": "The collection"},
        ])
        return b'%s,"links":%s}' % (feature[:-1], links)


def _for_pygeoapi(scope: Scope, pairs: list[tuple[str, str]], query: ItemsQuery) -> Scope:
    """The items request as pygeoapi should see it: the provider answers from ``query`` (our parse),
    so parameters pygeoapi would parse differently (CQL2, 6-number or non-CRS84 bboxes) are replaced
    by their normalised CRS84 form or dropped; paging and format stay for its links."""
    kept = [(k, v) for k, v in pairs if k not in ("filter", "filter-lang", "filter-crs", "bbox", "bbox-crs")]
    if query.select.bbox is not None:
        kept.append(("bbox", ",".join(repr(float(v)) for v in query.select.bbox)))
    return dict(scope, query_string=urlencode(kept).encode("latin-1"), method="GET")


async def _read_body(receive: Receive, scope: Scope) -> bytes:
    scope["geosvc_body_read"] = True
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks).strip()


def _body_read(receive: Receive, scope: Scope) -> Receive:
    """``receive`` for an app downstream once the body was read here: an empty body, then the rest
    (disconnect); else pygeoapi, reading the body again, would wait forever."""
    if not scope.get("geosvc_body_read"):
        return receive
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return replay


async def _drain(receive: Receive, scope: Scope) -> None:
    """Read an unread request body so the connection stays usable (keep-alive) after an error."""
    if scope.get("method") in ("POST", "PUT", "PATCH") and not scope.get("geosvc_body_read"):
        with anyio.move_on_after(5):
            await _read_body(receive, scope)


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 200:
            message = dict(message, headers=[*message.get("headers", []), *extra])
        await send(message)

    return wrapped


async def _send(send: Send, status: int, body: bytes, content_type: str | None,
                extra: list[tuple[bytes, bytes]] = (), *, head_only: bool = False) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *extra]
    if content_type:
        headers.append((b"content-type", content_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head_only else body})
