"""What a fetcher is given and returns, and how a fetch ends when it does not return a file."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geosvc.errors import GeosvcError

if TYPE_CHECKING:
    from geosvc.feeds.client import Http
    from geosvc.records.models import LayerRecord, Source


class FeedError(GeosvcError):
    """A remote source could not be fetched (network, HTTP status, a service error body, bad paging)."""

    http_status = 502


class Cancelled(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The fetch was abandoned because the process is stopping."""


@dataclass(frozen=True)
class Previous:
    """What the last successful sync of the layer saw (its validators and content checksum)."""

    version: int
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    source_updated: str | None = None  # the source's own modification stamp (ISO date-time)

    @classmethod
    def from_detail(cls, version: int, detail: dict[str, Any]) -> Previous:
        return cls(version, *(detail.get(k) for k in ("sha256", "etag", "last_modified", "source_updated")))


class NotModified(Exception):  # noqa: N818 - an outcome, not an error
    """The source says it has not changed since :class:`Previous` (HTTP 304, same edit date)."""

    def __init__(self, detail: dict[str, Any]):
        super().__init__("not modified")
        self.detail = detail


@dataclass
class FetchJob:
    """One fetch: the record, a private staging folder, what the last good sync saw, the HTTP client."""

    record: LayerRecord
    staging: Path
    previous: Previous | None
    http: Http
    cancel: threading.Event

    @property
    def source(self) -> Source:
        return self.record.source

    def check(self) -> None:
        """Raise :class:`Cancelled` when the process is stopping (called between pages and chunks)."""
        if self.cancel.is_set():
            raise Cancelled()


@dataclass(frozen=True)
class Fetched:
    """A fetched source staged as a local file that the sources reader can open."""

    path: Path
    sha256: str  # of the content (the file's bytes, or of all files of a shapefile)
    layer: str | None = None  # layer inside the staged file, if the reader must be told
    source_updated: dt.datetime | None = None  # when the source says it last changed
    detail: dict[str, Any] = field(default_factory=dict)  # validators, pages, feature count...


Fetcher = Callable[[FetchJob], Fetched]


def utc_from_epoch(value: float | int | None, *, millis: bool = False) -> dt.datetime | None:
    """An epoch stamp (seconds, or milliseconds as ArcGIS gives them) as an aware UTC date-time."""
    if value in (None, ""):
        return None
    return dt.datetime.fromtimestamp(float(value) / (1000 if millis else 1), dt.UTC)
