"""Real Connecticut sample layers validated and published into a store, plus a restricted copy."""

from __future__ import annotations

from geosvc.records.loader import load_records
from geosvc.settings import Settings
from geosvc.store.backends import open_store
from geosvc.store.base import Store
from geosvc.store.publish import publish_layer, publish_order
from geosvc.validate.layer import validate_layer

SAMPLE_IDS = ["ct-towns", "ct-tracts-2010", "ct-hospitals", "ct-public-schools", "ct-population-density"]
RESTRICTED_ID = "ct-towns-restricted"


def publish_samples(settings: Settings, ids: list[str] = SAMPLE_IDS) -> Store:
    """Validate and publish ``ids`` (plus a restricted copy of ct-towns) into ``settings.store.dir``."""
    store = open_store(settings)
    records = load_records(settings.layers.dir, ids)
    if "ct-towns" in records:
        restricted = records["ct-towns"].model_copy(update={"id": RESTRICTED_ID, "sensitivity": "restricted"})
        records[RESTRICTED_ID] = restricted
    for record in publish_order(records.values()):
        publish_layer(record, validate_layer(record, settings), store, settings)
    return store
