"""Shapefile integrity: GDAL reads a truncated ``.shp`` silently (missing records become null geometries)."""

from __future__ import annotations

import struct
from pathlib import Path

from geosvc.validate.codes import make_finding
from geosvc.validate.findings import Finding

_HEADER = 100  # bytes; the file length (in 16-bit words, big-endian) is at offset 24


def check_shapefile(path: Path, layer: str) -> list[Finding]:
    """``source.corrupt`` when the ``.shp`` or ``.shx`` is shorter than its header says."""
    findings = []
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
