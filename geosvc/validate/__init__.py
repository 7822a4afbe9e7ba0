"""Validation: a record and its source -> findings. Imports no web framework."""

from geosvc.validate.codes import CODES, Code
from geosvc.validate.findings import Finding, LayerReport
from geosvc.validate.repair import repair_geometries
from geosvc.validate.layer import validate_layer, validate_layers

__all__ = ["CODES", "Code", "Finding", "LayerReport", "repair_geometries", "validate_layer", "validate_layers"]
