"""HTTP caching of published versions: validators, conditional requests, headers (RFC 9110/9111)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from email.utils import format_datetime, parsedate_to_datetime

from geosvc.store.base import PublishedLayer


def http_date(value: dt.datetime) -> str:
    """An IMF-fixdate (``Tue, 01 Dec 2026 22:15:00 GMT``)."""
    utc = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return format_datetime(utc.replace(microsecond=0), usegmt=True)


def entity_tags(header: str) -> set[str]:
    """The tags of an ``If-None-Match`` header (weak prefixes dropped: we compare weakly)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def not_modified(layer: PublishedLayer, headers: Mapping[str, str]) -> bool:
    """True when the request's validators match the version (``If-None-Match`` wins over ``-Since``)."""
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = entity_tags(inm)
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


def cache_headers(layer: PublishedLayer, *, private: bool = False) -> dict[str, str]:
    """Validators of a version; ``private`` answers (restricted layers) are never stored by shared caches."""
    return {
        "etag": layer.etag,
        "last-modified": http_date(layer.published_at),
        "cache-control": ("private" if private else "public") + ", max-age=0, must-revalidate",
    }
