"""The planners' portal in a real browser: headless Chromium (DevTools protocol) against a real server
process over the published sample catalog. Screenshots go to ``tests/.artifacts/portal-*.png``.

Every page is checked by axe-core (vendored in ``vendor/axe-core``): no serious or critical violations.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from cdp import CHROMIUM, Browser
from support.postgis import store_env
from support.published_catalog import publish_catalog
from support.serverproc import free_port, running

from geosvc.records.loader import load_records
from geosvc.settings import load_settings
from geosvc.store.publish import publish_layer
from geosvc.validate.layer import validate_layer

pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("portal")]

ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
NAME = "CT Planning Data"
RESTRICTED = "ct-towns-restricted"  # published, served to nobody anonymous
# The README's drought question (Equity API section)
DROUGHT = {"hazard": {"collection": "us-drought-20161004", "filter": "DM >= 2"}, "population": "ct-tracts-2010",
           "groups": ["hispanic", "nh_white", "nh_black"], "places": "ct-towns", "reference": "nh_white"}
DROUGHT_QUERY = {"question": "exposure", "hazard": "us-drought-20161004", "filter": "DM >= 2",
                 "population": "ct-tracts-2010", "groups": "hispanic,nh_white,nh_black", "places": "ct-towns",
                 "reference": "nh_white"}
# Pages ask whether a collection has vector tiles and downloads; until they do, those answers are 4xx.
PROBES = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d .* "
                    r"http://127\.0\.0\.1:\d+/ogc/collections/[\w-]+/(tiles/WebMercatorQuad/0/0/0|downloads\?f=json)$")
# Until geosvc.api.app.INSTALLERS lists the portal, the server process adds it (a no-op once listed).
_SERVE = ("import geosvc.api.app as app\nfrom geosvc.settings import load_settings\n"
          "hook = 'geosvc.api.routes.portal:install_portal'\n"
          "app.INSTALLERS = app.INSTALLERS if hook in app.INSTALLERS else (*app.INSTALLERS, hook)\n"
          "from geosvc.api.server import serve\nserve(load_settings())\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store_dir = tmp_path_factory.mktemp("portal-store")
    settings, store = publish_catalog(store_dir)
    towns = load_records(settings.layers.dir)["ct-towns"]
    store.record_validation(validate_layer(towns, settings))
    hidden = towns.model_copy(update={"id": RESTRICTED, "title": "Restricted towns", "sensitivity": "restricted"})
    assert publish_layer(hidden, validate_layer(hidden, settings), store, settings).record.sensitivity == "restricted"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**store_env(settings), "GEOSVC_PORT": str(port), "GEOSVC_PORTAL_NAME": NAME}
    with running([sys.executable, "-c", _SERVE], f"{base}/health", store_dir / "server.log", env=env):
        yield base


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium (Debian package) not installed (bash scripts/setup.sh --test)")
    chromium = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def serious_violations(browser: Browser) -> list[dict]:
    """axe-core's serious and critical violations of the page as loaded."""
    if not browser.evaluate("typeof axe !== 'undefined'"):
        browser.evaluate(AXE.read_text())
    return browser.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))",
        timeout=60,
    )


def check_page(browser: Browser, name: str) -> None:
    """No script errors, no serious accessibility violations, readable at phone width; screenshots saved."""
    ARTIFACTS.mkdir(exist_ok=True)
    errors = [e for e in browser.errors() if not PROBES.search(e)]
    assert errors == [], errors
    assert serious_violations(browser) == []
    assert browser.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1, f"{name} scrolls sideways"
    browser.screenshot(ARTIFACTS / f"portal-{name}.png")
    browser.viewport(390, 844, mobile=True)
    try:
        overflow = browser.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name}: {overflow}px wider than a phone screen"
        browser.screenshot(ARTIFACTS / f"portal-{name}-phone.png", full_page=False)
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")


def tile_source(server: str, layer_id: str) -> str:
    """How the portal must draw ``layer_id``: from its vector tiles once the service has them, else its items."""
    probe = httpx.get(f"{server}/ogc/collections/{layer_id}/tiles/WebMercatorQuad/0/0/0")
    return "tiles" if probe.is_success else "items"


def drawn_paths(browser: Browser, selector: str) -> int:
    """SVG paths with geometry drawn inside ``selector``'s Leaflet overlay or tile panes."""
    return browser.evaluate(
        f"Array.from(document.querySelectorAll('{selector} .leaflet-overlay-pane path, {selector} .leaflet-tile-pane path'))"
        ".filter(p => (p.getAttribute('d') || '').length > 10).length")


def test_root_is_the_portal_for_browsers_and_json_for_clients(server):
    with httpx.Client(timeout=30) as http:
        page = http.get(f"{server}/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert f"<span>{NAME}</span>" in page.text and "pygeoapi" not in page.text.lower()
        vary = lambda response: {v.strip() for v in response.headers["vary"].split(",")}  # noqa: E731
        assert "Accept" in vary(page) and page.headers["cache-control"] == "private, no-cache"
        root = http.get(f"{server}/")
        assert root.headers["content-type"] == "application/json" and "Accept" in vary(root)
        assert {link["rel"] for link in root.json()["links"]} >= {"service", "data", "service-doc"}
        assert http.get(f"{server}/", headers={"Accept": "application/json, text/html;q=0.5"}).json()["title"]
        assert http.get(f"{server}/?f=html").headers["content-type"].startswith("text/html")
        bad = http.get(f"{server}/?f=xml")
        assert bad.status_code == 400 and "'f'" in bad.json()["description"]
        assert "/" in http.get(f"{server}/openapi.json").json()["paths"]
        ogc = http.get(f"{server}/ogc?f=html").text  # pygeoapi's pages carry the same name and logo
        assert f'<img src="{server}/ogc/static/img/geosvc.svg"' in ogc and f"{NAME}: Connecticut layers" in ogc
        assert "pygeoapi.png" not in ogc and http.get(f"{server}/ogc/static/img/geosvc.svg").status_code == 200


def test_catalog_search_filters_and_sort(server):
    with httpx.Client(timeout=30) as http:
        def cards(**params) -> list[str]:
            html = http.get(f"{server}/portal", params=params).text
            return [part.split('"', 1)[0] for part in html.split('class="card" data-layer="')[1:]]

        everything = cards()
        assert "ct-towns" in everything and "us-drought-20161004" in everything
        assert cards(q="drought") == ["us-drought-20161004"]
        records = [r for r in load_records(load_settings().layers.dir).values() if r.id in everything]
        assert sorted(cards(theme="boundaries")) == sorted(r.id for r in records if r.theme == "boundaries")
        assert "ct-towns" in cards(keyword="towns")
        assert sorted(cards(keyword="towns")) == sorted(r.id for r in records if "towns" in r.keywords)
        assert cards(agency="US Census Bureau") and "ct-hospitals" not in cards(agency="US Census Bureau")
        assert cards(q="no such layer anywhere") == []
        page = http.get(f"{server}/portal").text
        card = lambda layer_id: page.split(f'data-layer="{layer_id}"', 1)[1].split("</li>", 1)[0]  # noqa: E731
        assert 'valid-ok">validated<' in card("ct-towns")  # its validation run is in the store
        assert 'valid-not-validated">not validated<' in card("us-drought-20161004")
        assert re.search(r'fresh-stale" title="next update due [\d-]+">stale<', card("ct-hospitals"))
        assert 'fresh-static" title="static layer">static<' in card("ct-towns")
        assert 'sens-public">public<' in card("ct-towns")
        assert sorted(cards(sort="title")) != [] and len(cards(sort="updated")) == len(everything)
        bad = http.get(f"{server}/portal", params={"sort": "size"})
        assert bad.status_code == 400 and "sort" in bad.json()["description"]
        missing = http.get(f"{server}/portal/layers/no-such-layer")
        assert missing.status_code == 404
        # a restricted layer shows nowhere to an anonymous caller, and its page is the same 404
        assert RESTRICTED not in everything and "Restricted towns" not in http.get(f"{server}/portal").text
        hidden = http.get(f"{server}/portal/layers/{RESTRICTED}")
        assert hidden.status_code == 404 and hidden.json()["description"] == missing.json()["description"].replace(
            "no-such-layer", RESTRICTED)
        assert RESTRICTED not in http.get(f"{server}/portal/explorer").text


def test_catalog_page_in_chromium(server, browser):
    browser.open(f"{server}/portal")
    assert browser.evaluate("document.querySelectorAll('.card').length") >= 8
    assert browser.evaluate("document.querySelector('.badge.fresh-static, .badge.fresh-stale, .badge.fresh-current') !== null")
    logo = browser.evaluate("(() => { const i = document.querySelector('.brand img'); return [i.complete && i.naturalWidth > 0, i.alt, i.src]; })()")
    assert logo[0] and logo[1] == f"{NAME} logo" and urlsplit(logo[2]).netloc == urlsplit(server).netloc
    # keyboard: the first Tab reaches the skip link, which moves focus to the main content
    browser.call("Input.dispatchKeyEvent", type="keyDown", key="Tab", code="Tab", windowsVirtualKeyCode=9)
    assert browser.evaluate("document.activeElement.className") == "skip"
    check_page(browser, "catalog")


@pytest.mark.parametrize("layer_id", ["ct-towns", "ct-hospitals"])
def test_layer_page_draws_its_map(server, browser, layer_id):
    browser.open(f"{server}/portal/layers/{layer_id}")
    count = httpx.get(f"{server}/ogc/collections/{layer_id}/items?f=json&limit=1").json()["numberMatched"]
    basemap = 169  # town outlines
    want = basemap + count if layer_id != "ct-towns" else 2 * basemap
    assert browser.wait_for(f"document.querySelectorAll('#map .leaflet-overlay-pane path, #map .leaflet-tile-pane path').length >= {want} && 1")
    assert drawn_paths(browser, "#map") >= want
    assert browser.wait_for("(document.getElementById('map').dataset.sources || '').split(' ').filter(Boolean).length >= 2 && 1")
    sources = browser.evaluate("document.getElementById('map').dataset.sources").split()
    assert sources == [f"ct-towns:{tile_source(server, 'ct-towns')}", f"{layer_id}:{tile_source(server, layer_id)}"]
    rows = browser.evaluate("Array.from(document.querySelectorAll('table.data tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent))")
    fields = httpx.get(f"{server}/ogc/collections/{layer_id}/queryables?f=json").json()["properties"]
    assert {row[0] for row in rows} <= set(fields) and len(rows) >= 3
    assert all(row[2] for row in rows[:3]), rows[:3]  # example values
    listing = httpx.get(f"{server}/ogc/collections/{layer_id}/downloads?f=json")
    browser.wait_for("document.getElementById('downloads').dataset.checked")
    shown = browser.evaluate("Array.from(document.querySelectorAll('#downloads:not([hidden]) a')).map(a => a.href)")
    assert shown == ([d["href"] for d in listing.json()["downloads"]] if listing.is_success else [])
    text = browser.evaluate("document.querySelector('main').innerText")
    for needle in ("Licence", "Contact", "Extent", "Version history", "v1 published", "QGIS", f"/ogc/collections/{layer_id}"):
        assert needle in text, needle
    check_page(browser, f"layer-{layer_id}")


def _api_rows(server: str) -> dict:
    answer = httpx.post(f"{server}/equity/exposure?f=json", json=DROUGHT, timeout=120).json()
    return answer, {(r["place_id"], r["group"]): r for r in answer["results"]}


def test_explorer_answers_the_readme_drought_question_like_the_api(server, browser):
    browser.open(f"{server}/portal/explorer?{urlencode(DROUGHT_QUERY)}")
    assert browser.wait_for("document.body.dataset.explorer", timeout=90) == "done", browser.evaluate("document.getElementById('status').textContent")
    answer, api = _api_rows(server)
    cells = browser.evaluate(
        "Array.from(document.querySelectorAll('#overall-table tbody tr, #places-table tbody tr')).flatMap(tr =>"
        " Array.from(tr.querySelectorAll('td[data-key]')).map(td => [tr.dataset.place, tr.dataset.group, td.dataset.key,"
        " td.dataset.value === undefined ? null : Number(td.dataset.value), td.dataset.reason || null, td.textContent]))")
    overall = browser.evaluate("document.querySelectorAll('#overall-table tbody tr').length")
    by_place = browser.evaluate("document.querySelectorAll('#places-table tbody tr').length")
    assert overall == 4  # total + the three groups, all places
    assert by_place == len({r["place_id"] for r in answer["results"]}) - 1  # every town (not the '_all' line)
    withheld = 0
    for place, group, key, value, reason, text in cells:
        row = api[(place, group)]
        if row[key] is None:
            assert value is None and reason == row[f"{key}_suppressed"], (place, group, key)
            withheld += reason is not None and text == "withheld"
        else:
            assert value == pytest.approx(row[key], rel=1e-12), (place, group, key)
    assert len(cells) == (overall + by_place) * 7 and withheld > 0
    # the page's question is the README's: same provenance hash as the API's answer
    assert answer["provenance"]["result_hash"] in browser.evaluate("document.getElementById('method').textContent")
    # the choropleth: one drawn place per feature, withheld places hatched; the RR chart has a point per group
    features = httpx.post(f"{server}/equity/exposure?f=geojson", json=DROUGHT, timeout=120).json()["features"]
    mapped = browser.evaluate("document.getElementById('map-group').value + '_' + document.getElementById('map-metric').value")
    hatched = sum(f["properties"][mapped] is None for f in features)
    assert browser.evaluate("document.querySelectorAll('#emap path.withheld-place').length") == hatched
    assert drawn_paths(browser, "#emap") >= len(features)
    rr = {r["group"]: r["rr"] for r in answer["results"] if r["place_id"] == "_all" and r["group"] in ("hispanic", "nh_black")}
    points = browser.evaluate("Object.fromEntries(Array.from(document.querySelectorAll('#chart circle')).map(c => [c.dataset.group, Number(c.dataset.value)]))")
    assert points == pytest.approx(rr)
    assert "RR" in browser.evaluate("document.querySelector('#chart title').textContent")
    check_page(browser, "explorer-drought")


def test_explorer_url_captures_the_question_and_access_runs(server, browser):
    browser.open(f"{server}/portal/explorer")
    browser.evaluate("document.querySelector('input[value=access]').click()")
    browser.evaluate("document.getElementById('places').value = ''")
    browser.evaluate("document.getElementById('catchment_km').focus()")  # submitted from the keyboard
    for kind in ("keyDown", "char", "keyUp"):
        browser.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13,
                     **({"text": "\r"} if kind == "char" else {}))
    assert browser.wait_for("document.body.dataset.explorer", timeout=90) == "done"
    query = browser.evaluate("location.search")
    assert "question=access" in query and "facilities=ct-hospitals" in query
    body = {"facilities": "ct-hospitals", "population": "ct-tracts-2010", "reference": "nh_white",
            "within_km": 10, "catchment_km": 15,
            "groups": json.loads(browser.evaluate("JSON.stringify(new URLSearchParams(location.search).get('groups').split(','))"))}
    answer = httpx.post(f"{server}/equity/access?f=json", json=body, timeout=120).json()
    state = next(r for r in answer["results"] if r["group"] == "total")
    shown = browser.evaluate("Number(document.querySelector('#overall-table tr[data-group=total] td[data-key=mean_km]').dataset.value)")
    assert shown == pytest.approx(state["mean_km"], rel=1e-12)
    # the shared URL reproduces the question in a fresh page
    browser.open(f"{server}/portal/explorer{query}")
    assert browser.wait_for("document.body.dataset.explorer", timeout=90) == "done"
    assert browser.evaluate("document.querySelector('input[name=question]:checked').value") == "access"


def test_explorer_shows_the_services_refusal(server, browser):
    query = {**DROUGHT_QUERY, "filter": "DM >>> 2"}
    browser.open(f"{server}/portal/explorer?{urlencode(query)}")
    assert browser.wait_for("document.body.dataset.explorer", timeout=60) == "error"
    refusal = httpx.post(f"{server}/equity/exposure?f=json", json={**DROUGHT, "hazard": {**DROUGHT["hazard"], "filter": "DM >>> 2"}})
    assert refusal.status_code == 400
    shown = browser.evaluate("document.getElementById('status').textContent")
    assert shown == "The service refused the question: " + refusal.json()["description"]
    assert browser.evaluate("document.getElementById('results').hidden")
