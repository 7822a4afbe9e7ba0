"""The pygeoapi processor of the equity operations: it describes an operation, geosvc executes it.

pygeoapi builds processors by dotted path from its YAML configuration, so a processor cannot hold
the app's service; execution is therefore routed by :func:`geosvc.ogc.processes.install_process_execution`
and never reaches :meth:`EquityProcessor.execute`.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from pygeoapi.process.base import BaseProcessor

from geosvc.equity.operations import operation as lookup_operation
from geosvc.equity.report import FORMATS
from geosvc.equity.requests import request_schema
from geosvc.errors import InvalidParameter

_FORMAT_INPUT = {
    "title": "Output format",
    "description": "json (default), geojson (places with results as properties) or csv",
    "schema": {"type": "string", "enum": list(FORMATS), "default": "json"},
    "minOccurs": 0,
    "maxOccurs": 1,
}


@functools.lru_cache(maxsize=None)
def process_metadata(name: str) -> dict:
    """The OGC process description of the registered operation ``name``, from its request model."""
    op = lookup_operation(name)
    schema = request_schema(op.request)
    required = set(schema.get("required", []))
    inputs = {}
    for field, prop in schema["properties"].items():
        prop = dict(prop)
        inputs[field] = {
            "title": prop.pop("title", field),
            "description": prop.pop("description", ""),
            "schema": prop,
            "minOccurs": 1 if field in required else 0,
            "maxOccurs": 1,
        }
    inputs["f"] = _FORMAT_INPUT
    return {
        "version": "1.0.0",
        "id": f"equity-{name}",
        "title": {"en": op.title},
        "description": {"en": (op.request.__doc__ or op.title).strip().splitlines()[0]
                        + " Disclosure control applies to every output."},
        "jobControlOptions": ["sync-execute"],
        "keywords": ["equity", "disparity", name],
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
    """Describes the operation named by the processor definition's ``operation``."""

    def __init__(self, processor_def: dict):
        self.operation = processor_def.get("operation")
        # pygeoapi edits descriptions in place when it builds the OpenAPI document: give it a copy
        super().__init__(processor_def, copy.deepcopy(process_metadata(self.operation)))

    def execute(self, data: dict, outputs: dict | None = None) -> tuple[str, Any]:
        """Not reached in a geosvc app (its own route executes); refused clearly elsewhere."""
        raise InvalidParameter(f"equity-{self.operation} is executed by geosvc's own route, not by pygeoapi",
                               param="process")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}> {self.name}"
