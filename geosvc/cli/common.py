"""What every command shares: settings from ``--config``, consoles, layer selection, one-line errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from geosvc.errors import GeosvcError, NotFound, RecordError
from geosvc.records.loader import load_record
from geosvc.records.models import LayerRecord
from geosvc.settings import Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

WIDTH = None if sys.stdout.isatty() else 200  # pipes and CI logs get wide, unwrapped tables
out = Console(highlight=False, width=WIDTH)
err = Console(stderr=True, highlight=False, width=WIDTH)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format")]
IdsArgument = Annotated[list[str] | None, typer.Argument(help="Layer ids (default: every record)", show_default=False)]


class UsageError(GeosvcError):
    """A bad command-line input (exit code 2)."""


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    """Print a one-line error to stderr and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    return typer.Exit(code)


def guarded(command: Callable) -> Callable:
    """Turn any exception escaping a command into one line on stderr and an exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except (UsageError, NotFound) as exc:
            raise fail(str(exc), EXIT_USAGE) from None
        except GeosvcError as exc:
            raise fail(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
            first = (str(exc).strip().splitlines() or [""])[0]
            raise fail(f"unexpected {type(exc).__name__}: {first}") from None

    return wrapper


def settings_from(ctx: typer.Context) -> Settings:
    """Settings for this run, loaded once from the ``--config`` given to the app (env overrides apply)."""
    state = ctx.ensure_object(dict)
    if "settings" not in state:
        config: Path | None = state.get("config")
        try:
            state["settings"] = load_settings(config)
        except FileNotFoundError as exc:
            raise UsageError(f"config file not found: {exc.filename}", param="--config") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise UsageError(f"invalid setting '{where}': {first['msg']}", param="--config") from None
        except (OSError, ValueError) as exc:  # unreadable or malformed TOML
            raise UsageError(f"cannot read config: {exc}", param="--config") from None
    return state["settings"]


def record_paths(settings: Settings, ids: list[str] | None) -> dict[str, Path]:
    """Record files by layer id (all, or the ``ids`` asked for); unknown ids are a usage error."""
    paths = {p.stem: p for p in sorted(settings.layers.dir.glob("*.yaml"))}
    if not ids:
        return paths
    unknown = [i for i in ids if i not in paths]
    if unknown:
        raise UsageError(f"no layer record {', '.join(repr(i) for i in unknown)} in {settings.layers.dir}", param="ID")
    return {i: paths[i] for i in dict.fromkeys(ids)}


def load_selected(settings: Settings, ids: list[str] | None) -> tuple[dict[str, LayerRecord], dict[str, RecordError]]:
    """Parse the selected records; broken ones are returned as errors instead of aborting the run."""
    records, broken = {}, {}
    for layer_id, path in record_paths(settings, ids).items():
        try:
            records[layer_id] = load_record(path)
        except RecordError as exc:
            broken[layer_id] = exc
    return records, broken

