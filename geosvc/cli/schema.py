"""``geosvc schema``: print the JSON Schema of a layer record (for editors checking ``layers/*.yaml``)."""

from __future__ import annotations

import json

import typer

from geosvc.cli.common import guarded
from geosvc.records.models import LayerRecord


@guarded
def schema() -> None:
    """Print the JSON Schema of a layer record."""
    typer.echo(json.dumps(LayerRecord.model_json_schema(), indent=2))
