"""Downloads of every served vector collection: GDAL-written files per version and QGIS layer files.

``/ogc/collections/{id}/downloads`` lists the formats with size and SHA-256 (generating what is not
cached yet, :mod:`geosvc.store.downloads`); ``/ogc/collections/{id}/downloads/{format}`` sends one with
``Content-Disposition`` naming layer and version, a strong ETag per version and format, and a
``Repr-Digest`` (RFC 9530) of the bytes. ``qlr`` and ``tiles.qlr`` are QGIS layer definitions of the
collection (OAPIF) and of its vector tiles. Layers come from the request's registry snapshot only.
"""

from __future__ import annotations

import base64
import hashlib

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse

from geosvc.ogc.config import MOUNT_PATH
from geosvc.ogc.httpcache import entity_tags
from geosvc.ogc.qlr import QLR_MEDIA_TYPE, features_qlr, tiles_qlr
from geosvc.ogc.tiles import audit_if_restricted, check_params, read_headers, tile_template, vector_collection
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer
from geosvc.store.downloads import DownloadCache, formats_for, lookup_format

QLR_FORMATS = {"qlr": "QGIS layer definition (OGC API Features)", "tiles.qlr": "QGIS layer definition (vector tiles)"}


def downloads_url(ogc_url: str, layer_id: str) -> str:
    """The downloads listing of a collection.

    >>> downloads_url("http://h/ogc", "ct-towns")
    'http://h/ogc/collections/ct-towns/downloads'
    """
    return f"{ogc_url}/collections/{layer_id}/downloads"


def add_download_links(config: dict, layers: list[PublishedLayer], settings: Settings) -> None:
    """Config extension (see :mod:`geosvc.api.app`): a downloads link on every vector collection."""
    ogc_url = settings.base_url + MOUNT_PATH
    for layer in layers:
        resource = config["resources"].get(layer.id)
        if layer.kind == "vector" and resource is not None:
            resource.setdefault("links", []).append(
                {"rel": "related", "type": "application/json",
                 "title": "Downloads: GeoPackage, GeoJSON, CSV, Shapefile, FlatGeobuf, QGIS layer file",
                 "href": downloads_url(ogc_url, layer.id)})


def download_etag(layer: PublishedLayer, key: str) -> str:
    return f'"{layer.etag[1:-1]}-{key}"'


def _digest(hex_sha256: str) -> str:
    return f"sha-256=:{base64.b64encode(bytes.fromhex(hex_sha256)).decode()}:"


def _headers(request: Request, layer: PublishedLayer, key: str, filename: str, sha256: str) -> dict[str, str]:
    return {**read_headers(request, layer),
            "etag": download_etag(layer, key), "repr-digest": _digest(sha256),
            "content-disposition": f'attachment; filename="{filename}"'}


def _qlr(request: Request, layer: PublishedLayer, key: str) -> bytes:
    ogc_url = request.app.state.settings.base_url + MOUNT_PATH
    if key == "qlr":
        return features_qlr(layer, ogc_url)
    return tiles_qlr(layer, tile_template(ogc_url, layer.id).replace(
        "{tileMatrix}/{tileRow}/{tileCol}", "{z}/{y}/{x}"))


def downloads_router(cache: DownloadCache, prefix: str = MOUNT_PATH) -> APIRouter:
    """Routes of the downloads (include before mounting pygeoapi at ``prefix``)."""
    router = APIRouter(prefix=prefix, tags=["downloads"])

    @router.get("/collections/{collection_id}/downloads", operation_id="getCollectionDownloads",
                summary="Download formats of a vector collection's current version, with sizes and SHA-256")
    def listing(collection_id: str, request: Request) -> dict:
        layer = vector_collection(request, collection_id)
        check_params(request, frozenset({"f"}), ("json",))
        base = downloads_url(request.app.state.settings.base_url + MOUNT_PATH, layer.id)
        entries = []
        for fmt in formats_for(layer):
            file = cache.get(layer, fmt)
            entries.append({"format": fmt.key, "title": fmt.title, "type": fmt.media_type, "href": f"{base}/{fmt.key}",
                            "filename": file.filename, "size": file.size, "sha256": file.sha256})
        for key, title in QLR_FORMATS.items():
            body = _qlr(request, layer, key)
            entries.append({"format": key, "title": title, "type": QLR_MEDIA_TYPE, "href": f"{base}/{key}",
                            "filename": f"{layer.id}-v{layer.version}.{key}", "size": len(body),
                            "sha256": hashlib.sha256(body).hexdigest()})
        return {"layer": layer.id, "version": layer.version, "published_at": layer.published_at.isoformat(),
                "downloads": entries, "links": [{"rel": "self", "type": "application/json", "href": base}]}

    @router.head("/collections/{collection_id}/downloads/{key}", include_in_schema=False)
    @router.get("/collections/{collection_id}/downloads/{key}", operation_id="getCollectionDownload",
                summary="One download of a vector collection's current version", response_class=Response)
    def download(collection_id: str, key: str, request: Request) -> Response:
        layer = vector_collection(request, collection_id)
        check_params(request, frozenset(), ())
        inm = request.headers.get("if-none-match")
        if inm is not None and ({"*", download_etag(layer, key)} & entity_tags(inm)):
            return Response(status_code=304, headers={"etag": download_etag(layer, key)})
        audit_if_restricted(request, layer)
        if key in QLR_FORMATS:
            body = _qlr(request, layer, key)
            filename = f"{layer.id}-v{layer.version}.{key}"
            return Response(body, media_type=QLR_MEDIA_TYPE,
                            headers=_headers(request, layer, key, filename, hashlib.sha256(body).hexdigest()))
        file = cache.get(layer, lookup_format(layer, key))
        return FileResponse(file.path, media_type=file.format.media_type,
                            headers=_headers(request, layer, key, file.filename, file.sha256))

    return router


def install_downloads(app: FastAPI, layers: list[PublishedLayer], settings: Settings) -> None:
    """App installer (see :mod:`geosvc.api.app`): the downloads routes, ahead of the pygeoapi mount."""
    app.include_router(downloads_router(DownloadCache(app.state.store, settings.store.dir / "downloads")))
