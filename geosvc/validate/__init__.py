"""Validation: a record and its source -> findings. Imports no web framework."""
