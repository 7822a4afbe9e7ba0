"""``kind: arcgis``: an ArcGIS REST FeatureServer / MapServer layer, as state GIS hubs publish them.

The layer's metadata (``?f=json``) gives ``maxRecordCount``, the object-id field and
``editingInfo.lastEditDate``: an unchanged edit date ends the sync as not modified without a download.
Features come from ``query`` pages (``resultOffset`` / ``resultRecordCount``, ordered by object id) while
the answer says ``exceededTransferLimit``; ``format: json`` keeps Esri JSON geometry (read by GDAL's
ESRIJSON driver) in the layer's own spatial reference, ``geojson`` asks for lon/lat GeoJSON.
ArcGIS reports errors as HTTP 200 with an ``error`` body; those fail the sync.
"""

from __future__ import annotations

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


def fetch(job: FetchJob) -> Fetched:
    url = job.source.url.rstrip("/")
    layer_id = job.record.id
    meta = _checked(job.http.json(url, params={"f": "json"}), url, layer_id)
    edited = (meta.get("editingInfo") or {}).get("lastEditDate")
    updated = utc_from_epoch(edited, millis=True)
    stamp = updated.isoformat() if updated else None
    if stamp and job.previous is not None and job.previous.source_updated == stamp and job.previous.sha256:
        raise NotModified({"source_updated": stamp})
    if not (meta.get("advancedQueryCapabilities") or {}).get("supportsPagination", True):
        raise FeedError(f"{url}: layer does not support pagination (resultOffset)", layer=layer_id)
    oid = meta.get("objectIdField") or next(
        (f["name"] for f in meta.get("fields") or [] if f.get("type") == "esriFieldTypeOID"), None)
    page_size = min(job.source.page_size or DEFAULT_PAGE, int(meta.get("maxRecordCount") or DEFAULT_PAGE))
    fmt = job.source.format or "geojson"
    params: dict[str, Any] = {"where": "1=1", "outFields": "*", "returnGeometry": "true", "f": fmt,
                              "resultRecordCount": page_size}
    if oid:
        params["orderByFields"] = oid
    if fmt == "geojson":
        params["outSR"] = 4326
    features: list[dict] = []
    head: dict = {}
    pages, offset = 0, 0
    while True:
        job.check()
        if pages >= MAX_PAGES:
            raise FeedError(f"{url}/query: paging does not end", layer=layer_id)
        page = _checked(job.http.json(f"{url}/query", params={**params, "resultOffset": offset}), f"{url}/query", layer_id)
        batch = page.get("features") or []
        if not head:
            head = {k: v for k, v in page.items() if k not in ("features", "exceededTransferLimit", "properties")}
        features += batch
        pages += 1
        offset += len(batch)
        if not batch or not _exceeded(page):
            break
    detail = {"pages": pages, "features": len(features), "page_size": page_size, "source_updated": stamp}
    if fmt == "geojson":
        path = job.staging / "features.geojson"
        sha = write_collection(path, features)
    else:
        path = job.staging / "features.json"
        sha = stage_json(path, {**head, "features": features})
    return Fetched(path=path, sha256=sha, source_updated=updated, detail=detail)
