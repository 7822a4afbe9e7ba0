"""Published layers -> a DCAT-US 1.1 catalog (the ``/data.json`` that data.gov and CKAN harvest).

Follows the non-federal DCAT-US 1.1 schema (Project Open Data): federal-only fields such as
``bureauCode`` and ``programCode`` are left out.
"""

from __future__ import annotations

from typing import Any

from geosvc.metadata.links import layer_links
from geosvc.records.models import LayerRecord
from geosvc.store.base import PublishedLayer

CONFORMS_TO = "https://project-open-data.cio.gov/v1.1/schema"
CONTEXT = "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld"
DESCRIBED_BY = "https://project-open-data.cio.gov/v1.1/schema/catalog.json"
OGC_FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
OGC_COVERAGES = "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/core"
ACCESS_LEVEL = {"public": "public", "restricted": "restricted public"}
"""Record ``sensitivity`` -> DCAT-US ``accessLevel`` (an unknown sensitivity is ``non-public``)."""


def access_level(record: LayerRecord) -> str:
    """``public``, ``restricted public`` or ``non-public`` from the record's sensitivity."""
    return ACCESS_LEVEL.get(record.sensitivity, "non-public")


def _temporal(record: LayerRecord) -> str | None:
    extent = record.temporal_extent
    if extent is None or extent.start is None or extent.end is None:
        return None  # DCAT-US wants both ends ("start/end")
    return f"{extent.start.isoformat()}/{extent.end.isoformat()}"


def _distributions(layer: PublishedLayer, base_url: str) -> list[dict[str, Any]]:
    links = layer_links(layer, base_url)
    api = {"@type": "dcat:Distribution", "title": "OGC API collection", "accessURL": links.collection,
           "format": "OGC API", "mediaType": "application/json",
           "conformsTo": OGC_FEATURES if layer.kind == "vector" else OGC_COVERAGES}
    if layer.kind == "vector":
        download = {"@type": "dcat:Distribution", "title": "Features (GeoJSON, paged)",
                    "downloadURL": links.items, "mediaType": "application/geo+json", "format": "GeoJSON"}
    else:
        download = {"@type": "dcat:Distribution", "title": "Cloud-Optimised GeoTIFF",
                    "downloadURL": links.cog, "mediaType": "image/tiff", "format": "COG"}
    iso = {"@type": "dcat:Distribution", "title": "ISO 19139 metadata", "downloadURL": links.iso19139,
           "mediaType": "application/xml", "format": "ISO 19139",
           "conformsTo": "http://www.isotc211.org/2005/gmd"}
    return [api, download, iso]


def dataset(layer: PublishedLayer, base_url: str) -> dict[str, Any]:
    """One DCAT-US ``dcat:Dataset`` for a published layer version."""
    record = layer.record
    links = layer_links(layer, base_url)
    modified = record.last_updated.isoformat() if record.last_updated else layer.published_at.date().isoformat()
    entry: dict[str, Any] = {
        "@type": "dcat:Dataset",
        "identifier": links.collection,
        "title": record.title,
        "description": record.description or record.title,
        "keyword": list(record.keywords) or [record.theme],
        "modified": modified,
        "issued": layer.published_at.date().isoformat(),
        "accessLevel": access_level(record),
        "spatial": ",".join(f"{v:.6f}" for v in layer.bbox),  # west,south,east,north in CRS84
        "theme": [record.theme],
        "landingPage": links.html,
        "distribution": _distributions(layer, base_url),
        "conformsTo": OGC_FEATURES if layer.kind == "vector" else OGC_COVERAGES,
    }
    if record.publisher is not None:
        entry["publisher"] = {"@type": "org:Organization", "name": record.publisher.agency}
    if record.contact is not None:
        entry["contactPoint"] = {"@type": "vcard:Contact", "fn": record.contact.name,
                                 "hasEmail": f"mailto:{record.contact.email}"}
    if record.license is not None and record.license.url:
        entry["license"] = record.license.url
    if record.license is not None or record.attribution:
        rights = "; ".join(x for x in (record.license.name if record.license else None, record.attribution) if x)
        entry["rights"] = rights[:255]
    if record.update_cadence != "static":
        entry["accrualPeriodicity"] = f"R/{record.update_cadence}"
    if (temporal := _temporal(record)) is not None:
        entry["temporal"] = temporal
    return entry


def catalog(layers: list[PublishedLayer], base_url: str) -> dict[str, Any]:
    """The DCAT-US 1.1 catalog of ``layers`` (the ones the caller may see).

    A record without a publisher or contact yields a dataset without ``publisher`` / ``contactPoint``
    (both required by DCAT-US): the export never invents them, so the validator reports the gap.
    """
    return {
        "@context": CONTEXT,
        "@id": f"{base_url}/data.json",
        "@type": "dcat:Catalog",
        "conformsTo": CONFORMS_TO,
        "describedBy": DESCRIBED_BY,
        "dataset": [dataset(layer, base_url) for layer in layers],
    }
