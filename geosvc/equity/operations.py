"""The registry of equity operations: each defined once, as a request model, a title, a summary and a run.

The ``/equity/*`` routes (:mod:`geosvc.api.routes.equity`) and the OGC API Processes
(:mod:`geosvc.ogc.processes`) are both generated from :data:`OPERATIONS`. Adding an operation is one
module (its math, its request model and its ``run``) plus one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from geosvc.equity import disparity, svi, tabulate
from geosvc.equity.report import Report
from geosvc.equity.requests import (
    AccessRequest, DisparityRequest, EquityRequest, ExposureRequest, SviRequest, TabulateRequest,
)
from geosvc.errors import InvalidParameter

if TYPE_CHECKING:
    from geosvc.equity.budget import Budget
    from geosvc.equity.service import EquityService


@dataclass(frozen=True)
class Operation:
    """One equity operation: ``run(service, request, budget)`` answers a validated ``request`` model."""

    name: str
    request: type[EquityRequest]
    title: str
    summary: str
    run: Callable[[EquityService, Any, Budget], Report]


OPERATIONS: dict[str, Operation] = {op.name: op for op in [
    Operation("exposure", ExposureRequest, "Hazard exposure by group and place",
              "Who lives in a hazard zone, by group and place",
              lambda service, request, budget: service.exposure(request, budget)),
    Operation("access", AccessRequest, "Access to facilities by group and place",
              "Distance to the nearest facility and 2SFCA accessibility, by group and place",
              lambda service, request, budget: service.access(request, budget)),
    Operation("disparity", DisparityRequest, "Disparity indices over groups",
              "Disparity indices (ID, weighted ID, Gini, Theil) and RR/RD over groups",
              lambda service, request, budget: disparity.disparity_report(request, service.settings.equity.suppression_k)),
    Operation("svi", SviRequest, "CDC/ATSDR Social Vulnerability Index ranking",
              "CDC/ATSDR Social Vulnerability Index ranking",
              lambda service, request, budget: svi.svi_report(request, service.settings.equity.suppression_k)),
    Operation("tabulate", TabulateRequest, "Counts and rates from record-level data by place and group",
              "Protected counts and rates of a record-level layer by a published geography x declared dimensions",
              tabulate.tabulate_report),
]}
"""Operation name -> :class:`Operation`."""


def operation(name: str) -> Operation:
    """The registered operation ``name`` (:class:`~geosvc.errors.InvalidParameter` if unknown)."""
    if name not in OPERATIONS:
        raise InvalidParameter(f"unknown operation '{name}' (use one of {', '.join(OPERATIONS)})",
                               param="operation")
    return OPERATIONS[name]
