"""CRS rules: a CRS is declared, known to PROJ, allowed, and agrees with the record."""

from __future__ import annotations

from pathlib import Path

from geosvc.crs import CRS, crs_authority, crs_label, find_crs, parse_crs
from geosvc.records.models import LayerRecord
from geosvc.validate.codes import make_finding
from geosvc.validate.findings import Finding


def _prj_text(path: Path | None) -> str:
    """The non-blank content of a shapefile's sidecar ``.prj``, or ''."""
    if path is None or path.suffix.lower() != ".shp":
        return ""
    prj = path.with_suffix(".prj")
    try:
        return prj.read_text(errors="replace").strip() if prj.exists() else ""
    except OSError:
        return ""


def check_crs(
    record: LayerRecord,
    data_crs: CRS | None,
    allowed: list[str],
    *,
    crs_source: str | None = "file",
    local_path: Path | None = None,
) -> list[Finding]:
    """Findings about the layer's CRS.

    Parameters
    ----------
    record
        The layer record (its ``crs`` and ``source.assume_crs`` are checked too).
    data_crs
        The CRS of the data as read (``None`` when nothing declares one).
    allowed
        ``settings.crs.allowed``; compared semantically, so an ESRI WKT of EPSG:4269 is allowed.
    crs_source
        Where ``data_crs`` came from: ``"file"``, ``"assume_crs"`` or ``"record"``.
    local_path
        The source file, used to tell an unparsable ``.prj`` (``crs.unknown``) from none (``crs.missing``).
    """
    layer = record.id
    findings: list[Finding] = []
    declared = {"crs": record.crs, "source assume_crs": record.source.assume_crs if record.source else None}
    for name, value in declared.items():
        if value and parse_crs(value) is None:
            findings.append(make_finding(layer, "crs.unknown", f"record {name} '{value}' is unknown to PROJ"))

    if data_crs is None:
        prj = _prj_text(local_path)
        if prj:
            shown = prj if len(prj) <= 50 else prj[:47] + "..."
            findings.append(make_finding(layer, "crs.unknown", f".prj content '{shown}' is not a CRS GDAL/PROJ can parse"))
        elif not findings:
            findings.append(
                make_finding(layer, "crs.missing", "the source declares no CRS; set source.assume_crs in the record")
            )
        return findings

    if crs_source in ("assume_crs", "record"):
        findings.append(
            make_finding(layer, "crs.assumed", f"the source declares no CRS; using {crs_label(data_crs)} from record {crs_source}")
        )
    if find_crs(data_crs, allowed) is None:
        if crs_authority(data_crs) is None:
            findings.append(
                make_finding(layer, "crs.unknown", f"CRS '{data_crs.name}' is not identifiable in the PROJ database (and not allowed)")
            )
        else:
            findings.append(
                make_finding(layer, "crs.not_allowed", f"CRS {crs_label(data_crs)} ({data_crs.name}) is not one of {', '.join(allowed)}")
            )

    record_crs = parse_crs(record.crs) if record.crs else None
    if record_crs is not None and crs_source == "file" and find_crs(data_crs, [record.crs]) is None:
        findings.append(
            make_finding(
                layer,
                "crs.mismatch",
                f"record declares {crs_label(record_crs)} but the file says {crs_label(data_crs)} ({data_crs.name})",
            )
        )
    return findings
