"""The runnable examples in geosvc.crs and the validation modules' docstrings stay correct."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "geosvc.crs",
    "geosvc.validate.codes",
    "geosvc.validate.coords",
    "geosvc.validate.features",
    "geosvc.validate.freshness",
    "geosvc.validate.geometry",
    "geosvc.validate.join",
    "geosvc.sources.records",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 1
    assert result.failed == 0
