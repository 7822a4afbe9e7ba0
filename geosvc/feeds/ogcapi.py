"""``kind: ogcapi``: an OGC API Features collection on another server, paged by following ``next`` links."""

from __future__ import annotations

from geosvc.feeds.base import FeedError, Fetched, FetchJob
from geosvc.feeds.pages import DEFAULT_PAGE, MAX_PAGES, write_collection

GEOJSON = "application/geo+json"


def items_url(url: str, collection: str | None) -> str:
    """The collection's ``/items`` URL from the record's ``url`` (API root + ``collection``, or the collection)."""
    base = url.rstrip("/")
    if collection:
        base = f"{base}/collections/{collection}"
    return base if base.endswith("/items") else f"{base}/items"


def _next(page: dict) -> str | None:
    for link in page.get("links") or []:
        if link.get("rel") == "next" and link.get("type", GEOJSON) in (GEOJSON, "application/json"):
            return link.get("href")
    return None


def fetch(job: FetchJob) -> Fetched:
    """Every feature of the collection (``limit`` = ``page_size``), following ``next`` links to the end."""
    url = items_url(job.source.url, job.source.collection)
    params: dict | None = {"limit": job.source.page_size or DEFAULT_PAGE, "f": "json"}
    features: list[dict] = []
    seen: set[str] = set()
    pages = 0
    while url:
        job.check()
        if url in seen or pages >= MAX_PAGES:
            raise FeedError(f"paging of {url} does not end (a 'next' link repeats)", layer=job.record.id)
        seen.add(url)
        page = job.http.json(url, params=params, headers={"Accept": f"{GEOJSON}, application/json"})
        if not isinstance(page, dict) or page.get("type") != "FeatureCollection":
            raise FeedError(f"GET {url}: not a GeoJSON FeatureCollection", layer=job.record.id)
        features += page.get("features") or []
        pages += 1
        url, params = _next(page), None  # a next link carries its own query
    path = job.staging / "features.geojson"
    sha = write_collection(path, features)
    return Fetched(path=path, sha256=sha, detail={"pages": pages, "features": len(features)})
