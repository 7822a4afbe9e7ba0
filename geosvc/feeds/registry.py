"""The fetcher of each remote source kind: a new kind is one module and one entry here."""

from __future__ import annotations

from geosvc.feeds import arcgis, httpfile, ogcapi, socrata, wfs
from geosvc.feeds.base import Fetcher

FETCHERS: dict[str, Fetcher] = {
    "http": httpfile.fetch,
    "ogcapi": ogcapi.fetch,
    "wfs": wfs.fetch,
    "arcgis": arcgis.fetch,
    "socrata": socrata.fetch,
}
