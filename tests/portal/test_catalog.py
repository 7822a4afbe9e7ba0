"""The portal's pure parts: catalog badges, search, facets and sorting; content negotiation; offline templates."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import pytest
from starlette.requests import Request

from geosvc.api.routes.portal import wants_html
from geosvc.errors import InvalidParameter
from geosvc.portal import catalog
from geosvc.portal.pages import examples
from geosvc.portal.render import STATIC_DIR, TEMPLATE_DIR
from geosvc.records.loader import load_records
from geosvc.report import build_portfolio
from geosvc.settings import load_settings

TODAY = dt.date(2026, 12, 1)
_OFF_HOST = re.compile(r"<(script|link|img|iframe|source|embed)\b[^>]*\b(src|href)=\"(https?:)?//", re.I)
_ASSET = re.compile(r"(?:src|href)=\"(/(?:portal|ogc)/static/[^\"{]+)\"")


@pytest.fixture(scope="module")
def entries() -> list[catalog.Entry]:
    records = sorted(load_records(load_settings().layers.dir).values(), key=lambda r: r.id)
    portfolio = build_portfolio(records, [], {}, today=TODAY)
    return catalog.entries(records, portfolio.layers, TODAY)


def test_freshness_badges_follow_the_due_date(entries):
    by_id = {e.id: e for e in entries}
    assert by_id["ct-towns"].freshness == "static"
    assert by_id["ct-hospitals"].freshness == "stale"  # yearly cadence, last updated 2020
    status = build_portfolio([load_records(load_settings().layers.dir)["ct-hospitals"]], [], {}, TODAY).layers[0]
    assert catalog.freshness(replace(status, stale=False, update_due=TODAY + dt.timedelta(days=10)), TODAY) == "due"
    assert catalog.freshness(replace(status, stale=False, update_due=TODAY + dt.timedelta(days=90)), TODAY) == "current"


def test_search_and_facets(entries):
    ids = lambda **kw: [e.id for e in catalog.select(entries, **kw)]  # noqa: E731
    assert ids(q="drought") == ["us-drought-20161004"]
    assert ids(q="HOSPITALS connecticut") == ["ct-hospitals"]
    assert set(ids(theme="boundaries")) == {e.id for e in entries if e.theme == "boundaries"}
    assert ids(agency="US Census Bureau") and all(e.agency == "US Census Bureau"
                                                  for e in catalog.select(entries, agency="US Census Bureau"))
    assert ids(keyword="drought") == ["us-drought-20161004"]
    assert ids(q="drought", theme="boundaries") == []
    facets = catalog.facets(entries)
    assert "hazards" in facets["theme"] and "US Census Bureau" in facets["agency"] and "towns" in facets["keyword"]


def test_sort_orders(entries):
    titles = [e.title.lower() for e in catalog.select(entries)]
    assert titles == sorted(titles)
    updated = [e.last_updated for e in catalog.select(entries, sort="updated")]
    assert updated == sorted(updated, reverse=True)
    attention = catalog.select(entries, sort="attention")
    assert [e.attention for e in attention] == sorted((e.attention for e in entries), reverse=True)
    assert attention[0].freshness == "stale"


def test_examples_skip_empty_values_and_shorten_long_ones():
    rows = [{"a": None, "b": "", "c": float("nan"), "d": "x" * 100}, {"a": 3, "b": "kept", "c": 1.5, "d": "y"}]
    got = examples(rows, ["a", "b", "c", "d", "e"])
    assert got == {"a": "3", "b": "kept", "c": "1.5", "d": "x" * 39 + "…"}


def _request(query: str = "", accept: str | None = None) -> Request:
    headers = [(b"accept", accept.encode())] if accept is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query.encode(), "headers": headers})


@pytest.mark.parametrize(("query", "accept", "html"), [
    ("", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # Chromium / Firefox
    ("", None, False), ("", "*/*", False), ("", "application/json", False),
    ("", "application/json, text/html;q=0.5", False), ("", "text/html;q=0", False),
    ("f=html", "application/json", True), ("f=json", "text/html", False),
])
def test_root_negotiation(query, accept, html):
    assert wants_html(_request(query, accept)) is html


def test_unknown_root_format_is_a_400():
    with pytest.raises(InvalidParameter, match="unknown format 'xml'"):
        wants_html(_request("f=xml"))


def test_templates_load_assets_only_from_this_host():
    from geosvc.ogc.assets import static_dir

    refs = set()
    for path in TEMPLATE_DIR.glob("*.html"):
        text = path.read_text()
        assert not _OFF_HOST.search(text), path
        refs.update(_ASSET.findall(text))
    assert "/ogc/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js" in refs
    for ref in refs:
        root, rest = (STATIC_DIR, ref.removeprefix("/portal/static/")) if ref.startswith("/portal/") else \
            (static_dir(), ref.removeprefix("/ogc/static/"))
        assert (root / rest).is_file(), ref
    logo = load_settings().portal.logo
    assert logo.startswith("/ogc/static/") and (static_dir() / logo.removeprefix("/ogc/static/")).is_file()


def test_portal_settings_name_and_a_logo_on_this_host_only():
    settings = load_settings(portal_name="CT Planning Data", portal_logo="/ogc/static/img/geosvc.svg")
    assert settings.portal.name == "CT Planning Data"
    for logo in ("https://cdn.example.org/logo.png", "//cdn.example.org/logo.png", "logo.png"):
        with pytest.raises(ValueError, match="logo"):
            load_settings(portal_logo=logo)
