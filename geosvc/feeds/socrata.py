"""``kind: socrata``: a Socrata (Tyler Data & Insights) dataset, as data.ct.gov publishes them.

The dataset's view metadata (``/api/views/<id>.json``) gives ``rowsUpdatedAt``: an unchanged value ends the
sync as not modified without a download. Rows come from the SODA resource in pages of ``$limit`` rows at
``$offset``, ordered by ``:id`` so that pages are stable, until a page comes back short; as GeoJSON
(default) or CSV (then ``source.csv`` names the x/y columns).
"""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlsplit

from geosvc.feeds.base import FeedError, Fetched, FetchJob, NotModified, utc_from_epoch
from geosvc.feeds.pages import DEFAULT_PAGE, MAX_PAGES, stage, write_collection

DATASET = re.compile(r"^(?P<root>.*?)/resource/(?P<id>[a-z0-9]{4}-[a-z0-9]{4})(?:\.(?:json|geojson|csv))?/?$")


def _rows_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def fetch(job: FetchJob) -> Fetched:
    layer_id = job.record.id
    match = DATASET.match(job.source.url.split("?", 1)[0])
    if match is None:
        raise FeedError(f"{job.source.url} is not a Socrata resource URL (…/resource/abcd-1234)", layer=layer_id)
    root, dataset = match["root"], match["id"]
    meta = job.http.json(f"{root}/api/views/{dataset}.json")
    updated = utc_from_epoch(meta.get("rowsUpdatedAt")) if isinstance(meta, dict) else None
    stamp = updated.isoformat() if updated else None
    if stamp and job.previous is not None and job.previous.source_updated == stamp and job.previous.sha256:
        raise NotModified({"source_updated": stamp})
    fmt = job.source.format or "geojson"
    limit = job.source.page_size or DEFAULT_PAGE
    resource = f"{root}/resource/{dataset}.{fmt}"
    features: list[dict] = []
    rows: list[list[str]] = []
    pages, offset = 0, 0
    while True:
        job.check()
        if pages >= MAX_PAGES:
            raise FeedError(f"{resource}: paging does not end", layer=layer_id)
        params = {"$limit": limit, "$offset": offset, "$order": ":id"}
        response, _, _ = job.http.request(resource, params=params)
        pages += 1
        if fmt == "csv":
            page = _rows_csv(response.text)
            header, batch = (page[0], page[1:]) if page else ([], [])
            if not rows:
                rows.append(header)
            elif header != rows[0]:
                raise FeedError(f"{resource}: CSV columns changed between pages", layer=layer_id)
            rows += batch
        else:
            try:
                batch = response.json().get("features") or []
            except (ValueError, AttributeError) as exc:
                raise FeedError(f"{resource}: not a GeoJSON FeatureCollection", layer=layer_id) from exc
            features += batch
        offset += len(batch)
        if len(batch) < limit:
            break
    detail = {"pages": pages, "features": offset, "source_updated": stamp, "dataset": dataset,
              "host": urlsplit(root).netloc}
    if fmt == "csv":
        path = job.staging / f"{dataset}.csv"
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        sha = stage(path, buffer.getvalue().encode())
    else:
        path = job.staging / f"{dataset}.geojson"
        sha = write_collection(path, features)
    return Fetched(path=path, sha256=sha, source_updated=updated, detail=detail)
