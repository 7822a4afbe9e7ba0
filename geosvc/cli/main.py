"""The ``geosvc`` app: global ``--config`` / ``--version`` and one sub-command per module."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from typer._click import exceptions as click  # typer >= 0.26 vendors click

from geosvc.cli.access import access
from geosvc.cli.audit import audit
from geosvc.cli.keys import keys
from geosvc.cli.publish import publish
from geosvc.cli.report import report
from geosvc.cli.schema import schema
from geosvc.cli.serve import serve
from geosvc.cli.sync import sync
from geosvc.cli.common import EXIT_FAILED, EXIT_USAGE, err
from geosvc.cli.validate import validate
from geosvc.cli.withdraw import withdraw


class App(typer.Typer):
    """Typer app whose usage errors are one line on stderr (exit 2) instead of click's help box."""

    def __call__(self, *args, **kwargs):
        try:
            code = super().__call__(*args, standalone_mode=False, **kwargs)
        except click.NoArgsIsHelpError as exc:
            exc.show()
            code = EXIT_USAGE
        except click.UsageError as exc:
            where = f"{exc.ctx.command_path}: " if exc.ctx else ""
            err.print(f"[bold red]error:[/] {escape(where + exc.format_message())}", markup=True)
            code = EXIT_USAGE
        except click.ClickException as exc:
            err.print(f"[bold red]error:[/] {escape(exc.format_message())}", markup=True)
            code = exc.exit_code
        except (click.Abort, KeyboardInterrupt):
            err.print("error: interrupted")
            code = EXIT_FAILED
        sys.exit(code if isinstance(code, int) else 0)


app = App(
    name="geosvc",
    help="Register, validate, publish and serve state GIS layers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"geosvc {version('geosvc')}")
        except PackageNotFoundError:
            typer.echo("geosvc (not installed)")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", envvar="GEOSVC_CONFIG", help="TOML settings file (default: ./config/geosvc.toml, else the packaged default); GEOSVC_* variables override it"),
    ] = None,
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    """Register, validate, publish and serve state GIS layers."""
    ctx.ensure_object(dict)["config"] = config


app.command()(validate)
app.command()(publish)
app.command()(report)
app.command()(schema)
app.command()(serve)
app.command()(withdraw)
app.command()(sync)
app.command()(audit)
app.add_typer(keys, name="keys")
app.add_typer(access, name="access")
