"""Offline HTML assets: pygeoapi template overrides and vendored static files.

pygeoapi's stock pages load Leaflet, Bootstrap and friends from CDNs and draw OpenStreetMap
tiles. geosvc ships the few templates that reference another host, rewritten to use the files
vendored under ``geosvc/ogc/static/vendor`` (see ``VENDOR.md`` there), and its maps draw the
features without a basemap (no tile requests to another host). pygeoapi looks templates up in our
folder first and falls back to its own, but serves static files from one folder only, so ours also
carries pygeoapi's own ``css/``, ``js/`` and ``img/``.
"""

from __future__ import annotations

from pathlib import Path

from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer

_HERE = Path(__file__).resolve().parent


def template_dir() -> Path:
    """Folder of geosvc's pygeoapi template overrides."""
    return _HERE / "templates"


def static_dir() -> Path:
    """Folder served by pygeoapi at ``/static`` (pygeoapi's files plus vendored libraries)."""
    return _HERE / "static"


def html_server_config() -> dict:
    """The ``server`` keys of a pygeoapi config that make its HTML pages work offline.

    An empty ``map.url`` makes our templates draw features on a plain background.

    Examples
    --------
    >>> cfg = html_server_config()
    >>> sorted(cfg), cfg["map"]["url"]
    (['map', 'templates'], '')
    """
    return {
        "templates": {"path": str(template_dir()), "static": str(static_dir())},
        "map": {"url": "", "attribution": ""},
    }


def add_html_assets(config: dict, layers: list[PublishedLayer], settings: Settings) -> None:
    """Config extension (see :func:`geosvc.ogc.config.build_config`) serving offline HTML pages with the
    service's own logo (``portal.logo``, a path on this host)."""
    config["server"].update(html_server_config())
    config["server"]["logo"] = settings.base_url + settings.portal.logo
