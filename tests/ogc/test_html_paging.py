"""The HTML items page's Prev/Next buttons keep every parameter of the request (CQL2 filter, sortby, limit,
f=html) but the offset, so paging a filtered page in a browser stays filtered."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

ITEMS = "/ogc/collections/ct-towns/items"
ASKED = {"f": "html", "limit": "5", "filter": "NAME LIKE 'B%'", "filter-lang": "cql2-text", "sortby": "-NAME"}
_BUTTON = re.compile(r'<a role="button" href="([^"]+)">(Prev|Next)</a>')
_ROW = re.compile(r'<a href="[^"]*/items/([^"/?]+)" title=')


def _page(client, params: dict) -> tuple[list[str], dict[str, dict]]:
    """Feature ids listed on an HTML page and its buttons ({"Prev"/"Next": their query parameters})."""
    response = client.get(ITEMS, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    buttons: dict[str, dict] = {}
    for href, label in _BUTTON.findall(response.text):
        assert label not in buttons, f"two {label} buttons"
        split = urlsplit(html.unescape(href))
        assert split.path.endswith(ITEMS)
        buttons[label] = {k: v[0] for k, v in parse_qs(split.query).items()}
    return _ROW.findall(response.text), buttons


def test_prev_and_next_keep_the_filter_and_every_other_parameter(client):
    expected = client.get(ITEMS, params={**ASKED, "f": "json", "limit": "100"}).json()
    wanted = [f["id"] for f in expected["features"]]
    assert 10 < expected["numberMatched"] == len(wanted) < 16 * 10  # a few pages, not every town
    assert all(f["properties"]["NAME"].startswith("B") for f in expected["features"])

    ids, buttons = _page(client, {**ASKED, "offset": "5"})
    assert ids == wanted[5:10]
    assert buttons["Prev"] == ASKED  # offset 0 is left out
    assert buttons["Next"] == {**ASKED, "offset": "10"}

    seen, query = [], dict(ASKED)
    while True:  # follow Next from the first page to the last: every match once, in order, filtered
        ids, buttons = _page(client, query)
        seen += ids
        if "Next" not in buttons:
            break
        query = buttons["Next"]
    assert seen == wanted
    assert buttons["Prev"]["filter"] == ASKED["filter"] and buttons["Prev"]["filter-lang"] == "cql2-text"
