"""The code table documents every code rules can emit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import geosvc.sources
import geosvc.validate
from geosvc.validate.codes import CODES, make_finding

SOURCES = Path(geosvc.sources.__file__).parent
VALIDATE = Path(geosvc.validate.__file__).parent
CODE = re.compile(r'"((?:source|crs|coords|geometry|id|join|metadata|equity|time|freshness|raster|records)\.[a-z_]+)"')


def test_every_code_is_documented_once_with_severity_meaning_and_action():
    for code, entry in CODES.items():
        assert entry.code == code and entry.severity in ("error", "warning", "info")
        assert entry.meaning.endswith(".") and entry.publish


@pytest.mark.parametrize("folder", [SOURCES, VALIDATE], ids=["sources", "validate"])
def test_codes_used_in_code_are_in_the_table(folder):
    used = {m for path in folder.glob("*.py") for m in CODE.findall(path.read_text())}
    assert used, folder
    assert used - set(CODES) == set()


def test_make_finding_refuses_undocumented_codes_and_caps_examples():
    with pytest.raises(KeyError):
        make_finding("x", "crs.bogus", "no")
    finding = make_finding("x", "id.duplicate", "dups", count=9, examples=range(9))
    assert finding.examples == ("0", "1", "2", "3", "4") and finding.severity == "error"
    assert make_finding("x", "coords.outside_state", "far", severity="info").severity == "info"
