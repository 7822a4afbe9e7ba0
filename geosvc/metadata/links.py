"""The service URLs of one published layer, shared by every metadata export."""

from __future__ import annotations

from dataclasses import dataclass

from geosvc.store.base import PublishedLayer

OGC_PATH = "/ogc"


@dataclass(frozen=True)
class LayerLinks:
    """Where a layer can be read: its OGC collection, its items or COG, its HTML page and metadata."""

    collection: str
    html: str
    items: str | None  # GeoJSON items (vector layers)
    cog: str | None  # the Cloud-Optimised GeoTIFF file (raster layers)
    iso19139: str
    registry: str


def layer_links(layer: PublishedLayer, base_url: str) -> LayerLinks:
    """URLs of ``layer`` under the service root ``base_url`` (no trailing slash).

    >>> from geosvc.metadata.links import layer_links
    >>> import types
    >>> layer_links(types.SimpleNamespace(id="t", kind="raster"), "http://h").cog
    'http://h/ogc/collections/t/cog.tif'
    """
    collection = f"{base_url}{OGC_PATH}/collections/{layer.id}"
    vector = layer.kind == "vector"
    return LayerLinks(
        collection=collection,
        html=f"{collection}?f=html",
        items=f"{collection}/items?f=json" if vector else None,
        cog=None if vector else f"{collection}/cog.tif",
        iso19139=f"{base_url}/registry/{layer.id}/iso19139.xml",
        registry=f"{base_url}/registry/{layer.id}",
    )
