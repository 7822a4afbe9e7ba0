"""Helpers of the feed tests: seeded point layers in Connecticut, record dicts, and a sandbox (data
root, layers dir, store) with a Syncer."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import yaml
from support.postgis import store_env, store_settings

from geosvc.store.backends import open_store

ROOT = Path(__file__).resolve().parents[2]
GEOSVC = Path(sys.executable).parent / "geosvc"


def points(n: int, seed: int = 7, *, value: int = 0) -> list[dict]:
    """``n`` seeded GeoJSON point features inside Connecticut with ``id``, ``name`` and ``value``."""
    rng = np.random.default_rng(seed)
    xs, ys = rng.uniform(-73.5, -72.0, n), rng.uniform(41.1, 41.9, n)
    return [
        {"type": "Feature", "properties": {"id": i + 1, "name": f"site {i + 1}", "value": value + i},
         "geometry": {"type": "Point", "coordinates": [round(float(x), 6), round(float(y), 6)]}}
        for i, (x, y) in enumerate(zip(xs, ys, strict=True))
    ]


def collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def record(layer_id: str, source: dict, **extra) -> dict:
    """A layer record dict for point data with an ``id`` field."""
    return {
        "id": layer_id, "title": f"Test {layer_id}", "theme": "facilities", "source": source,
        "id_field": "id", "geometry_type": "Point", "update_cadence": "P1M", **extra,
    }


class Sandbox:
    """Temp layers dir and store (the backend under test); ``write(record)`` adds a YAML record, ``syncer()``
    builds a Syncer. ``Sandbox(root, same_store=other)`` works on ``other``'s store with other settings."""

    def __init__(self, root: Path, same_store: Sandbox | None = None, **overrides):
        self.root = root
        self.layers = root / "layers"
        self.layers.mkdir(exist_ok=True)
        sync = {"sync_retries": 1, "sync_backoff": 0.05, "sync_timeout": 2.0, **overrides}
        if same_store is not None and same_store.settings.store.dsn is not None:
            sync["store_dsn"] = same_store.settings.store.dsn.get_secret_value()
            sync["store_backend"] = same_store.settings.store.backend
        self.settings = store_settings(data_root=root, layers_dir=self.layers, store_dir=root / "store", **sync)
        self.env = {"GEOSVC_DATA_ROOT": str(root), "GEOSVC_LAYERS_DIR": str(self.layers), **store_env(self.settings),
                    **{f"GEOSVC_{k.upper()}": str(v) for k, v in sync.items() if k.startswith("sync_")}}

    def write(self, data: dict) -> Path:
        path = self.layers / f"{data['id']}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    @property
    def store(self):
        return open_store(self.settings)

    def syncer(self, cancel: threading.Event | None = None):
        from geosvc.cli.checks import validate_and_record
        from geosvc.feeds.sync import Syncer

        store = self.store
        return Syncer(self.settings, store, lambda r: validate_and_record(r, self.settings, store),
                      cancel or threading.Event())

    def sync(self, layer_id: str, **kw):
        from geosvc.records.loader import load_record

        return self.syncer(**kw).sync(load_record(self.layers / f"{layer_id}.yaml"))
