"""Local services shaped exactly like ArcGIS REST and Socrata answers (neither can run here).

ArcGIS REST, per Esri's "Query (Feature Service/Layer)" reference and "Web feature layer query patterns"
(developers.arcgis.com/rest/services-reference/enterprise/query-feature-service-layer-.htm,
pro.arcgis.com/en/pro-app/latest/help/data/services/web-feature-layer-query-patterns.htm): the layer
resource (``?f=json``) declares ``maxRecordCount``, ``objectIdField``, ``advancedQueryCapabilities.
supportsPagination`` and ``editingInfo.lastEditDate`` (epoch ms); ``query`` pages with ``resultOffset`` /
``resultRecordCount`` (never more than ``maxRecordCount``) and says ``exceededTransferLimit: true`` while
more records remain (top-level in Esri JSON, under ``properties`` in GeoJSON); Esri JSON geometry is
``{x, y}`` in the layer's spatial reference (Web Mercator, wkid 102100 / latestWkid 3857 as ArcGIS
Online hosts); errors are HTTP 200 with an ``error`` object (498 Invalid Token).

Socrata SODA 2.x, per dev.socrata.com/docs/paging.html and /docs/queries: ``$limit`` (default 1000,
at most 50,000 on 2.0 endpoints) and ``$offset`` page the rows, ``$order=:id`` keeps pages stable; the
resource answers ``.geojson`` (every property a string) or ``.csv`` (quoted header, repeated on each page)
with ``X-SODA2-Fields``; ``/api/views/<4x4>.json`` is the dataset metadata with ``rowsUpdatedAt`` (epoch s);
the application token goes in ``X-App-Token``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field

from upstream import Upstream

JSON = {"Content-Type": "application/json; charset=utf-8"}


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    r = 6378137.0
    return r * math.radians(lon), r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


@dataclass
class ArcGISLayer:
    """A FeatureServer layer at ``/arcgis/rest/services/Sites/FeatureServer/0``."""

    upstream: Upstream
    features: list[dict]  # GeoJSON point features (properties id, name, value)
    last_edit: int = 1_717_200_000_000  # epoch ms
    max_record_count: int = 4
    token: str | None = None  # required X-Esri-Authorization bearer token, if set
    paging: bool = True  # advancedQueryCapabilities.supportsPagination (False: a pre-10.3 server)
    path: str = "/arcgis/rest/services/Sites/FeatureServer/0"

    def __post_init__(self):
        self.upstream.routes[self.path] = self._layer
        self.upstream.routes[self.path + "/query"] = self._query

    @property
    def url(self) -> str:
        return self.upstream.url(self.path)

    def _fields(self) -> list[dict]:
        return [{"name": "OBJECTID", "type": "esriFieldTypeOID", "alias": "OBJECTID"},
                {"name": "id", "type": "esriFieldTypeInteger", "alias": "id"},
                {"name": "name", "type": "esriFieldTypeString", "alias": "name", "length": 50},
                {"name": "value", "type": "esriFieldTypeInteger", "alias": "value"}]

    def _layer(self, query: dict) -> tuple[int, dict, bytes]:
        body = {
            "currentVersion": 11.1, "id": 0, "name": "Sites", "type": "Feature Layer",
            "geometryType": "esriGeometryPoint", "objectIdField": "OBJECTID", "globalIdField": "",
            "maxRecordCount": self.max_record_count, "standardMaxRecordCount": self.max_record_count,
            "supportedQueryFormats": "JSON, geoJSON, PBF", "capabilities": "Query",
            "advancedQueryCapabilities": {"supportsPagination": self.paging, "supportsOrderBy": self.paging},
            "editingInfo": {"lastEditDate": self.last_edit, "schemaLastEditDate": self.last_edit},
            "fields": self._fields(),
        }
        return 200, JSON, json.dumps(body).encode()

    def _query(self, query: dict) -> tuple[int, dict, bytes]:
        if self.token and self.upstream.last_headers.get("X-Esri-Authorization") != f"Bearer {self.token}":
            return 200, JSON, json.dumps({"error": {"code": 498, "message": "Invalid Token", "details": []}}).encode()
        if query.get("returnIdsOnly") == "true":  # not cut by maxRecordCount
            ids = list(range(1, len(self.features) + 1))
            return 200, JSON, json.dumps({"objectIdFieldName": "OBJECTID", "objectIds": ids}).encode()
        if "objectIds" in query:
            wanted = [int(i) for i in query["objectIds"].split(",")][:self.max_record_count]
            offset, rows = wanted[0] - 1, [self.features[i - 1] for i in wanted]
            more = len(wanted) < len(query["objectIds"].split(","))
        elif not self.paging and "resultOffset" in query:
            body = {"error": {"code": 400, "message": "Pagination is not supported.", "details": []}}
            return 200, JSON, json.dumps(body).encode()
        else:
            offset = int(query.get("resultOffset", 0))
            count = min(int(query.get("resultRecordCount", self.max_record_count)), self.max_record_count)
            rows = self.features[offset:offset + count]
            more = offset + len(rows) < len(self.features)
        if query.get("f") == "geojson":
            features = [{"type": "Feature", "id": offset + i + 1, "geometry": f["geometry"],
                         "properties": {"OBJECTID": offset + i + 1, **f["properties"]}} for i, f in enumerate(rows)]
            body = {"type": "FeatureCollection", "features": features}
            if more:
                body["properties"] = {"exceededTransferLimit": True}
        else:
            body = {
                "objectIdFieldName": "OBJECTID", "uniqueIdField": {"name": "OBJECTID", "isSystemMaintained": True},
                "globalIdFieldName": "", "geometryType": "esriGeometryPoint",
                "spatialReference": {"wkid": 102100, "latestWkid": 3857}, "fields": self._fields(),
                "features": [
                    {"attributes": {"OBJECTID": offset + i + 1, **f["properties"]},
                     "geometry": dict(zip(("x", "y"), _mercator(*f["geometry"]["coordinates"]), strict=True))}
                    for i, f in enumerate(rows)
                ],
            }
            if more:
                body["exceededTransferLimit"] = True
        return 200, JSON, json.dumps(body).encode()


@dataclass
class SocrataDataset:
    """A dataset ``abcd-1234`` at ``/resource/abcd-1234.{geojson,csv}`` with its view metadata."""

    upstream: Upstream
    features: list[dict]
    rows_updated_at: int = 1_717_000_000  # epoch s
    dataset: str = "abcd-1234"
    app_token: str | None = None
    pages: list[tuple[int, int]] = field(default_factory=list)  # ($offset, rows answered)

    def __post_init__(self):
        self.upstream.routes[f"/api/views/{self.dataset}.json"] = self._view
        self.upstream.routes[f"/resource/{self.dataset}.geojson"] = lambda q: self._rows(q, "geojson")
        self.upstream.routes[f"/resource/{self.dataset}.csv"] = lambda q: self._rows(q, "csv")

    @property
    def url(self) -> str:
        return self.upstream.url(f"/resource/{self.dataset}")

    def _view(self, query: dict) -> tuple[int, dict, bytes]:
        body = {"id": self.dataset, "name": "Sites", "assetType": "dataset", "rowsUpdatedAt": self.rows_updated_at,
                "viewLastModified": self.rows_updated_at}
        return 200, JSON, json.dumps(body).encode()

    def _rows(self, query: dict, fmt: str) -> tuple[int, dict, bytes]:
        if self.app_token and self.upstream.last_headers.get("X-App-Token") != self.app_token:
            body = {"code": "permission_denied", "error": True, "message": "Invalid app_token specified"}
            return 403, JSON, json.dumps(body).encode()
        limit = min(int(query.get("$limit", 1000)), 50_000)
        offset = int(query.get("$offset", 0))
        assert query.get("$order") == ":id", "unordered paging is not stable on Socrata"
        rows = self.features[offset:offset + limit]
        self.pages.append((offset, len(rows)))
        headers = {"X-SODA2-Fields": '["id","name","value","longitude","latitude"]'}
        if fmt == "geojson":
            features = [{"type": "Feature", "geometry": f["geometry"],
                         "properties": {k: str(v) for k, v in f["properties"].items()}} for f in rows]
            body = json.dumps({"type": "FeatureCollection", "features": features, "crs": {
                "type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}}).encode()
            return 200, {**headers, "Content-Type": "application/vnd.geo+json;charset=utf-8"}, body
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["id", "name", "value", "longitude", "latitude"])
        for f in rows:
            p, (x, y) = f["properties"], f["geometry"]["coordinates"]
            writer.writerow([p["id"], p["name"], p["value"], x, y])
        return 200, {**headers, "Content-Type": "text/csv; charset=UTF-8"}, buffer.getvalue().encode()
