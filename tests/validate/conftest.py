"""Make ``tests/broken_inputs.py`` importable as ``broken_inputs``.

A third-party wheel installs a top-level ``tests`` package into site-packages, which shadows
``tests.broken_inputs``; putting ``tests/`` itself on the path avoids the clash.
"""

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parents[1])
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

import pytest  # noqa: E402

from geosvc.records.models import LayerRecord  # noqa: E402


@pytest.fixture
def make_record():
    """Build a valid :class:`LayerRecord` (five-point layer) with some fields overridden."""
    from broken_inputs import record_for

    def make(**fields) -> LayerRecord:
        return LayerRecord.model_validate(record_for("unit", "layer.gpkg", **fields))

    return make


@pytest.fixture(scope="session")
def settings_real():
    """Settings of the project (data root = the real Connecticut bundle)."""
    from geosvc.settings import load_settings

    return load_settings()
