"""Jinja2 rendering of the portal's templates (autoescaped HTML)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"


@functools.cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson_attr"] = lambda value: json.dumps(value, default=str)
    return env


def render(template: str, **context) -> str:
    """``template`` rendered with ``context``."""
    return environment().get_template(template).render(**context)
