"""Store backends by name: ``open_store(settings)`` is the one way to get a store.

A new backend is one module with a class taking ``Settings`` plus one entry here.
"""

from __future__ import annotations

import importlib

from geosvc.settings import Settings
from geosvc.store.base import Store

BACKENDS = {"gpkg": "geosvc.store.gpkg:GpkgStore", "postgis": "geosvc.store.postgis:PostgisStore"}


def open_store(settings: Settings) -> Store:
    """The store that ``settings`` select (``store.backend``)."""
    module, _, name = BACKENDS[settings.store.backend].partition(":")
    return getattr(importlib.import_module(module), name)(settings)
