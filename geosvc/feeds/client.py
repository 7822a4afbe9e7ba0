"""The HTTP client of every feed: timeouts, retries with jittered exponential backoff (tenacity),
credentials from the environment, streamed downloads hashed on the way."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import httpx
import tenacity

from geosvc import __version__
from geosvc.feeds.base import Cancelled, FeedError
from geosvc.records.models import Credentials

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
TOKEN_HEADER = {"arcgis": ("X-Esri-Authorization", "Bearer {}"), "socrata": ("X-App-Token", "{}")}
CHUNK = 1 << 16
USER_AGENT = f"geosvc/{__version__} (sync)"


class RetryableStatus(Exception):
    """An HTTP status worth retrying (kept apart so that 4xx fail at once)."""

    def __init__(self, response: httpx.Response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def credentials(kind: str, creds: Credentials | None, layer_id: str) -> tuple[dict[str, str], tuple[str, str] | None]:
    """Headers and (user, password) for a source, read from the environment variables the record names."""
    if creds is None:
        return {}, None

    def env(name: str) -> str:
        value = os.environ.get(name)
        if not value:
            raise FeedError(f"credentials_env names {name}, which is not set in the environment", layer=layer_id)
        return value

    headers = {}
    if creds.token:
        header, template = TOKEN_HEADER.get(kind, ("Authorization", "Bearer {}"))
        headers[header] = template.format(env(creds.token))
    return headers, (env(creds.username), env(creds.password)) if creds.username else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RetryableStatus):
        return f"HTTP {exc.response.status_code} {exc.response.reason_phrase}".strip()
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class Http:
    """A pooled httpx client for one sync; :meth:`request` and :meth:`json` retry transient failures."""

    def __init__(self, *, timeout: float, retries: int, backoff: float, layer_id: str, cancel: threading.Event,
                 headers: dict[str, str] | None = None, userpwd: tuple[str, str] | None = None):
        self.layer_id = layer_id
        self.cancel = cancel
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.headers, self.userpwd = {"User-Agent": USER_AGENT, **(headers or {})}, userpwd
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout), follow_redirects=True, headers=self.headers,
            auth=httpx.BasicAuth(*userpwd) if userpwd else None,
        )
        self.retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((httpx.TransportError, RetryableStatus)),
            stop=tenacity.stop_after_attempt(retries + 1),
            wait=tenacity.wait_exponential_jitter(multiplier=backoff, max=60, jitter=backoff),
            sleep=self._sleep,
            reraise=True,
        )

    def _sleep(self, seconds: float) -> None:
        if self.cancel.wait(seconds):
            raise Cancelled()

    def close(self) -> None:
        self.client.close()

    def _send(self, method: str, url: str, *, stream_to: Path | None = None, **kwargs) -> tuple[httpx.Response, str, int]:
        if self.cancel.is_set():
            raise Cancelled()
        request = self.client.build_request(method, url, **kwargs)
        response = self.client.send(request, stream=True)
        try:
            if response.status_code in RETRY_STATUS:
                raise RetryableStatus(response)
            if response.status_code >= 400:
                raise FeedError(f"GET {url}: HTTP {response.status_code} {response.reason_phrase}", layer=self.layer_id)
            digest, size = hashlib.sha256(), 0
            if stream_to is not None and response.status_code == 200:
                with open(stream_to, "wb") as fh:
                    for chunk in response.iter_bytes(CHUNK):
                        if self.cancel.is_set():
                            raise Cancelled()
                        fh.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
            else:
                response.read()
            return response, digest.hexdigest(), size
        finally:
            response.close()

    def request(self, url: str, *, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                stream_to: Path | None = None) -> tuple[httpx.Response, str, int]:
        """GET ``url`` (retrying); returns the response, and with ``stream_to`` the file's sha256 and size.

        Raises :class:`FeedError` on a 4xx, or once retries of a timeout / connection error / 5xx are spent.
        """
        try:
            return self.retrying(self._send, "GET", url, params=params, headers=headers, stream_to=stream_to)
        except (httpx.TransportError, RetryableStatus) as exc:
            attempts = self.retrying.statistics.get("attempt_number", 1)
            raise FeedError(f"GET {url}: {_describe(exc)} (after {attempts} attempt(s))", layer=self.layer_id) from exc
        except httpx.HTTPError as exc:
            raise FeedError(f"GET {url}: {_describe(exc)}", layer=self.layer_id) from exc

    def json(self, url: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        """GET and parse a JSON body; an unparsable body is a :class:`FeedError`."""
        response, _, _ = self.request(url, params=params, headers=headers)
        try:
            return response.json()
        except ValueError as exc:
            raise FeedError(f"GET {response.url}: body is not JSON ({exc})", layer=self.layer_id) from exc
