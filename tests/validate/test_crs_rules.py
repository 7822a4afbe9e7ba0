"""CRS rules: declared, known, allowed (semantically) and consistent with the record."""

from __future__ import annotations

from pyproj import CRS

from geosvc.validate.crs import check_crs

ALLOWED = ["OGC:CRS84", "EPSG:4269", "EPSG:2234"]


def _codes(findings):
    return [(f.code, f.severity) for f in findings]


def test_esri_wkt_of_an_allowed_crs_is_allowed(make_record):
    wkt = CRS("EPSG:4269").to_wkt("WKT1_ESRI")
    assert check_crs(make_record(crs="EPSG:4269"), CRS(wkt), ALLOWED) == []


def test_epsg_4326_matches_allowed_crs84(make_record):
    assert check_crs(make_record(crs="EPSG:4326"), CRS("EPSG:4326"), ALLOWED) == []


def test_not_allowed_and_mismatch(make_record):
    findings = check_crs(make_record(crs="EPSG:4269"), CRS("EPSG:26918"), ALLOWED)
    assert _codes(findings) == [("crs.not_allowed", "error"), ("crs.mismatch", "error")]
    assert "EPSG:26918" in findings[0].message


def test_assumed_crs_is_noted_not_a_mismatch(make_record):
    record = make_record(crs=None, source={"path": "x.csv", "assume_crs": "EPSG:4269"})
    assert _codes(check_crs(record, CRS("EPSG:4269"), ALLOWED, crs_source="assume_crs")) == [("crs.assumed", "info")]


def test_missing_vs_unparsable_prj(make_record, tmp_path):
    shp = tmp_path / "a.shp"
    assert _codes(check_crs(make_record(crs=None), None, ALLOWED, local_path=shp)) == [("crs.missing", "error")]
    shp.with_suffix(".prj").write_text("LOCAL_CS[nonsense")
    (finding,) = check_crs(make_record(crs=None), None, ALLOWED, local_path=shp)
    assert finding.code == "crs.unknown" and "LOCAL_CS[nonsense" in finding.message


def test_unknown_record_crs(make_record):
    findings = check_crs(make_record(crs="EPSG:12345678"), CRS("EPSG:4269"), ALLOWED)
    assert ("crs.unknown", "error") in _codes(findings)
