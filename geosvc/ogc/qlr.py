"""QGIS layer definition files (``.qlr``, QGIS 3.x) that add a served collection to QGIS in one click.

Two flavours: the collection through QGIS' OGC API Features provider (``OAPIF``; every feature with its
attributes), or its vector tiles (``vector-tile`` layer from the XYZ template; fast at any zoom).
"""

from __future__ import annotations

from urllib.parse import quote
from xml.etree import ElementTree as ET

from geosvc.store.base import PublishedLayer

QLR_MEDIA_TYPE = "application/x-qgis-layer-definition+xml"
PAGE_SIZE = 1000
TILES_MAX_ZOOM = 14  # QGIS overzooms the deepest level it is told about


def _geometry(layer: PublishedLayer) -> tuple[str, str]:
    kind = (layer.geometry_type or "").lower()
    name = "Point" if "point" in kind else "Line" if "line" in kind else "Polygon"
    return name, layer.geometry_type or name


def _document(layer: PublishedLayer, layer_xml_id: str, name: str, source: str, provider: str,
              attributes: dict[str, str]) -> bytes:
    root = ET.Element("qlr")
    group = ET.SubElement(root, "layer-tree-group", {"expanded": "1", "checked": "Qt::Checked", "name": ""})
    ET.SubElement(group, "customproperties")
    node = ET.SubElement(group, "layer-tree-layer", {"expanded": "1", "checked": "Qt::Checked", "id": layer_xml_id,
                                                     "name": name, "source": source, "providerKey": provider})
    ET.SubElement(node, "customproperties")
    maplayers = ET.SubElement(root, "maplayers")
    maplayer = ET.SubElement(maplayers, "maplayer", attributes)
    ET.SubElement(maplayer, "id").text = layer_xml_id
    ET.SubElement(maplayer, "datasource").text = source
    ET.SubElement(maplayer, "layername").text = name
    ET.SubElement(ET.SubElement(maplayer, "srs"), "spatialrefsys").append(_authid(attributes))
    abstract = layer.record.description or layer.record.title
    metadata = ET.SubElement(maplayer, "resourceMetadata")
    ET.SubElement(metadata, "identifier").text = f"{layer.id} v{layer.version}"
    ET.SubElement(metadata, "title").text = layer.record.title
    ET.SubElement(metadata, "abstract").text = abstract
    if provider:
        ET.SubElement(maplayer, "provider", {"encoding": ""}).text = provider
    ET.indent(root)
    return b"<!DOCTYPE qgis-layer-definition>\n" + ET.tostring(root, encoding="utf-8") + b"\n"


def _authid(attributes: dict[str, str]) -> ET.Element:
    element = ET.Element("authid")
    element.text = "EPSG:3857" if attributes["type"] == "vector-tile" else "OGC:CRS84"
    return element


def features_qlr(layer: PublishedLayer, ogc_url: str) -> bytes:
    """A ``.qlr`` for the collection through QGIS' OAPIF provider."""
    source = f"url='{ogc_url}' typename='{layer.id}' pageSize='{PAGE_SIZE}'"
    geometry, wkb_type = _geometry(layer)
    return _document(layer, f"{layer.id}_v{layer.version}_oapif".replace("-", "_"), layer.record.title, source,
                     "OAPIF", {"type": "vector", "geometry": geometry, "wkbType": wkb_type})


def tiles_qlr(layer: PublishedLayer, template: str) -> bytes:
    """A ``.qlr`` for the collection's vector tiles (``template`` with ``{z}``, ``{y}``, ``{x}``)."""
    source = f"type=xyz&url={quote(template, safe=':/{}')}&zmax={TILES_MAX_ZOOM}&zmin=0"
    return _document(layer, f"{layer.id}_v{layer.version}_tiles".replace("-", "_"),
                     f"{layer.record.title} (vector tiles)", source, "", {"type": "vector-tile"})
