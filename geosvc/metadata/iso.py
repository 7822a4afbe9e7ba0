"""Published layer -> ISO 19115 metadata as ISO 19139 XML, via a pygeometa MCF document."""

from __future__ import annotations

from typing import Any

from pygeometa.schemas.iso19139 import ISO19139OutputSchema

from geosvc.metadata.links import layer_links
from geosvc.store.base import PublishedLayer

TOPIC_CATEGORY = {
    "boundaries": "boundaries", "demographics": "society", "education": "society", "health": "health",
    "hazards": "environment", "environment": "environment", "transportation": "transportation",
    "economy": "economy", "elevation": "elevation", "water": "inlandWaters", "utilities": "utilitiesCommunication",
}
"""Record ``theme`` -> ISO 19115 MD_TopicCategoryCode (themes not listed get none)."""
MAINTENANCE = {"static": "notPlanned", "P1D": "daily", "P1W": "weekly", "P2W": "fortnightly", "P1M": "monthly",
               "P3M": "quarterly", "P6M": "biannually", "P1Y": "annually"}
"""Record ``update_cadence`` -> MD_MaintenanceFrequencyCode (other durations are ``irregular``)."""


def mcf(layer: PublishedLayer, base_url: str) -> dict[str, Any]:
    """The pygeometa metadata control file (MCF) of a published layer version."""
    record = layer.record
    links = layer_links(layer, base_url)
    published = layer.published_at.date().isoformat()
    identification: dict[str, Any] = {
        "language": "eng",
        "charset": "utf8",
        "title": {"en": record.title},
        "abstract": {"en": record.description or record.title},
        "dates": {"publication": published, **({"revision": record.last_updated.isoformat()}
                                              if record.last_updated else {})},
        "keywords": {"default": {"keywords": {"en": list(record.keywords) or [record.theme]},
                                 "keywords_type": "theme"}},
        "extents": {"spatial": [{"bbox": list(layer.bbox), "crs": 4326}]},
        "fees": "None",
        "accessconstraints": "otherRestrictions" if record.sensitivity == "public" else "restricted",
        "status": "onGoing" if record.update_cadence != "static" else "completed",
        "maintenancefrequency": MAINTENANCE.get(record.update_cadence, "irregular"),
        "url": links.html,
    }
    if record.theme in TOPIC_CATEGORY:
        identification["topiccategory"] = [TOPIC_CATEGORY[record.theme]]
    extent = record.temporal_extent
    if extent is not None and (extent.start or extent.end):
        identification["extents"]["temporal"] = [{"begin": extent.start.isoformat() if extent.start else None,
                                                  "end": extent.end.isoformat() if extent.end else None}]
    if record.license is not None:
        identification["license"] = {"name": record.license.name, "url": record.license.url or ""}
    if record.attribution:
        identification["rights"] = {"en": record.attribution}
    contact: dict[str, Any] = {}
    if record.contact is not None or record.publisher is not None:
        poc = {
            "organization": record.publisher.agency if record.publisher else None,
            "url": record.publisher.url if record.publisher else None,
            "individualname": record.contact.name if record.contact else None,
            "email": record.contact.email if record.contact else None,
        }
        poc = {k: v for k, v in poc.items() if v}
        # metadata contact (role "publisher"), resource point of contact and distributor: one desk
        contact = {"publisher": poc, "pointOfContact": poc, "distributor": poc}
    distribution = {
        "ogcapi": {"url": links.collection, "type": "OGC:API", "name": layer.id,
                   "description": {"en": "OGC API collection"}, "function": "information"},
        "download": {"url": links.items or links.cog, "type": "WWW:DOWNLOAD-1.0-http--download",
                     "name": layer.id, "description": {"en": "GeoJSON features" if links.items else "COG"},
                     "function": "download"},
    }
    return {
        "mcf": {"version": 1.0},
        "metadata": {
            "identifier": layer.id,
            "language": "en",
            "charset": "utf8",
            "hierarchylevel": "dataset",
            "datestamp": published,
            "dates": {"creation": published},
            "dataseturi": links.collection,
        },
        "spatial": {"datatype": "vector" if layer.kind == "vector" else "grid",
                    "geomtype": _geomtype(layer.geometry_type)},
        "identification": identification,
        "contact": contact,
        "distribution": distribution,
    }


def _geomtype(geometry_type: str | None) -> str:
    name = (geometry_type or "").removeprefix("Multi")
    return {"Point": "point", "LineString": "curve", "Polygon": "surface"}.get(name, "complex")


def iso19139(layer: PublishedLayer, base_url: str) -> str:
    """ISO 19139 XML of a published layer version (pygeometa's ``iso19139`` output schema)."""
    return ISO19139OutputSchema().write(mcf(layer, base_url))
