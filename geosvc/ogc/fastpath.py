"""ASGI middleware ahead of the pygeoapi mount: JSON items pages, conformance, OpenAPI and HTTP caching.

pygeoapi's items route spends ~70 ms per 100 tracts in its stdlib JSON serializer, so JSON/GeoJSON
items and single items are answered here from a :class:`~geosvc.ogc.index.LayerIndex` by joining
pre-encoded features. HTML (``f=html`` or a browser's Accept) and every other path fall through to
pygeoapi, whose provider uses the same query engine (:mod:`geosvc.ogc.query`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qsl, quote, urlencode

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geosvc.errors import GeosvcError, InvalidParameter
from geosvc.ogc.exceptions import error_response_parts, exception_body
from geosvc.ogc.index import IndexCache
from geosvc.ogc.gzipjoin import deflate_piece, gzip_join
from geosvc.ogc.query import (
    ItemsQuery,
    is_plain,
    parse_item_params,
    parse_items_query,
    render_feature,
    render_features,
    select,
)
from geosvc.store.base import PublishedLayer

_METADATA = re.compile(r"^/ogc/collections/([^/]+)(?:/queryables|/schema)?/?$")
METADATA_PARAMS = frozenset({"f", "lang"})
_COLLECTION = re.compile(r"^/ogc/collections/([^/]+)(/items(?:/([^/]+))?)?/?$")
GEOJSON = "application/geo+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
GZIP_MIN = 1024  # as GZipMiddleware's minimum_size in geosvc.api.app


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
    json_at = min((accept.find(t) for t in ("json",) if t in accept), default=len(accept) + 1)
    return accept.find("text/html") < json_at


def _http_date(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return format_datetime(value.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def _not_modified(layer: PublishedLayer, headers: dict[str, str]) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or layer.etag in tags
    ims = headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        published = layer.published_at if layer.published_at.tzinfo else layer.published_at.replace(tzinfo=dt.UTC)
        return since is not None and since.tzinfo is not None and published.replace(microsecond=0) <= since
    return False


def _cache_headers(layer: PublishedLayer) -> list[tuple[bytes, bytes]]:
    return [
        (b"etag", layer.etag.encode()),
        (b"last-modified", _http_date(layer.published_at).encode()),
        (b"cache-control", b"public, max-age=0, must-revalidate"),
    ]


class OgcFastPath:
    """Pure ASGI middleware; see module docstring."""

    def __init__(self, app: ASGIApp, *, cache: IndexCache, layers: dict[str, PublishedLayer],
                 base_url: str, serve_crs: list[str], documents: OgcDocuments):
        self.app = app
        self.cache = cache
        self.layers = layers  # every served collection (vector and raster), for caching headers
        self.base_url = base_url.rstrip("/") + "/ogc"
        self.serve_crs = serve_crs
        self.documents = documents

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/ogc":  # no 307 to /ogc/: QGIS drops the Accept header on redirects
            scope = dict(scope, path="/ogc/", raw_path=b"/ogc/")
            path = "/ogc/"
        if not path.startswith("/ogc/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query_string = scope.get("query_string", b"").decode("latin-1")
        pairs = parse_qsl(query_string, keep_blank_values=True)
        try:
            handled = await self._dispatch(scope, receive, send, path, pairs, headers)
        except GeosvcError as exc:
            status, body = error_response_parts(exc)
            await _send(send, status, body, "application/json")
            return
        if not handled:
            await self.app(scope, receive, send)

    async def _dispatch(self, scope, receive, send, path, pairs, headers) -> bool:
        method = scope["method"]
        params = dict(pairs)
        if method == "GET" and self._is_metadata_path(path):
            check_metadata_params(pairs)
        if path in ("/ogc/conformance", "/ogc/conformance/") and method == "GET":
            if wants_html(params, headers.get("accept", "")):
                return False
            await _send(send, 200, self.documents.conformance, "application/json")
            return True
        if path in ("/ogc/openapi", "/ogc/openapi/") and method == "GET":
            accept = headers.get("accept", "")
            if params.get("f") == "json" or ("openapi" in accept or "json" in accept) and params.get("f") != "html":
                await _send(send, 200, self.documents.openapi, OPENAPI_JSON)
                return True
            return False
        match = _COLLECTION.match(path)
        if match is None:
            return False
        layer = self.layers.get(match.group(1))
        if layer is None:
            return False
        is_items = match.group(2) is not None
        if is_items and method not in ("GET", "HEAD", "POST", "OPTIONS"):
            await _send(send, 405, exception_body("NoApplicableCode", f"{method} is not allowed; collections are read-only"),
                        "application/json", [(b"allow", b"GET, HEAD")])
            return True
        if method not in ("GET", "HEAD") and not (is_items and method == "POST" and match.group(3) is None):
            return False
        if method in ("GET", "HEAD") and _not_modified(layer, headers):
            await _send(send, 304, b"", None, _cache_headers(layer))
            return True
        vector = is_items and layer.id in self.cache.layers
        if not vector or wants_html(params, headers.get("accept", "")) or params.get("f") not in (None, "json", "geojson"):
            await self.app(scope, receive, _with_headers(send, _cache_headers(layer)))
            return True
        extra = [*_cache_headers(layer), (b"vary", b"Accept, Accept-Encoding")]
        if match.group(3) is not None:
            body, crs = self._item(layer.id, match.group(3), pairs)
        else:
            body_filter = await _read_body(receive) if method == "POST" else b""
            if body_filter:
                pairs = [*pairs, ("filter", body_filter.decode("utf-8", "replace")), ("filter-lang", "cql2-json")]
            body, crs, gzipped = self._items(layer.id, pairs, "gzip" in headers.get("accept-encoding", ""))
            if gzipped is not None:
                body = gzipped
                extra = [*extra, (b"content-encoding", b"gzip")]
        extra = [*extra, (b"content-crs", f"<{crs}>".encode())]
        await _send(send, 200, body, GEOJSON, extra, head_only=method == "HEAD")
        return True

    def _is_metadata_path(self, path: str) -> bool:
        if path.rstrip("/") in ("/ogc", "/ogc/conformance", "/ogc/collections"):
            return True
        match = _METADATA.match(path)
        return match is not None and match.group(1) in self.layers

    def _items(self, layer_id: str, pairs: list[tuple[str, str]], gzip_ok: bool) -> tuple[bytes, str, bytes | None]:
        index = self.cache.get(layer_id)
        query = parse_items_query(pairs, index, self.serve_crs)
        positions, matched = select(index, query)
        features = render_features(index, positions, query)
        head = orjson.dumps({
            "type": "FeatureCollection",
            "numberMatched": matched,
            "numberReturned": len(features),
            "timeStamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "links": self._items_links(layer_id, query, matched),
        })
        head = head[:-1] + b',"features":['
        body = b"%s%s]}" % (head, b",".join(features))
        gzipped = None
        if gzip_ok and is_plain(query) and len(positions) > 1 and len(body) >= GZIP_MIN:
            deflated = index.deflated()
            pieces = [deflate_piece(features[0], 1), *(deflated[i] for i in positions[1:])]
            gzipped = gzip_join(head, pieces, b"]}", body)
        return body, query.crs, gzipped

    def _items_links(self, layer_id: str, query: ItemsQuery, matched: int) -> list[dict]:
        uri = f"{self.base_url}/collections/{quote(layer_id)}/items"
        base = {k: v for k, v in query.passthrough.items() if k != "limit"}

        def href(offset: int | None, f: str | None = None) -> str:
            qs = dict(base, limit=str(query.limit))
            if offset:
                qs["offset"] = str(offset)
            if f:
                qs["f"] = f
            return f"{uri}?{urlencode(qs)}"

        links = [
            {"href": href(query.offset), "rel": "self", "type": GEOJSON, "title": "This document as GeoJSON"},
            {"href": href(query.offset, "html"), "rel": "alternate", "type": "text/html", "title": "This document as HTML"},
            {"href": f"{self.base_url}/collections/{quote(layer_id)}", "rel": "collection", "type": "application/json",
             "title": "The collection"},
        ]
        if not query.hits and query.offset + query.limit < matched:
            links.append({"href": href(query.offset + query.limit), "rel": "next", "type": GEOJSON, "title": "Next page"})
        if not query.hits and query.offset > 0:
            links.append({"href": href(max(query.offset - query.limit, 0)), "rel": "prev", "type": GEOJSON,
                          "title": "Previous page"})
        return links

    def _item(self, layer_id: str, fid: str, pairs: list[tuple[str, str]]) -> tuple[bytes, str]:
        index = self.cache.get(layer_id)
        crs = parse_item_params(pairs, self.serve_crs)
        position = index.locate(fid)
        feature = render_feature(index, position, crs)
        collection = f"{self.base_url}/collections/{quote(layer_id)}"
        links = orjson.dumps([
            {"href": f"{collection}/items/{quote(fid)}", "rel": "self", "type": GEOJSON, "title": "This feature"},
            {"href": f"{collection}/items/{quote(fid)}?f=html", "rel": "alternate", "type": "text/html",
             "title": "This feature as HTML"},
            {"href": collection, "rel": "collection", "type": "application/json", "title": "The collection"},
        ])
        return b'%s,"links":%s}' % (feature[:-1], links), crs


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks).strip()


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
