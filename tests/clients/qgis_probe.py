"""Open OGC API Features collections in PyQGIS (OAPIF provider) and print what QGIS saw as JSON.

Run with Debian's system python (PyQGIS 3.22 is not on PyPI), offscreen::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/clients/qgis_probe.py SPEC.json

``SPEC.json``::

    {"landing": "http://127.0.0.1:PORT/ogc", "page_size": 1000,
     "layers": [{"id": "tracts", "keys": ["id", "GEOID10"], "rect": [minx, miny, maxx, maxy]}]}

For each layer it prints ``valid``, ``error``, ``feature_count`` (from ``numberMatched``), ``extent``,
``fetched`` (features iterated), ``load_seconds`` (layer creation to the last feature of a full
read, on a fresh layer; ``load_cpu_seconds`` is the QGIS process' CPU time for it, which a busy machine
inflates less) and, when ``rect`` is given, the sorted ``key`` values of the features that a
second fresh layer returns for an exact-intersect filter rectangle (QGIS then sends ``bbox=``). ``key`` is
the first of ``keys`` that is a field of the layer: QGIS keeps a string feature id as an ``id`` field but
drops an integer one, so the record's id field (a property too) comes next.
"""

from __future__ import annotations

import json
import sys
import time


def _uri(landing: str, layer_id: str, page_size: int) -> str:
    return f"url='{landing}' typename='{layer_id}' pageSize='{page_size}'"


def _open(spec: dict, layer: dict):
    from qgis.core import QgsVectorLayer

    return QgsVectorLayer(_uri(spec["landing"], layer["id"], spec.get("page_size", 1000)), layer["id"], "OAPIF")


def _error(qlayer) -> str | None:
    # PyQGIS 3.22 segfaults on error().summary() of an invalid OAPIF layer with an empty error.
    if qlayer.error().isEmpty():
        return None
    return qlayer.error().summary()


def _key_values(features, key: str) -> list[str]:
    return sorted(str(feature.attribute(key)) for feature in features)


def probe_layer(spec: dict, layer: dict) -> dict:
    """Load one collection twice (full read, then a filter rectangle) and describe the result."""
    from qgis.core import QgsFeatureRequest, QgsRectangle

    started, cpu_started = time.perf_counter(), time.process_time()
    qlayer = _open(spec, layer)
    result = {"id": layer["id"], "valid": qlayer.isValid(), "error": _error(qlayer)}
    if not result["valid"]:
        return result
    count = qlayer.featureCount()
    fetched = sum(1 for _ in qlayer.getFeatures())
    result["load_seconds"] = round(time.perf_counter() - started, 3)
    result["load_cpu_seconds"] = round(time.process_time() - cpu_started, 3)
    extent = qlayer.extent()
    result.update(
        feature_count=count,
        fetched=fetched,
        extent=[extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()],
        crs=qlayer.crs().authid(),
        fields=[f.name() for f in qlayer.fields()],
    )
    key = next((k for k in layer.get("keys", []) if k in result["fields"]), None)
    if layer.get("rect") and key:
        result["key"] = key
        fresh = _open(spec, layer)
        request = QgsFeatureRequest().setFilterRect(QgsRectangle(*layer["rect"]))
        request.setFlags(QgsFeatureRequest.ExactIntersect)
        result["rect_keys"] = _key_values(fresh.getFeatures(request), key)
    return result


def main(spec_path: str) -> int:
    from qgis.core import QgsApplication

    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    app = QgsApplication([], False)
    app.initQgis()
    results = [probe_layer(spec, layer) for layer in spec["layers"]]
    # Print before tearing QGIS down: exitQgis() can crash on some builds after the output is out.
    print(json.dumps({"qgis_version": _version(), "layers": results}), flush=True)
    app.exitQgis()
    return 0


def _version() -> str:
    from qgis.core import Qgis

    return Qgis.version()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
