"""The four sample layers the equity answers need, validated and published into a temporary store.

Shared by ``tests/equity/test_service*.py``, ``tests/api/test_equity*.py``,
``tests/ogc/test_processes.py`` and ``benchmarks/bench_equity_http.py``.
"""

from __future__ import annotations

from pathlib import Path

from geosvc.records.loader import load_records
from support.postgis import store_settings

from geosvc.settings import Settings
from geosvc.store.backends import open_store
from geosvc.store.base import Store
from geosvc.store.publish import publish_layer, publish_order
from geosvc.validate.layer import validate_layer

EQUITY_LAYERS = ["ct-tracts-2010", "ct-towns", "us-drought-20161004", "ct-hospitals"]
"""Population with equity dimensions, places, a national hazard layer, facilities."""
RESTRICTED = "ct-tracts-restricted"
"""A restricted copy of the tracts (never served, so never analysed)."""

DROUGHT = {"collection": "us-drought-20161004", "filter": "DM >= 2"}
HARTFORD_BOX = {"type": "Polygon", "coordinates": [[[-72.75, 41.72], [-72.62, 41.72], [-72.62, 41.80],
                                                    [-72.75, 41.80], [-72.75, 41.72]]]}
"""A caller-drawn box over Hartford (CRS84)."""


def publish_equity_sample(store_dir: Path) -> tuple[Settings, Store]:
    """Validate and publish :data:`EQUITY_LAYERS` (and :data:`RESTRICTED`) into ``store_dir``."""
    settings = store_settings(store_dir=store_dir)
    store = open_store(settings)
    records = load_records(settings.layers.dir, EQUITY_LAYERS)
    records[RESTRICTED] = records["ct-tracts-2010"].model_copy(update={"id": RESTRICTED, "sensitivity": "restricted"})
    for record in publish_order(records.values()):
        publish_layer(record, validate_layer(record, settings), store, settings)
    return settings, store


RECORDS = "synthetic-cases"
"""The synthetic record-level layer of :func:`publish_record_sample`."""
RECORD_PEOPLE = 2000
RECORD_DENOMINATORS = {"layer": "ct-tracts-2010", "categories": {"race_ethnicity": {
    "hispanic": "hispanic", "white_nh": "nh_white", "black_nh": "nh_black"}}}


def publish_record_sample(root: Path, geographies: tuple[str, ...] = ("ct-towns", "ct-tracts-2010")):
    """The equity sample plus :data:`RECORDS` (seeded synthetic people from the tract populations,
    tabulated by ``geographies``, race/ethnicity denominators from the tracts, a privacy budget of
    two releases) published under ``root``; returns settings, store and the people (CRS84, the truth)."""
    from geosvc.records.models import LayerRecord
    from support.synthetic_records import ct_tract_populations, make_records, write_record_layer

    settings, store = publish_equity_sample(root / "store")
    people = make_records(ct_tract_populations(), RECORD_PEOPLE, seed=11)
    record, _ = write_record_layer(root / "src", people, "gpkg", layer_id=RECORDS)
    record["record_level"] |= {"geographies": list(geographies), "denominators": RECORD_DENOMINATORS,
                               "privacy": {"epsilon": 0.5, "budget": 1.0}}
    record = LayerRecord.model_validate(record)
    report = validate_layer(record, settings, store=store)
    assert report.ok, report.findings
    publish_layer(record, report, store, settings)
    return settings, store, people.to_crs("OGC:CRS84")


def small_counts(values, k: int) -> list[float]:
    """Every number in ``values`` strictly between 0 and ``k`` (what must never be published)."""
    found = []
    for value in values:
        if isinstance(value, bool) or value is None or value == "":
            continue
        number = float(value)
        if 0 < number < k:
            found.append(number)
    return found


def comb_zone(teeth: int, west: float = -73.6, east: float = -71.8, south: float = 41.0,
              north: float = 42.0) -> dict:
    """A valid comb-shaped Polygon over Connecticut (CRS84): a spine along the south edge and ``teeth``
    thin teeth reaching north, ``4 * teeth + 3`` vertices. It crosses almost every tract."""
    width = (east - west) / teeth
    ring = [(west, south)]
    for i in range(teeth):
        x = west + i * width
        ring += [(x, north), (x + width / 2, north), (x + width / 2, south + 0.05), (x + width, south + 0.05)]
    ring += [(east, south), (west, south)]
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}
