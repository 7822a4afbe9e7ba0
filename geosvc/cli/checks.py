"""Validation as the CLI runs it: every layer gets a report (even when its record or a rule breaks).

Heavy imports (geopandas via geosvc.validate) happen inside the functions, so usage errors stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geosvc.errors import GeosvcError, RecordError, SourceError

if TYPE_CHECKING:
    from geosvc.records.models import LayerRecord
    from geosvc.settings import Settings
    from geosvc.store.base import Store
    from geosvc.validate.findings import LayerReport


def broken_record_report(layer_id: str, exc: RecordError) -> LayerReport:
    """The report of a record that does not parse: one ``record.invalid`` error."""
    from geosvc.validate.findings import Finding, LayerReport

    return LayerReport(layer=layer_id, findings=[Finding(layer_id, "record.invalid", "error", exc.message)])


def validate_record(record: LayerRecord, settings: Settings, store: Store | None = None) -> LayerReport:
    """Run :func:`geosvc.validate.validate_layer` (``store``: the published layers a record-level layer
    refers to); an exception becomes an error finding of this layer."""
    from geosvc.validate.findings import Finding, LayerReport
    from geosvc.validate.layer import validate_layer

    try:
        return validate_layer(record, settings, store=store)
    except SourceError as exc:
        finding = Finding(record.id, exc.code, "error", exc.message)
    except GeosvcError as exc:
        finding = Finding(record.id, "validate.failed", "error", exc.message)
    except Exception as exc:  # noqa: BLE001 - a crashing rule must not hide the other layers
        first = (str(exc).strip().splitlines() or [""])[0]
        finding = Finding(record.id, "validate.crashed", "error", f"{type(exc).__name__}: {first}")
    return LayerReport(layer=record.id, findings=[finding])


def validate_and_record(record: LayerRecord, settings: Settings, store: Store) -> LayerReport:
    """Validate one layer and store the run in the catalog."""
    report = validate_record(record, settings, store)
    store.record_validation(report)
    return report
