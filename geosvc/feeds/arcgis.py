"""``kind: arcgis``: an ArcGIS REST FeatureServer / MapServer layer, as state GIS hubs publish them.

The layer's metadata (``?f=json``) gives ``maxRecordCount``, the object-id field and
``editingInfo.lastEditDate``: an unchanged edit date ends the sync as not modified without a download.
Features come from ``query`` pages (``resultOffset`` / ``resultRecordCount``, ordered by object id) while
the answer says ``exceededTransferLimit``, or, where the layer does not declare
``advancedQueryCapabilities.supportsPagination`` (servers before 10.3), by ``objectIds`` in pages after
a ``returnIdsOnly`` query (which the record limit does not cut); ``format: json`` keeps Esri JSON geometry (read by GDAL's
ESRIJSON driver) in the layer's own spatial reference, ``geojson`` asks for lon/lat GeoJSON.
ArcGIS reports errors as HTTP 200 with an ``error`` body; those fail the sync.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from geosvc.feeds.base import FeedError, Fetched, FetchJob, NotModified, utc_from_epoch
from geosvc.feeds.pages import DEFAULT_PAGE, MAX_PAGES, stage_json, write_collection


def _checked(body: Any, url: str, layer_id: str) -> dict:
    if not isinstance(body, dict):
        raise FeedError(f"{url}: answer is not a JSON object", layer=layer_id)
    if "error" in body:
        error = body["error"] or {}
        raise FeedError(f"{url}: ArcGIS error {error.get('code', '?')}: {error.get('message', '')}".strip(), layer=layer_id)
    return body


def _exceeded(page: dict) -> bool:
    """``exceededTransferLimit`` is top-level in Esri JSON and under ``properties`` in GeoJSON answers."""
    return bool(page.get("exceededTransferLimit") or (page.get("properties") or {}).get("exceededTransferLimit"))


def _by_offset(job: FetchJob, url: str, params: dict, oid: str | None, page_size: int) -> Iterator[dict]:
    """Pages of ``resultRecordCount`` at ``resultOffset``, ordered by object id, while the limit is exceeded."""
    params = {**params, "resultRecordCount": page_size, **({"orderByFields": oid} if oid else {})}
    offset = 0
    for _ in range(MAX_PAGES):
        job.check()
        page = _checked(job.http.json(f"{url}/query", params={**params, "resultOffset": offset}), f"{url}/query",
                        job.record.id)
        yield page
        batch = page.get("features") or []
        offset += len(batch)
        if not batch or not _exceeded(page):
            return
    raise FeedError(f"{url}/query: paging does not end", layer=job.record.id)


def _by_ids(job: FetchJob, url: str, params: dict, page_size: int) -> Iterator[dict]:
    """Without pagination (older servers): every object id first (not limited), then pages of ids."""
    ids = _checked(job.http.json(f"{url}/query", params={"where": "1=1", "returnIdsOnly": "true", "f": "json"}),
                   f"{url}/query", job.record.id)
    object_ids = sorted(ids.get("objectIds") or [])
    for start in range(0, len(object_ids), page_size):
        job.check()
        chunk = ",".join(str(i) for i in object_ids[start:start + page_size])
        yield _checked(job.http.json(f"{url}/query", params={**params, "objectIds": chunk}), f"{url}/query",
                       job.record.id)


def fetch(job: FetchJob) -> Fetched:
    url = job.source.url.rstrip("/")
    layer_id = job.record.id
    meta = _checked(job.http.json(url, params={"f": "json"}), url, layer_id)
    edited = (meta.get("editingInfo") or {}).get("lastEditDate")
    updated = utc_from_epoch(edited, millis=True)
    stamp = updated.isoformat() if updated else None
    if stamp and job.previous is not None and job.previous.source_updated == stamp and job.previous.sha256:
        raise NotModified({"source_updated": stamp})
    oid = meta.get("objectIdField") or next(
        (f["name"] for f in meta.get("fields") or [] if f.get("type") == "esriFieldTypeOID"), None)
    page_size = min(job.source.page_size or DEFAULT_PAGE, int(meta.get("maxRecordCount") or DEFAULT_PAGE))
    fmt = job.source.format or "geojson"
    params: dict[str, Any] = {"where": "1=1", "outFields": "*", "returnGeometry": "true", "f": fmt}
    if fmt == "geojson":
        params["outSR"] = 4326
    paged = (meta.get("advancedQueryCapabilities") or {}).get("supportsPagination", False)
    query = _by_offset(job, url, params, oid, page_size) if paged else _by_ids(job, url, params, page_size)
    features: list[dict] = []
    head: dict = {}
    pages = 0
    for page in query:
        if not head:
            head = {k: v for k, v in page.items() if k not in ("features", "exceededTransferLimit", "properties")}
        features += page.get("features") or []
        pages += 1
    detail = {"pages": pages, "features": len(features), "page_size": page_size, "source_updated": stamp,
              "paging": "resultOffset" if paged else "objectIds"}
    if fmt == "geojson":
        path = job.staging / "features.geojson"
        sha = write_collection(path, features)
    else:
        path = job.staging / "features.json"
        sha = stage_json(path, {**head, "features": features})
    return Fetched(path=path, sha256=sha, source_updated=updated, detail=detail)
