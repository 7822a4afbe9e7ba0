"""The runnable examples in the equity modules' docstrings stay correct (also under ``--doctest-modules``)."""

from __future__ import annotations

import doctest

import pytest

from geosvc.equity import disparity, moe, suppression, svi


@pytest.mark.parametrize("module", [moe, disparity, svi, suppression], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3
    assert result.failed == 0
