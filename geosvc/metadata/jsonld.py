"""Published layer -> schema.org ``Dataset`` JSON-LD (embedded in the layer's HTML page for search engines)."""

from __future__ import annotations

from typing import Any

from geosvc.metadata.links import layer_links
from geosvc.store.base import PublishedLayer


def dataset_jsonld(layer: PublishedLayer, base_url: str) -> dict[str, Any]:
    """schema.org Dataset with a GeoShape box, temporal coverage, DataDownload distributions and licence."""
    record = layer.record
    links = layer_links(layer, base_url)
    west, south, east, north = layer.bbox
    doc: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": links.collection,
        "name": record.title,
        "description": record.description or record.title,
        "url": links.html,
        "identifier": layer.id,
        "keywords": list(record.keywords) or [record.theme],
        "version": str(layer.version),
        "datePublished": layer.published_at.date().isoformat(),
        "isAccessibleForFree": True,
        # schema.org GeoShape box: "south west north east" (lat lon lat lon)
        "spatialCoverage": {"@type": "Place", "geo": {"@type": "GeoShape", "box": f"{south} {west} {north} {east}"}},
        "distribution": [
            {"@type": "DataDownload", "contentUrl": links.items or links.cog,
             "encodingFormat": "application/geo+json" if links.items else "image/tiff"},
            {"@type": "DataDownload", "contentUrl": links.iso19139, "encodingFormat": "application/xml"},
        ],
    }
    if record.last_updated is not None:
        doc["dateModified"] = record.last_updated.isoformat()
    extent = record.temporal_extent
    if extent is not None and (extent.start or extent.end):
        doc["temporalCoverage"] = "/".join(d.isoformat() if d else ".." for d in (extent.start, extent.end))
    if record.license is not None:
        doc["license"] = record.license.url or record.license.name
    if record.publisher is not None:
        doc["publisher"] = {"@type": "Organization", "name": record.publisher.agency,
                            **({"url": record.publisher.url} if record.publisher.url else {})}
    if record.contact is not None:
        doc["creator"] = {"@type": "Organization", "name": record.contact.name,
                          "contactPoint": {"@type": "ContactPoint", "email": record.contact.email}}
    if record.attribution:
        doc["creditText"] = record.attribution
    return doc
