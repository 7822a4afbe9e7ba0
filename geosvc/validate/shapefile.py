"""Shapefile integrity: GDAL silently reads a truncated ``.shp`` (null geometries) or one without its ``.dbf`` (no attributes)."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path, PurePosixPath

from geosvc.sources.location import Location
from geosvc.validate.codes import make_finding
from geosvc.validate.findings import Finding

_HEADER = 100  # bytes; the file length (in 16-bit words, big-endian) is at offset 24


def _dbf_finding(shp: str, layer: str) -> Finding:
    return make_finding(layer, "source.dbf_missing", f"{shp} has no .dbf beside it: the features would have no attributes")


def _zipped_dbf_missing(loc: Location) -> bool:
    member = PurePosixPath(loc.gdal_path.split(f"{loc.local}/", 1)[1])
    with zipfile.ZipFile(loc.local) as zf:
        names = {n.lower() for n in zf.namelist()}
    return str(member.with_suffix(".dbf")).lower() not in names


def check_shapefile(loc: Location, layer: str) -> list[Finding]:
    """``source.dbf_missing`` without a ``.dbf``; ``source.corrupt`` when the ``.shp`` or ``.shx`` is shorter than its header says."""
    if loc.local is None or loc.suffix != ".shp":
        return []
    if loc.local.suffix.lower() == ".zip":
        return [_dbf_finding(PurePosixPath(loc.gdal_path).name, layer)] if _zipped_dbf_missing(loc) else []
    path: Path = loc.local
    findings = [] if any(path.with_suffix(s).exists() for s in (".dbf", ".DBF")) else [_dbf_finding(path.name, layer)]
    for part in (path.with_suffix(".shp"), path.with_suffix(".shx")):
        try:
            with open(part, "rb") as fh:
                header = fh.read(_HEADER)
            size = part.stat().st_size
        except OSError:
            continue  # a missing part is reported by the reader
        if len(header) < _HEADER:
            continue
        declared = struct.unpack(">i", header[24:28])[0] * 2
        if size < declared:
            findings.append(
                make_finding(
                    layer, "source.corrupt",
                    f"{part.name} is truncated: its header says {declared} bytes, the file has {size}",
                )
            )
    return findings
