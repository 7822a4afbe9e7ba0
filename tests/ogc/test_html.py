"""HTML pages work offline: no asset from another host, vendored assets served, maps drawn in Chromium.

Screenshots are saved to ``tests/.artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import numpy as np
import pytest
import rasterio
import yaml
from rasterio.errors import NotGeoreferencedWarning

from geosvc.ogc.assets import static_dir, template_dir
from support.published_catalog import served_catalog

ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LEAFLET_BLUE = np.array([51, 136, 255])  # default Leaflet path stroke (#3388ff)
PYGEOAPI_TEMPLATES = Path(__import__("pygeoapi").__file__).parent / "templates"
# pygeoapi pages with CDN assets that geosvc never serves (no STAC, EDR, tiles or pub/sub configured)
UNSERVED_TEMPLATES = {"stac/item.html", "stac/collection_base.html", "asyncapi.html", "collections/edr/query.html", "collections/tiles/index.html"}
_ASSET_TAGS = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src", "embed": "src"}
# <link> rels a browser fetches by itself (rel=license, alternate... are plain links)
_LOADED_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "prefetch", "modulepreload", "manifest"}
_OFF_HOST = re.compile(r"<(script|link|img|iframe|source|embed)\b[^>]*\b(src|href)=\"(https?:)?//", re.I)
_STATIC_REF = re.compile(r"\{\{ *config\['server'\]\['url'\] *\}\}/static/([^\"']+)")


class _Assets(HTMLParser):
    """URLs a browser loads by itself from a page: scripts, stylesheets/icons, images, frames."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attr = _ASSET_TAGS.get(tag)
        values = dict(attrs)
        if tag == "link" and not _LOADED_RELS & set((values.get("rel") or "").lower().split()):
            return
        if attr and values.get(attr):
            self.urls.append((tag, values[attr]))


def page_assets(html: str) -> list[tuple[str, str]]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


def test_overridden_templates_load_nothing_from_another_host():
    for path in template_dir().rglob("*.html"):
        assert not _OFF_HOST.search(path.read_text()), path


def test_template_static_references_exist():
    refs = {ref for path in template_dir().rglob("*.html") for ref in _STATIC_REF.findall(path.read_text())}
    assert any("vendor/leaflet/leaflet.js" in ref for ref in refs)
    for ref in refs:
        assert (static_dir() / ref).is_file(), ref


def test_every_stock_template_with_cdn_assets_is_overridden_or_unserved():
    with_cdn = {
        str(path.relative_to(PYGEOAPI_TEMPLATES))
        for path in PYGEOAPI_TEMPLATES.rglob("*.html")
        if _OFF_HOST.search(path.read_text())
    }
    overridden = {str(path.relative_to(template_dir())) for path in template_dir().rglob("*.html")}
    assert with_cdn - overridden == UNSERVED_TEMPLATES


@pytest.fixture(scope="module")
def server(request):
    return served_catalog(request).base_url


def test_pages_of_unserved_templates_are_not_configured(request, server):
    """The stock templates left with CDN assets belong to features the generated config never enables."""
    from geosvc.api.app import pygeoapi_config

    served = served_catalog(request)
    config = pygeoapi_config(served.settings, served.store, served.store.published())
    assert "pubsub" not in config  # asyncapi.html
    types = {p["type"] for r in config["resources"].values() for p in r.get("providers", [])}
    assert types.isdisjoint({"tile", "edr", "stac"}), types
    assert all(r.get("type") != "stac-collection" for r in config["resources"].values())


@pytest.fixture(scope="module")
def pages(server) -> dict[str, str]:
    ogc = f"{server}/ogc"
    with httpx.Client(timeout=60) as http:
        tract = http.get(f"{ogc}/collections/ct-tracts-2010/items?limit=1&f=json").json()["features"][0]["id"]
    return {
        "landing": f"{ogc}?f=html",
        "collections": f"{ogc}/collections?f=html",
        "collection": f"{ogc}/collections/ct-tracts-2010?f=html",
        "items": f"{ogc}/collections/ct-tracts-2010/items?f=html&limit=100",
        "item": f"{ogc}/collections/ct-tracts-2010/items/{tract}?f=html",
        "points": f"{ogc}/collections/ct-hospitals/items?f=html&limit=50",
        "records": f"{ogc}/collections/records/items?f=html",
        "record": f"{ogc}/collections/records/items/ct-population-density?f=html",
        "raster": f"{ogc}/collections/ct-population-density?f=html",
        "coverage": f"{ogc}/collections/ct-population-density/coverage?f=html",
        "queryables": f"{ogc}/collections/ct-tracts-2010/queryables?f=html",
        "conformance": f"{ogc}/conformance?f=html",
        "openapi": f"{ogc}/openapi?f=html",
    }


def test_served_pages_load_assets_only_from_this_host(server, pages):
    host = urlsplit(server).netloc
    local_assets = set()
    with httpx.Client(timeout=60) as http:
        for name, url in pages.items():
            response = http.get(url)
            assert response.status_code == 200, (name, response.text[:300])
            assert response.headers["content-type"].startswith("text/html"), name
            assets = page_assets(response.text)
            assert assets, name
            for tag, ref in assets:
                absolute = urljoin(url, ref)
                assert urlsplit(absolute).netloc == host, f"{name}: <{tag}> loads {ref}"
                local_assets.add(absolute)
        for asset in local_assets:
            assert http.get(asset).status_code == 200, asset


def _chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--window-size=1280,900", "--virtual-time-budget=5000",
            # any request to another host fails, so the page must render from this server alone
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--enable-logging=stderr", "--v=0", *extra, url,
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _blue_pixels(png: Path) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(png) as src:
            rgb = src.read([1, 2, 3]).astype(int)
    assert rgb.reshape(3, -1).std(axis=1).max() > 10, f"{png.name} is blank"
    return int((np.abs(rgb - LEAFLET_BLUE[:, None, None]).sum(axis=0) < 40).sum())


@pytest.mark.clients
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium (Debian package) not installed")
@pytest.mark.parametrize(
    ("name", "min_paths", "min_markers"),
    [("landing", 0, 0), ("collection", 1, 0), ("items", 100, 0), ("points", 0, 1), ("records", 8, 0), ("item", 1, 0)],
)
def test_chromium_renders_page_and_map(pages, tmp_path, name, min_paths, min_markers):
    ARTIFACTS.mkdir(exist_ok=True)
    png = ARTIFACTS / f"html-{name}.png"
    png.unlink(missing_ok=True)
    run = _chromium(pages[name], tmp_path / "profile", "--dump-dom", f"--screenshot={png}")
    assert run.returncode == 0 and png.is_file(), run.stderr[-2000:]
    console_errors = [line for line in run.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    assert not console_errors, console_errors
    blue = _blue_pixels(png)
    if min_paths or min_markers:
        overlay = run.stdout.split('class="leaflet-pane leaflet-overlay-pane"', 1)
        assert len(overlay) == 2, f"{name}: no Leaflet map in the page"
        assert overlay[1].count("<path") >= min_paths, name
        assert run.stdout.count("leaflet-marker-icon") >= min_markers, name
        assert blue > 200, f"{name}: the map shows no features ({blue} Leaflet-blue pixels)"
