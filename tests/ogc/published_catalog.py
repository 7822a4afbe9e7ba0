"""The real sample catalog validated and published into a temporary store (for records / coverage tests)."""

from __future__ import annotations

from pathlib import Path

from geosvc.records.loader import load_records
from geosvc.settings import Settings, load_settings
from geosvc.store.gpkg import GpkgStore
from geosvc.store.publish import publish_layer, publish_order
from geosvc.validate.layer import validate_layer


def publish_catalog(store_dir: Path) -> tuple[Settings, GpkgStore]:
    """Validate and publish every sample record into ``store_dir`` (about 5 s)."""
    settings = load_settings(store_dir=store_dir)
    store = GpkgStore(settings)
    for record in publish_order(load_records(settings.layers_dir).values()):
        publish_layer(record, validate_layer(record, settings), store, settings)
    return settings, store
