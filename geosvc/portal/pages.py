"""View models of the layer page and the explorer: fields with examples, history, OGC API links, choices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geosvc.store.base import PublishedLayer

EXAMPLE_CHARS = 40
POLYGONS = {"Polygon", "MultiPolygon"}
POINTS = {"Point", "MultiPoint"}


@dataclass(frozen=True)
class FieldRow:
    name: str
    type: str
    example: str


def examples(rows: list[dict[str, Any]], names: list[str]) -> dict[str, str]:
    """The first non-empty value of each field among ``rows``, as short text."""
    out = {}
    for name in names:
        value = next((row[name] for row in rows if row.get(name) not in (None, "") and row[name] == row[name]), None)
        if value is not None:
            text = str(value)
            out[name] = text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"
    return out


def fields(layer: PublishedLayer, example: dict[str, str]) -> list[FieldRow]:
    return [FieldRow(name, kind, example.get(name, "")) for name, kind in layer.fields.items()]


def history(versions: list[PublishedLayer]) -> list[dict[str, Any]]:
    """Published versions, newest first, with what publish did to each."""
    return [
        {"version": v.version, "published_at": v.published_at, "checksum": v.checksum[:12],
         "features": v.feature_count, "notes": v.notes or ["published as validated (no changes)"]}
        for v in reversed(versions)
    ]


def ogc_links(layer: PublishedLayer, base_url: str) -> dict[str, str]:
    """The OGC API URLs of ``layer`` that planners and GIS clients use."""
    ogc = f"{base_url}/ogc"
    collection = f"{ogc}/collections/{layer.id}"
    links = {"landing": ogc, "collection": collection}
    if layer.kind == "vector":
        links |= {"items": f"{collection}/items?f=json&limit=100", "queryables": f"{collection}/queryables"}
    else:
        links["coverage"] = f"{collection}/coverage"
    return links


def explorer_options(layers: list[PublishedLayer]) -> dict[str, Any]:
    """Layers the explorer offers in each role, and the groups each population layer carries."""
    def pick(kinds: set[str]) -> list[dict[str, str]]:
        return [{"id": x.id, "title": x.record.title} for x in layers
                if x.kind == "vector" and (x.geometry_type or "") in kinds]

    return {
        "hazards": pick(POLYGONS),
        "places": pick(POLYGONS),
        "facilities": pick(POINTS),
        "populations": [
            {"id": x.id, "title": x.record.title,
             "groups": [{"id": g.id, "label": g.label} for g in x.record.equity.groups]}
            for x in layers if x.record.equity is not None
        ],
    }
