"""geosvc.report.build_portfolio: pure metrics from hand-made records, runs and versions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from geosvc.records.models import LayerRecord
from geosvc.report import build_portfolio
from geosvc.store.base import PublishedLayer, ValidationRun

from support.postgis import store_free

pytestmark = store_free

TODAY = dt.date(2026, 11, 25)
FULL = {
    "description": "d", "keywords": ["k"], "publisher": {"agency": "A"}, "contact": {"name": "C", "email": "c@example.org"},
    "license": {"name": "CC0-1.0"}, "attribution": "a", "temporal_extent": {"start": "2020-01-01"},
}


def _record(layer_id: str, theme: str, sensitivity: str = "public", **fields) -> LayerRecord:
    base = {"id": layer_id, "title": layer_id, "theme": theme, "sensitivity": sensitivity,
            "source": {"path": "x.gpkg"}, "update_cadence": "P1Y", "last_updated": "2026-06-01"}
    return LayerRecord.model_validate(base | FULL | fields)


def _run(layer: str, ok: bool, run_id: int) -> ValidationRun:
    return ValidationRun(run_id, layer, dt.datetime(2026, 11, 1, tzinfo=dt.UTC), ok, 0 if ok else 2, 1, 1.0, False, [])


def _version(record: LayerRecord, version: int) -> PublishedLayer:
    return PublishedLayer(record.id, version, "vector", Path(f"v{version}.gpkg"), "0" * 64,
                          dt.datetime(2026, 11, version, tzinfo=dt.UTC), record, "EPSG:4326", (0, 0, 1, 1))


def test_portfolio_metrics():
    fresh = _record("fresh", "health")
    stale = _record("stale", "health", last_updated="2020-01-01")
    sparse = _record("sparse", "hazards", "restricted", description="", keywords=[], attribution=None, update_cadence="static")
    portfolio = build_portfolio(
        [stale, sparse, fresh],
        runs=[_run("fresh", True, 1), _run("stale", False, 2)],
        versions={"fresh": [_version(fresh, 1), _version(fresh, 2)]},
        today=TODAY,
        invalid_records={"broken": "invalid record broken.yaml: theme: Field required"},
    )
    assert [s.id for s in portfolio.layers] == ["fresh", "sparse", "stale"]
    assert portfolio.by_theme == {"hazards": 1, "health": 2}
    assert portfolio.by_sensitivity == {"public": 2, "restricted": 1}
    assert portfolio.stale == ["stale"]
    assert portfolio.failing == ["broken", "stale"]
    assert portfolio.not_validated == ["sparse"]
    assert portfolio.unpublished == ["sparse", "stale"]
    rows = {s.id: s for s in portfolio.layers}
    assert rows["sparse"].missing_metadata == ["description", "keywords", "attribution"]
    assert rows["sparse"].completeness == pytest.approx(0.7)
    assert rows["fresh"].published_version == 2 and rows["fresh"].versions == 2
    assert rows["stale"].update_due == dt.date(2021, 1, 1)
    assert portfolio.mean_completeness == pytest.approx((1 + 0.7 + 1) / 3)
    summary = portfolio.as_dict()["summary"]
    assert summary["layers"] == 4 and summary["invalid_records"] == {"broken": "invalid record broken.yaml: theme: Field required"}


def test_empty_portfolio():
    portfolio = build_portfolio([], [], {}, TODAY)
    assert portfolio.mean_completeness is None and portfolio.as_dict()["summary"]["layers"] == 0
