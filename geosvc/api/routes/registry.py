"""``/registry``: a small JSON view of the served layers (the searchable catalog is OGC Records)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from geosvc.api.served import served_layer, served_layers
from geosvc.metadata.links import layer_links
from geosvc.store.base import PublishedLayer


def layer_summary(layer: PublishedLayer, base_url: str) -> dict:
    """What a client needs to find a layer and its OGC collection."""
    record = layer.record
    return {
        "id": layer.id,
        "title": record.title,
        "kind": layer.kind,
        "theme": record.theme,
        "keywords": list(record.keywords),
        "version": layer.version,
        "published_at": layer.published_at.isoformat(),
        "feature_count": layer.feature_count,
        "geometry_type": layer.geometry_type,
        "bbox": list(layer.bbox),
        "license": record.license.name if record.license else None,
        "attribution": record.attribution,
        "links": [
            {"rel": "collection", "type": "application/json", "href": f"{base_url}/ogc/collections/{layer.id}"},
            {"rel": "self", "type": "application/json", "href": f"{base_url}/registry/{layer.id}"},
            {"rel": "describedby", "type": "application/xml", "title": "ISO 19139 metadata",
             "href": layer_links(layer, base_url).iso19139},
        ],
    }


def create_router() -> APIRouter:
    """Router with ``GET /registry`` and ``GET /registry/{layer_id}``."""
    router = APIRouter(prefix="/registry", tags=["registry"])

    @router.get("", operation_id="listLayers", summary="Served layers")
    def list_layers(request: Request) -> dict:
        base_url = request.app.state.settings.base_url
        return {"layers": [layer_summary(layer, base_url) for layer in served_layers(request)]}

    @router.get("/{layer_id}", operation_id="getLayer", summary="One served layer")
    def get_layer(layer_id: str, request: Request) -> dict:
        return layer_summary(served_layer(request, layer_id), request.app.state.settings.base_url)

    return router
