"""Open OGC API Features collections in PyQGIS (OAPIF provider) and print what QGIS saw as JSON.

Run with Debian's system python (PyQGIS 3.22 is not on PyPI), offscreen::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/clients/qgis_probe.py SPEC.json

``SPEC.json``::

    {"landing": "http://127.0.0.1:PORT/ogc", "page_size": 1000,
     "layers": [{"id": "tracts", "keys": ["id", "GEOID10"], "rect": [minx, miny, maxx, maxy]}]}

A layer with a ``"password"`` is opened through QGIS's own authentication: a "Basic" configuration (any
user name, that password) stored in the QGIS auth database of ``QGIS_AUTH_DB_DIR_PATH`` (set it to a
throw-away folder; its master password is set here) and ``authcfg=<id>`` in the layer's URI.

For each layer, in order, it prints ``valid``, ``error``, ``authcfg`` (and ``auth_db``, the database's path), ``feature_count`` (from
``numberMatched``), ``extent``, ``fetched`` (features iterated), ``first`` (the first feature's attributes as
text), ``load_seconds`` (layer creation to the last feature of a full
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


MASTER_PASSWORD = "geosvc-test-master"  # of the throw-away auth database only


def _uri(landing: str, layer_id: str, page_size: int, authcfg: str | None) -> str:
    uri = f"url='{landing}' typename='{layer_id}' pageSize='{page_size}'"
    return uri + (f" authcfg='{authcfg}'" if authcfg else "")


def _open(spec: dict, layer: dict, authcfg: str | None = None):
    from qgis.core import QgsVectorLayer

    uri = _uri(spec["landing"], layer["id"], spec.get("page_size", 1000), authcfg)
    return QgsVectorLayer(uri, layer["id"], "OAPIF")


def _auth_config(password: str) -> str:
    """A stored "Basic" auth configuration (any user name, ``password``); returns its id."""
    from qgis.core import QgsApplication, QgsAuthMethodConfig

    manager = QgsApplication.authManager()
    if manager.isDisabled():
        raise RuntimeError(f"the QGIS auth manager is disabled: {manager.disabledMessage()}")
    if not manager.masterPasswordIsSet() and not manager.setMasterPassword(MASTER_PASSWORD, True):
        raise RuntimeError("the QGIS auth manager did not accept a master password")
    config = QgsAuthMethodConfig("Basic")
    config.setName("geosvc API key")
    config.setConfig("username", "qgis-desk")
    config.setConfig("password", password)
    if not manager.storeAuthenticationConfig(config) or not config.id():
        raise RuntimeError("QGIS did not store the auth configuration")
    return config.id()


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

    authcfg = _auth_config(layer["password"]) if "password" in layer else None
    started, cpu_started = time.perf_counter(), time.process_time()
    qlayer = _open(spec, layer, authcfg)
    result = {"id": layer["id"], "valid": qlayer.isValid(), "error": _error(qlayer), "authcfg": authcfg}
    if authcfg:
        from qgis.core import QgsApplication

        result["auth_db"] = QgsApplication.authManager().authenticationDatabasePath()
    if not result["valid"]:
        return result
    count, fields = qlayer.featureCount(), [f.name() for f in qlayer.fields()]
    fetched, first = 0, None
    for feature in qlayer.getFeatures():
        if first is None:
            first = dict(zip(fields, map(str, feature.attributes()), strict=True))
        fetched += 1
    result["load_seconds"] = round(time.perf_counter() - started, 3)
    result["load_cpu_seconds"] = round(time.process_time() - cpu_started, 3)
    extent = qlayer.extent()
    result.update(
        feature_count=count,
        fetched=fetched,
        extent=[extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum()],
        crs=qlayer.crs().authid(),
        fields=fields,
        first=first,
    )
    key = next((k for k in layer.get("keys", []) if k in result["fields"]), None)
    if layer.get("rect") and key:
        result["key"] = key
        fresh = _open(spec, layer, authcfg)
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
