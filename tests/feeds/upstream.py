"""A real threaded HTTP server on 127.0.0.1 standing in for remote sources.

Files are served from memory with a strong ETag and a Last-Modified date, and conditional requests
(If-None-Match, If-Modified-Since) are honoured with 304s, which are counted. Routes can also be
functions of the query (for the ArcGIS- and Socrata-shaped services), and any path can be told to
fail with a status or to stall longer than the client's timeout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import http.server
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

Route = Callable[[dict[str, str]], tuple[int, dict[str, str], bytes]]


@dataclass
class Upstream:
    """State of the server: what it serves and what it saw."""

    base_url: str = ""
    files: dict[str, tuple[bytes, dt.datetime, str]] = field(default_factory=dict)  # path -> body, mtime, type
    routes: dict[str, Route] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)  # path -> status to answer instead
    stall: dict[str, float] = field(default_factory=dict)  # path -> seconds to sleep before answering
    hits: Counter = field(default_factory=Counter)  # path -> requests
    not_modified: Counter = field(default_factory=Counter)  # path -> 304s answered
    queries: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    last_headers: dict[str, str] = field(default_factory=dict)  # of the latest request
    active: int = 0  # requests being answered now
    most_active: int = 0  # the most answered at once
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, path: str, body: bytes, content_type: str = "application/octet-stream",
            modified: dt.datetime | None = None) -> None:
        """Serve ``body`` at ``path`` from now on (a new ETag; Last-Modified = ``modified`` or now)."""
        stamp = (modified or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        self.files[path] = (body, stamp, content_type)

    def put_json(self, path: str, value, content_type: str = "application/geo+json", **kw) -> None:
        self.put(path, json.dumps(value).encode(), content_type, **kw)

    def url(self, path: str) -> str:
        return self.base_url + path


def _handler(state: Upstream):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - http.server's name
            with state.lock:
                state.active += 1
                state.most_active = max(state.most_active, state.active)
            try:
                self._answer()
            finally:
                with state.lock:
                    state.active -= 1

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            state.hits[path] += 1
            state.queries.append((path, query))
            state.last_headers = dict(self.headers.items())
            if path in state.stall:
                time.sleep(state.stall[path])
            if path in state.fail:
                return self._send(state.fail[path], {"Content-Type": "text/plain"}, b"upstream broken")
            if path in state.routes:
                return self._send(*state.routes[path](query))
            if path not in state.files:
                return self._send(404, {"Content-Type": "text/plain"}, b"not found")
            body, modified, content_type = state.files[path]
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            headers = {"ETag": etag, "Last-Modified": email.utils.format_datetime(modified, usegmt=True)}
            if_none = self.headers.get("If-None-Match")
            if_since = self.headers.get("If-Modified-Since")
            fresh = (if_none == etag) if if_none else (
                if_since is not None and email.utils.parsedate_to_datetime(if_since) >= modified)
            if fresh:
                state.not_modified[path] += 1
                return self._send(304, headers)
            return self._send(200, {**headers, "Content-Type": content_type}, body)

    return Handler


@contextlib.contextmanager
def threaded_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[http.server.ThreadingHTTPServer]:
    """A threaded HTTP server on a free 127.0.0.1 port, serving in the background until exit."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def serving() -> Iterator[Upstream]:
    """Start the upstream on a free port; stop it on exit."""
    state = Upstream()
    with threaded_server(_handler(state)) as server:
        state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        yield state
