"""Reuse the OGC session fixtures (one published sample store and one app for the whole run)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("ogc_conftest", Path(__file__).parents[1] / "ogc" / "conftest.py")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

settings = _module.settings
store = _module.store
app = _module.app
client = _module.client
ogc_url = _module.ogc_url
RESTRICTED_ID = _module.RESTRICTED_ID
