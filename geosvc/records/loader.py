"""Read layer records from YAML files."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from geosvc.errors import NotFound, RecordError
from geosvc.records.models import LayerRecord


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def load_record(path: Path) -> LayerRecord:
    """Parse one YAML record; raise :class:`RecordError` with a one-line cause."""
    layer = path.stem
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RecordError(f"cannot read record {path.name}: {exc}".splitlines()[0], layer=layer) from exc
    if not isinstance(data, dict):
        raise RecordError(f"record {path.name} is not a mapping", layer=layer)
    try:
        record = LayerRecord.model_validate(data)
    except ValidationError as exc:
        raise RecordError(f"invalid record {path.name}: {_describe(exc)}", layer=layer) from exc
    if record.id != layer:
        raise RecordError(f"record id '{record.id}' does not match file name {path.name}", layer=layer)
    return record


def load_records(layers_dir: Path, ids: list[str] | None = None) -> dict[str, LayerRecord]:
    """Load every ``*.yaml`` in ``layers_dir`` (or only ``ids``), keyed by id, sorted."""
    paths = {p.stem: p for p in sorted(layers_dir.glob("*.yaml"))}
    if ids:
        unknown = [i for i in ids if i not in paths]
        if unknown:
            raise NotFound(f"no record {', '.join(unknown)} in {layers_dir}", layer=unknown[0])
        paths = {i: paths[i] for i in ids}
    return {layer_id: load_record(path) for layer_id, path in paths.items()}
