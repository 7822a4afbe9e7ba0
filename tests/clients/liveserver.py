"""Helpers of the real-client tests: the live server handle, expected ids, test windows."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geosvc.records.loader import load_records
from geosvc.records.models import LayerRecord
from geosvc.settings import load_settings
from geosvc.store.base import PublishedLayer
from geosvc.store.base import Store

ROOT = Path(__file__).resolve().parents[2]
GEOSVC = Path(sys.executable).parent / "geosvc"


def vector_records() -> list[LayerRecord]:
    """Public vector records of the sample catalog (what every client must load), by id."""
    records = load_records(load_settings().layers.dir)
    return [r for r in records.values() if r.kind == "vector" and r.sensitivity == "public"]


VECTOR_IDS = [r.id for r in vector_records()]


def require(program: str) -> str:
    """Path of ``program``, or skip the test with the reason."""
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (bash scripts/setup.sh --test)")
    return path


def expected_ids(frame: gpd.GeoDataFrame, layer: PublishedLayer) -> list[str]:
    """Served feature ids of ``frame`` rows: the record's id field, else the 1-based row number."""
    id_field = layer.record.id_field
    if id_field:
        return [str(v) for v in frame[id_field]]
    return [str(i + 1) for i in range(len(frame))]


@dataclass(frozen=True)
class LiveServer:
    """A running ``geosvc serve`` and the store behind it."""

    base_url: str
    store: Store
    layers: dict[str, PublishedLayer]

    @property
    def ogc_url(self) -> str:
        return f"{self.base_url}/ogc"

    def layer(self, layer_id: str) -> PublishedLayer:
        """The published layer, failing the test if the sample catalog did not publish it."""
        if layer_id not in self.layers:
            log = self.store.root / "publish.log"
            tail = log.read_text()[-1500:] if log.exists() else ""
            pytest.fail(f"layer '{layer_id}' is in the sample catalog but was not published:\n{tail}")
        return self.layers[layer_id]

    def ids_in_bbox(self, layer_id: str, bbox) -> list[str]:
        """Sorted ids of the features whose geometry intersects ``bbox``, straight from the store."""
        frame = self.store.read_features(self.store.get(layer_id))
        hits = frame.sindex.query(shapely.box(*bbox), predicate="intersects")
        ids = expected_ids(frame, self.layers[layer_id])
        return sorted(ids[i] for i in hits)


def inner_bbox(bbox, fraction: float = 0.5) -> tuple[float, float, float, float]:
    """The middle ``fraction`` of ``bbox`` (a test window that holds some but not all features)."""
    minx, miny, maxx, maxy = bbox
    dx, dy = (maxx - minx) * (1 - fraction) / 2, (maxy - miny) * (1 - fraction) / 2
    return (round(minx + dx, 6), round(miny + dy, 6), round(maxx - dx, 6), round(maxy - dy, 6))
