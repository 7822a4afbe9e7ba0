"""Small items pages are read on the event loop within the store's inline budget; past it, in a thread."""

from __future__ import annotations

import threading
import time

import pytest

T = "/ogc/collections/ct-tracts-2010/items"
STATE = {"bbox": "-73.73,40.95,-71.78,42.06", "limit": 100}


def _features(response):
    assert response.status_code == 200, response.text
    body = response.json()
    return body["numberMatched"], body["features"]


def _watch(store, monkeypatch) -> list[tuple[int, float]]:
    """Record the thread of every store query and the time it had left (the real store answers)."""
    seen: list[tuple[int, float]] = []
    query = store.query

    def watched(layer, q, deadline=None):
        seen.append((threading.get_ident(), deadline - time.monotonic()))
        return query(layer, q, deadline)

    monkeypatch.setattr(store, "query", watched)
    return seen


@pytest.fixture
def inline(store):
    if not store.inline_budget_s:
        pytest.skip("this store reads in worker threads only")


def test_a_small_page_is_tried_within_the_inline_budget_first(client, store, monkeypatch, inline):
    seen = _watch(store, monkeypatch)
    matched, features = _features(client.get(T, params=STATE))
    assert matched > 100 and len(features) == 100
    assert seen[0][1] <= store.inline_budget_s < client.app.state.settings.server.query_timeout_s


def test_a_read_past_the_inline_budget_is_retried_in_a_thread_with_the_whole_budget(client, store, monkeypatch,
                                                                                   inline):
    expected = _features(client.get(T, params=STATE))
    seen = _watch(store, monkeypatch)
    monkeypatch.setattr(store, "inline_budget_s", 1e-9)  # the state-wide read cannot finish inline
    assert _features(client.get(T, params=STATE)) == expected
    (inline, inline_left), (worker, left) = seen
    assert inline != worker and inline_left <= 1e-9 < left


def test_large_pages_go_straight_to_a_thread(client, store, monkeypatch):
    seen = _watch(store, monkeypatch)
    monkeypatch.setattr(store, "inline_budget_s", 1e-9)
    matched, features = _features(client.get(T, params={**STATE, "limit": 1000}))
    assert len(seen) == 1 and len(features) == matched


def test_a_store_without_an_inline_budget_reads_each_page_once_in_a_thread(client, store, monkeypatch):
    monkeypatch.setattr(store, "inline_budget_s", 0.0)  # as PostGIS: reads wait on the database
    seen = _watch(store, monkeypatch)
    matched, features = _features(client.get(T, params=STATE))
    assert len(seen) == 1 and seen[0][1] > 1e-3 and len(features) == 100 < matched
