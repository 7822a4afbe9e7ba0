"""pygeoapi processors for the equity operations: one small class per operation, one shared base.

Each processor validates its inputs with the same pydantic request model as ``/equity`` and runs
the same :class:`~geosvc.equity.service.EquityService` (one per settings, per process, built on
first use, or the one ``create_app`` made), so both interfaces answer identically, disclosure
control included, from the same caches.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import orjson
from pygeoapi.process.base import BaseProcessor

from geosvc.equity.report import FORMATS, encode
from geosvc.equity.requests import OPERATIONS
from geosvc.equity.service import shared_service
from geosvc.errors import InvalidParameter
from geosvc.settings import Settings

TITLES = {
    "exposure": "Hazard exposure by group and place",
    "access": "Access to facilities by group and place",
    "disparity": "Disparity indices over groups",
    "svi": "CDC/ATSDR Social Vulnerability Index ranking",
}
_FORMAT_INPUT = {
    "title": "Output format",
    "description": "json (default), geojson (places with results as properties) or csv",
    "schema": {"type": "string", "enum": list(FORMATS), "default": "json"},
    "minOccurs": 0,
    "maxOccurs": 1,
}


def _inline_refs(schema: Any, defs: dict) -> Any:
    """Replace ``$ref: #/$defs/X`` by the definition (process descriptions must be self-contained)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline_refs(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline_refs(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline_refs(v, defs) for v in schema]
    return schema


@functools.lru_cache(maxsize=None)
def process_metadata(operation: str) -> dict:
    """The OGC process description of ``operation``, from its request model's JSON Schema."""
    model = OPERATIONS[operation]
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    inputs = {}
    for name, prop in schema["properties"].items():
        prop = _inline_refs(prop, defs)
        inputs[name] = {
            "title": prop.pop("title", name),
            "description": prop.pop("description", ""),
            "schema": prop,
            "minOccurs": 1 if name in required else 0,
            "maxOccurs": 1,
        }
    inputs["f"] = _FORMAT_INPUT
    return {
        "version": "1.0.0",
        "id": f"equity-{operation}",
        "title": {"en": TITLES[operation]},
        "description": {"en": (model.__doc__ or TITLES[operation]).strip().splitlines()[0]
                        + " Disclosure control applies to every output."},
        "jobControlOptions": ["sync-execute"],
        "keywords": ["equity", "disparity", operation],
        "links": [],
        "inputs": inputs,
        "outputs": {
            "result": {
                "title": "Protected answer",
                "description": "Results, method, protections and provenance (or GeoJSON / CSV with f)",
                "schema": {"type": "object", "contentMediaType": "application/json"},
            }
        },
        "example": {"inputs": schema.get("examples", [{}])[0]},
    }


class EquityProcessor(BaseProcessor):
    """Base processor: ``operation`` names the :class:`EquityService` method to run."""

    operation = ""

    def __init__(self, processor_def: dict):
        # pygeoapi edits descriptions in place when it builds the OpenAPI document: give it a copy
        super().__init__(processor_def, copy.deepcopy(process_metadata(self.operation)))
        settings = processor_def.get("settings")
        if settings is None:
            raise ValueError(f"processor {processor_def.get('name')} needs the geosvc settings")
        self._settings = Settings.model_validate(settings)

    def execute(self, data: dict, outputs: dict | None = None) -> tuple[str, Any]:
        """Run the operation on ``data`` (the process inputs); errors become 400 job failures."""
        inputs = dict(data or {})
        fmt = inputs.pop("f", "json")
        if fmt not in FORMATS:
            raise InvalidParameter(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})", param="f")
        report = shared_service(self._settings).run(self.operation, inputs)
        body, media_type = encode(report, fmt)
        if fmt == "csv":
            return "text/csv", body.decode("utf-8")
        return ("application/json" if fmt == "json" else "application/geo+json"), orjson.loads(body)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}> {self.name}"


class ExposureProcessor(EquityProcessor):
    """Hazard exposure by group and place."""

    operation = "exposure"


class AccessProcessor(EquityProcessor):
    """Access to facilities by group and place."""

    operation = "access"


class DisparityProcessor(EquityProcessor):
    """Disparity indices over groups."""

    operation = "disparity"


class SviProcessor(EquityProcessor):
    """CDC/ATSDR SVI ranking."""

    operation = "svi"
