"""Metadata exports generated from layer records and their published versions (pure: no web framework).

:mod:`~geosvc.metadata.dcat` (DCAT-US 1.1 ``/data.json``), :mod:`~geosvc.metadata.iso` (ISO 19139 via
pygeometa), :mod:`~geosvc.metadata.jsonld` (schema.org Dataset), :mod:`~geosvc.metadata.disaggregation`
(how consistently the portfolio breaks data down by demographic dimension).
"""
