"""The equity operations as OGC API - Processes (pygeoapi processors loaded by dotted path).

:func:`add_processes` is the ``create_app`` config extension: it adds one ``process`` resource per
operation to the generated pygeoapi configuration; each processor calls the same
:class:`~geosvc.equity.service.EquityService` as the ``/equity`` routes.
"""

from __future__ import annotations

from typing import Any

from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer

PROCESSORS = {
    "equity-exposure": "geosvc.ogc.processes.equity.ExposureProcessor",
    "equity-access": "geosvc.ogc.processes.equity.AccessProcessor",
    "equity-disparity": "geosvc.ogc.processes.equity.DisparityProcessor",
    "equity-svi": "geosvc.ogc.processes.equity.SviProcessor",
}
"""Process id -> processor class (dotted path)."""

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
]
"""Processes classes honoured (synchronous execution only: no job list, no callbacks)."""


def process_resources(settings: Settings) -> dict[str, dict[str, Any]]:
    """pygeoapi ``resources`` entries of the equity processes (the processors get the settings).

    Secrets stay out of the generated config (it is written to disk): a processor validating
    these values reads them again from the same config file and environment.
    """
    carried = settings.model_dump(mode="json", exclude={"store": {"dsn"}})
    return {
        process_id: {"type": "process", "processor": {"name": name, "settings": carried}}
        for process_id, name in PROCESSORS.items()
    }


def add_processes(config: dict[str, Any], layers: list[PublishedLayer], settings: Settings) -> None:
    """Config extension for :func:`geosvc.ogc.config.build_config`: add the equity processes."""
    config["resources"].update(process_resources(settings))
