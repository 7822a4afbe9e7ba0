"""Fixtures of the feed tests: a local upstream HTTP server and a sandbox."""

from __future__ import annotations

import pytest
from feedkit import Sandbox
from upstream import serving


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    return Sandbox(tmp_path)


@pytest.fixture
def upstream():
    with serving() as state:
        yield state
