"""Shared fixtures of the equity tests."""

from __future__ import annotations

import numpy as np
import pytest
from shapely import area, box, intersection


@pytest.fixture
def toy_weights() -> np.ndarray:
    """Share of the §7 toy tracts A and B (EPSG:26918 boxes) inside the hazard zone, shape (1, 2)."""
    tracts = np.array([box(0, 0, 2000, 1000), box(2000, 0, 4000, 1000)])
    zone = box(1500, 0, 3500, 1000)
    return (area(intersection(tracts, zone)) / area(tracts))[None, :]
