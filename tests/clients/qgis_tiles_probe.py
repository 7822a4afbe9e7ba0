"""Render a collection's vector tiles (and optionally its OAPIF layer) in PyQGIS offscreen; print JSON.

Run with Debian's system python (PyQGIS 3.22), offscreen::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/clients/qgis_tiles_probe.py SPEC.json

``SPEC.json``::

    {"template": "http://127.0.0.1:PORT/ogc/collections/ct-towns/tiles/WebMercatorQuad/{z}/{y}/{x}",
     "layer": "ct-towns", "zmax": 14,
     "views": [{"name": "state", "center": [lon, lat], "zoom": 8, "size": [512, 384]}],
     "oapif": {"landing": "http://127.0.0.1:PORT/ogc", "typename": "ct-towns"},          (optional)
     "point": {"lonlat": [lon, lat], "attribute": "NAME", "value": "Hartford", "other": "Glastonbury"},
     "qlr": ["/path/a.qlr"], "png": "/tmp/out", "tiles": true}                                 (optional)

For each view it renders the tiles (QGIS' default vector-tile style) at the resolution of that
WebMercatorQuad zoom and reports the wall time and the share of non-background pixels (and the same
for the OAPIF layer when ``oapif`` is given). ``point`` renders a small view around the point with one
style filtered on ``attribute = value`` (red) and one on ``attribute = other`` (blue): QGIS decoded the
feature there with the right attribute if the centre pixel is red. Each ``qlr`` file is loaded with
``QgsLayerDefinition.loadLayerDefinition`` into the project and described.
"""

from __future__ import annotations

import json
import math
import sys
import time

RADIUS = 6378137.0
BACKGROUND = (255, 255, 255)


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    return RADIUS * math.radians(lon), RADIUS * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _settings(layer, center, zoom: int, size):
    from qgis.core import QgsCoordinateReferenceSystem, QgsMapSettings, QgsRectangle
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    x, y = _mercator(*center)
    resolution = 2 * math.pi * RADIUS / 256 / (1 << zoom)
    half_w, half_h = size[0] * resolution / 2, size[1] * resolution / 2
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setOutputSize(QSize(*size))
    settings.setOutputDpi(90.7142857)  # 0.28 mm pixels: the scale denominators of WebMercatorQuad
    settings.setExtent(QgsRectangle(x - half_w, y - half_h, x + half_w, y + half_h))
    settings.setBackgroundColor(QColor(*BACKGROUND))
    return settings


def _render(layer, center, zoom: int, size):
    from qgis.core import QgsMapRendererSequentialJob

    started = time.perf_counter()
    job = QgsMapRendererSequentialJob(_settings(layer, center, zoom, size))
    job.start()
    job.waitForFinished()
    return job.renderedImage(), round(time.perf_counter() - started, 3)


def _coverage(image) -> float:
    """Share of pixels that are not the background (sampled on a grid)."""
    painted = total = 0
    for px in range(0, image.width(), 4):
        for py in range(0, image.height(), 4):
            colour = image.pixelColor(px, py)
            total += 1
            painted += (colour.red(), colour.green(), colour.blue()) != BACKGROUND
    return round(painted / total, 4)


def _tiles_layer(spec: dict):
    from qgis.core import QgsVectorTileLayer

    return QgsVectorTileLayer(f"type=xyz&url={spec['template']}&zmax={spec.get('zmax', 14)}&zmin=0", spec["layer"])


def _views(spec: dict, layer, kind: str) -> dict:
    out = {}
    for view in spec.get("views", []):
        image, seconds = _render(layer, view["center"], view["zoom"], view.get("size", [512, 512]))
        out[view["name"]] = {"seconds": seconds, "coverage": _coverage(image)}
        if spec.get("png"):
            image.save(f"{spec['png']}-{kind}-{view['name']}.png")
    return out


def _point(spec: dict) -> dict:
    """Render around the point with two attribute-filtered styles; read the centre pixel."""
    from qgis.core import QgsFillSymbol, QgsVectorTileBasicRenderer, QgsVectorTileBasicRendererStyle, QgsWkbTypes

    point = spec["point"]
    layer = _tiles_layer(spec)
    styles = []
    for value, colour in ((point["value"], "255,0,0,255"), (point["other"], "0,0,255,255")):
        style = QgsVectorTileBasicRendererStyle(value, spec["layer"], QgsWkbTypes.PolygonGeometry)
        style.setFilterExpression(f"\"{point['attribute']}\" = '{value}'")
        style.setSymbol(QgsFillSymbol.createSimple({"color": colour, "outline_style": "no"}))
        styles.append(style)
    renderer = QgsVectorTileBasicRenderer()
    renderer.setStyles(styles)
    layer.setRenderer(renderer)
    image, _ = _render(layer, point["lonlat"], point.get("zoom", 12), [64, 64])
    centre = image.pixelColor(32, 32)
    return {"centre_rgb": [centre.red(), centre.green(), centre.blue()]}


def _qlr(path: str) -> dict:
    from qgis.core import QgsLayerDefinition, QgsProject

    project = QgsProject.instance()
    before = set(project.mapLayers())
    ok, message = QgsLayerDefinition.loadLayerDefinition(path, project, project.layerTreeRoot())
    added = [project.mapLayer(lid) for lid in set(project.mapLayers()) - before]
    return {"path": path, "loaded": ok, "message": message,
            "layers": [{"name": lyr.name(), "valid": lyr.isValid(), "provider": lyr.providerType(),
                        "type": int(lyr.type()), "features": lyr.featureCount() if hasattr(lyr, "featureCount") else None,
                        "in_tree": project.layerTreeRoot().findLayer(lyr.id()) is not None}
                       for lyr in added]}


def main(spec_path: str) -> int:
    from qgis.core import Qgis, QgsApplication, QgsVectorLayer

    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    app = QgsApplication([], False)
    app.initQgis()
    tiles = _tiles_layer(spec)
    result = {"qgis_version": Qgis.version(), "valid": tiles.isValid(), "zmax": tiles.sourceMaxZoom()}
    if tiles.isValid() and spec.get("tiles", True):  # "tiles": false renders only the OAPIF layer
        result["tiles"] = _views(spec, tiles, "tiles")
        if spec.get("point"):
            result["point"] = _point(spec)
    if spec.get("oapif"):
        oapif = spec["oapif"]
        layer = QgsVectorLayer(f"url='{oapif['landing']}' typename='{oapif['typename']}' pageSize='1000'",
                               oapif["typename"], "OAPIF")
        result["oapif"] = _views(spec, layer, "oapif") if layer.isValid() else {"error": "invalid OAPIF layer"}
    result["qlr"] = [_qlr(path) for path in spec.get("qlr", [])]
    print(json.dumps(result), flush=True)
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
