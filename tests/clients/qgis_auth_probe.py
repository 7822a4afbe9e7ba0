"""Open one OGC API Features collection in PyQGIS through QGIS's own authentication: for each given password,
a "Basic" authentication configuration in a throw-away QGIS auth database, the layer opened with
``authcfg=<id>`` (and once without any); print what QGIS saw as JSON.

Run with Debian's system python (PyQGIS 3.22), offscreen, with ``QGIS_AUTH_DB_DIR_PATH`` set to an empty
folder (the auth database is created there)::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/clients/qgis_auth_probe.py SPEC.json

``SPEC.json``: ``{"landing": URL, "layer": ID, "passwords": {"valid": KEY, "revoked": KEY2, ...}}``. Prints
``{"auth_db": path, "cases": {"none" | name: {"authcfg", "valid", "feature_count", "fetched", "fields",
"first"}}}`` (``first``: the attributes of the first feature read).
"""

from __future__ import annotations

import json
import sys

MASTER_PASSWORD = "geosvc-test-master"  # of the throw-away auth database only


def _auth_config(name: str, password: str) -> str:
    """A stored "Basic" auth configuration (any user name, the key as password); returns its id."""
    from qgis.core import QgsApplication, QgsAuthMethodConfig

    config = QgsAuthMethodConfig("Basic")
    config.setName(f"geosvc {name}")
    config.setConfig("username", "qgis-desk")
    config.setConfig("password", password)
    if not QgsApplication.authManager().storeAuthenticationConfig(config) or not config.id():
        raise RuntimeError(f"QGIS did not store the auth configuration {name!r}")
    return config.id()


def _open(landing: str, layer_id: str, authcfg: str | None) -> dict:
    from qgis.core import QgsVectorLayer

    uri = f"url='{landing}' typename='{layer_id}' pageSize='1000'" + (f" authcfg='{authcfg}'" if authcfg else "")
    qlayer = QgsVectorLayer(uri, layer_id, "OAPIF")
    seen = {"authcfg": authcfg, "valid": qlayer.isValid()}
    if not seen["valid"]:
        return seen
    features, fields = list(qlayer.getFeatures()), [f.name() for f in qlayer.fields()]
    seen.update(feature_count=qlayer.featureCount(), fetched=len(features), fields=fields,
                first=dict(zip(fields, map(str, features[0].attributes()), strict=True)) if features else None)
    return seen


def main(spec_path: str) -> int:
    from qgis.core import QgsApplication

    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    app = QgsApplication([], False)
    app.initQgis()
    manager = QgsApplication.authManager()
    if manager.isDisabled():
        raise RuntimeError(f"the QGIS auth manager is disabled: {manager.disabledMessage()}")
    if not manager.setMasterPassword(MASTER_PASSWORD, True):
        raise RuntimeError("the QGIS auth manager did not accept a master password")
    cases = {"none": _open(spec["landing"], spec["layer"], None)}
    for name, password in spec["passwords"].items():
        cases[name] = _open(spec["landing"], spec["layer"], _auth_config(name, password))
    # Print before tearing QGIS down: exitQgis() can crash on some builds after the output is out.
    print(json.dumps({"auth_db": manager.authenticationDatabasePath(), "cases": cases}), flush=True)
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
