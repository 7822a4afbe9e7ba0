"""The equity operations as OGC API - Processes, generated from :data:`geosvc.equity.operations.OPERATIONS`.

pygeoapi *describes* them: :func:`add_processes` (a ``create_app`` config extension) adds one
``process`` resource per operation, whose processor (:mod:`geosvc.ogc.processes.equity`) carries the
description. geosvc *executes* them: :func:`install_process_execution` routes
``POST /ogc/processes/equity-<operation>/execution`` (matched before the pygeoapi mount) to the
app's own :class:`~geosvc.equity.service.EquityService`, so two apps in one process never answer
from each other's store, and no process-wide service exists.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from geosvc.equity.operations import OPERATIONS
from geosvc.equity.report import FORMATS, encode
from geosvc.errors import InvalidParameter
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer

PREFIX = "equity-"
PROCESSORS = {f"{PREFIX}{name}": "geosvc.ogc.processes.equity.EquityProcessor" for name in OPERATIONS}
"""Process id -> processor class (dotted path); the processor's ``operation`` names the operation."""

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
]
"""Processes classes honoured (synchronous execution only: no job list, no callbacks)."""
_EXECUTE_KEYS = {"inputs", "outputs", "response"}


def process_resources() -> dict[str, dict[str, Any]]:
    """pygeoapi ``resources`` entries of the equity processes."""
    return {
        process_id: {"type": "process", "processor": {"name": name, "operation": process_id.removeprefix(PREFIX)}}
        for process_id, name in PROCESSORS.items()
    }


def add_processes(config: dict[str, Any], layers: list[PublishedLayer], settings: Settings) -> None:
    """Config extension for :func:`geosvc.ogc.config.build_config`: add the equity processes."""
    config["resources"].update(process_resources())


def execution_inputs(body: bytes) -> tuple[dict[str, Any], str]:
    """The ``inputs`` of an OGC execute request body and the output format (input ``f``, default json).

    >>> execution_inputs(b'{"inputs": {"groups": [], "f": "csv"}}')
    ({'groups': []}, 'csv')
    >>> execution_inputs(b'{"inputs": [1]}')
    Traceback (most recent call last):
    ...
    geosvc.errors.InvalidParameter: parameter 'inputs': must be an object of named process inputs
    """
    try:
        document = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"not valid JSON ({exc})", param="body") from exc
    if not isinstance(document, dict) or set(document) - _EXECUTE_KEYS:
        raise InvalidParameter(f"an execute request is an object with {', '.join(sorted(_EXECUTE_KEYS))}",
                               param="body")
    inputs = document.get("inputs", {})
    if not isinstance(inputs, dict):
        raise InvalidParameter("must be an object of named process inputs", param="inputs")
    inputs = dict(inputs)
    fmt = inputs.pop("f", "json")
    if fmt not in FORMATS:
        raise InvalidParameter(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})", param="f")
    return inputs, fmt


def install_process_execution(app: FastAPI) -> None:
    """Route each equity process's execution to ``app.state.equity`` (call before mounting pygeoapi)."""
    for name in OPERATIONS:
        _add_execution(app, name)


def _add_execution(app: FastAPI, name: str) -> None:
    async def execute(request: Request) -> Response:
        inputs, fmt = execution_inputs(await request.body())
        report = await run_in_threadpool(request.app.state.equity.run, name, inputs, None,
                                         request.state.snapshot.layers, request.state.snapshot.record_level)
        body, media_type = encode(report, fmt)
        request.app.state.audit_equity(request.scope, report, body)
        return Response(body, media_type=media_type)

    app.add_api_route(f"/ogc/processes/{PREFIX}{name}/execution", execute, methods=["POST"],
                      include_in_schema=False)
