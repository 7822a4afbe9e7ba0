"""The runnable examples in the plan-metrics and metadata docstrings stay correct."""

from __future__ import annotations

import doctest

import pytest

from geosvc import plan_metrics
from geosvc.metadata import disaggregation, links


@pytest.mark.parametrize("module", [plan_metrics, disaggregation, links], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted >= 1
    assert result.failed == 0
