"""geosvc: a geospatial data coordination service (registry, OGC API, place-based equity)."""

__version__ = "0.1.0"
