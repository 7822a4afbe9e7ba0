"""Metadata rules: required fields and the completeness score."""

from __future__ import annotations

from geosvc.records.models import REQUIRED_METADATA, LayerRecord
from geosvc.validate.codes import make_finding
from geosvc.validate.findings import Finding

_OWN_CODES = {"license": "metadata.no_license", "contact": "metadata.no_contact"}


def missing_metadata(record: LayerRecord) -> list[str]:
    """Names in ``REQUIRED_METADATA`` whose value is ``None``, blank or empty."""
    missing = []
    for name in REQUIRED_METADATA:
        value = getattr(record, name)
        if value is None or (isinstance(value, str | list | tuple | dict) and not str(value).strip("[]{}() '\"")):
            missing.append(name)
    return missing


def completeness(record: LayerRecord) -> float:
    """Share of ``REQUIRED_METADATA`` present in the record (0..1)."""
    return 1 - len(missing_metadata(record)) / len(REQUIRED_METADATA)


def check_metadata(record: LayerRecord) -> list[Finding]:
    """``metadata.missing`` listing absent required fields, plus own codes for licence and contact."""
    missing = missing_metadata(record)
    score = completeness(record)
    findings = [
        make_finding(record.id, code, f"no {name} in the record (metadata completeness {score:.0%})")
        for name, code in _OWN_CODES.items()
        if name in missing
    ]
    rest = [name for name in missing if name not in _OWN_CODES]
    if rest:
        findings.append(
            make_finding(
                record.id, "metadata.missing",
                f"required metadata missing: {', '.join(rest)} (completeness {score:.0%})", count=len(rest), examples=rest,
            )
        )
    return findings
