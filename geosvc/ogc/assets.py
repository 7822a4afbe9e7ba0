"""Offline HTML assets: pygeoapi template overrides and vendored static files.

pygeoapi's stock pages load Leaflet, Bootstrap and friends from CDNs and draw OpenStreetMap
tiles. geosvc ships the few templates that reference another host, rewritten to use the files
vendored under ``geosvc/ogc/static/vendor`` (see ``VENDOR.md`` there), and draws maps without a
basemap unless one is configured. pygeoapi looks templates up in our folder first and falls back
to its own, but serves static files from one folder only, so ours also carries pygeoapi's own
``css/``, ``js/`` and ``img/``.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def template_dir() -> Path:
    """Folder of geosvc's pygeoapi template overrides."""
    return _HERE / "templates"


def static_dir() -> Path:
    """Folder served by pygeoapi at ``/static`` (pygeoapi's files plus vendored libraries)."""
    return _HERE / "static"


def html_server_config(basemap_url: str = "", attribution: str = "") -> dict:
    """The ``server`` keys of a pygeoapi config that make its HTML pages work offline.

    Parameters
    ----------
    basemap_url
        XYZ tile URL template for the maps; empty (the default) draws features without a basemap,
        so no page asks another host for tiles.
    attribution
        Attribution HTML of the basemap.

    Examples
    --------
    >>> cfg = html_server_config()
    >>> sorted(cfg), cfg["map"]["url"]
    (['map', 'templates'], '')
    """
    return {
        "templates": {"path": str(template_dir()), "static": str(static_dir())},
        "map": {"url": basemap_url, "attribution": attribution},
    }
