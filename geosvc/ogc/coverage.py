"""Raster layers: the OGC API Coverages resource (pygeoapi's rasterio provider) and the COG itself.

A published raster is a Cloud Optimized GeoTIFF. It is served twice: through pygeoapi's
``/collections/{id}/coverage`` (subsets, CoverageJSON, GeoTIFF), guarded by
:mod:`geosvc.ogc.coverage_guard`, and as the file itself at ``/collections/{id}/cog.tif`` with
HTTP range requests, which is what QGIS and GDAL (``/vsicurl/``) read best.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse

from geosvc.errors import NotFound, StoreError
from geosvc.ogc.config import MOUNT_PATH, layer_description, layer_extents, layer_links
from geosvc.ogc.coverage_guard import QueryGuard, coverage_check, coverage_path
from geosvc.ogc.httpcache import cache_headers, not_modified
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer, Store

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
GEOTIFF_MEDIA_TYPE = "image/tiff; application=geotiff"
COVERAGE_REL = "http://www.opengis.net/def/rel/ogc/1.0/coverage"
_COVERAGES = "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf"
CONFORMANCE = [
    f"{_COVERAGES}/{name}"
    for name in ("core", "oas30", "html", "geodata-coverage", "coverage-subset", "coverage-rangesubset", "coverage-bbox")
]
"""Coverages classes we honour (no ``coverage-datetime``: our rasters have no time axis)."""


def cog_href(ogc_url: str, layer_id: str) -> str:
    """Stable URL of a raster layer's published COG.

    >>> cog_href("http://h/ogc", "ct-population-density")
    'http://h/ogc/collections/ct-population-density/cog.tif'
    """
    return f"{ogc_url}/collections/{layer_id}/cog.tif"


def coverage_links(layer: PublishedLayer, ogc_url: str, source: str | None = None) -> list[dict]:
    """Links of a raster collection: the coverage (GeoTIFF) and the COG as an ``enclosure``."""
    enclosure = {
        "rel": "enclosure",
        "type": COG_MEDIA_TYPE,
        "title": f"{layer.record.title} (Cloud Optimized GeoTIFF, version {layer.version})",
        "href": cog_href(ogc_url, layer.id),
    }
    if source is not None and Path(source).is_file():
        enclosure["length"] = Path(source).stat().st_size
    return [
        {
            "rel": COVERAGE_REL,
            "type": GEOTIFF_MEDIA_TYPE,
            "title": f"{layer.record.title} (coverage, GeoTIFF)",
            "href": f"{ogc_url}/collections/{layer.id}/coverage?f=GTiff",
        },
        enclosure,
    ]


def coverage_provider(source: str) -> dict:
    """pygeoapi provider definition serving a COG (GDAL path or URL) as a coverage."""
    return {
        "type": "coverage",
        "name": "geosvc.ogc.coverage_provider.CogCoverageProvider",
        "data": source,
        "format": {"name": "GTiff", "mimetype": "application/tiff"},
    }


def raster_resource(layer: PublishedLayer, settings: Settings, store: Store) -> tuple[str, dict]:
    """pygeoapi collection of a raster layer (a ``resource_builders["raster"]`` of :mod:`geosvc.ogc.config`)."""
    record = layer.record
    source = store.raster_source(layer)
    return layer.id, {
        "type": "collection",
        "title": record.title,
        "description": layer_description(layer),
        "keywords": list(record.keywords) or [record.theme],
        "links": [*layer_links(layer), *coverage_links(layer, settings.base_url + MOUNT_PATH, source)],
        "extents": layer_extents(layer),
        "providers": [coverage_provider(source)],
    }


def coverage_router(prefix: str = MOUNT_PATH) -> APIRouter:
    """Router serving each raster's COG with range requests, ETag and ``304`` revalidation.

    The raster is looked up in the request's registry snapshot. Include the router in the app
    *before* mounting pygeoapi at ``prefix``, so its route wins.
    """
    router = APIRouter(prefix=prefix)

    @router.head("/collections/{collection_id}/cog.tif", include_in_schema=False)
    @router.get(
        "/collections/{collection_id}/cog.tif",
        operation_id="getCollectionCog",
        summary="The published Cloud Optimized GeoTIFF of a raster collection (HTTP range requests)",
        response_class=FileResponse,
        tags=["coverages"],
    )
    def get_cog(collection_id: str, request: Request) -> Response:
        layer = request.state.snapshot.layers.get(collection_id)
        if layer is None or layer.kind != "raster":
            raise NotFound(f"no raster collection '{collection_id}'", layer=collection_id)
        path = Path(request.app.state.store.raster_source(layer))
        if not path.is_file():
            raise StoreError(f"published file of version {layer.version} is missing", layer=layer.id)
        headers = cache_headers(layer)
        if not_modified(layer, request.headers):
            return Response(status_code=304, headers=headers)
        if layer.id in request.state.snapshot.restricted:
            request.app.state.audit_read(request.scope, layer, None)
        return FileResponse(
            path,
            media_type=COG_MEDIA_TYPE,
            headers=headers,
            filename=f"{layer.id}-v{layer.version}.tif",
            content_disposition_type="inline",
        )

    return router


def install_coverage(app: FastAPI, layers: list[PublishedLayer], settings: Settings) -> None:
    """Add the COG routes and the coverage parameter guard to ``app`` (call before mounting pygeoapi)."""
    app.include_router(coverage_router())
    app.add_middleware(QueryGuard, checks=[(coverage_path(MOUNT_PATH), coverage_check(app.state.store, settings.crs.serve))])
