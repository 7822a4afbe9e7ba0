"""Fixtures of the validation tests."""

import pytest

from geosvc.records.models import LayerRecord


@pytest.fixture
def make_record():
    """Build a valid :class:`LayerRecord` (five-point layer) with some fields overridden."""
    from support.broken_inputs import record_for

    def make(**fields) -> LayerRecord:
        return LayerRecord.model_validate(record_for("unit", "layer.gpkg", **fields))

    return make


@pytest.fixture(scope="session")
def settings_real():
    """Settings of the project (data root = the real Connecticut bundle)."""
    from geosvc.settings import load_settings

    return load_settings()
