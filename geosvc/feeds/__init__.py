"""Automated feeds: fetch a layer's remote source, re-validate it and publish it only when it changed.

One module per source kind (:mod:`.httpfile`, :mod:`.ogcapi`, :mod:`.wfs`, :mod:`.arcgis`,
:mod:`.socrata`), each registered once in :mod:`.registry`; :mod:`.sync` runs one layer's sync and
:mod:`.schedule` runs due syncs continuously. Importing this package is cheap (the report uses
:mod:`.status`).
"""
