"""``geosvc report``: portfolio metrics (themes, sensitivity, staleness, metadata completeness, validation)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from geosvc.auth.requests import request_summary
from geosvc.auth.store import open_access_store
from geosvc.cli.access import summary_line
from geosvc.cli.common import FormatOption, OutputFormat, guarded, load_selected, out, settings_from
from geosvc.store.gpkg import GpkgStore

if TYPE_CHECKING:
    from geosvc.report import Portfolio


def _print(portfolio: Portfolio) -> None:
    data = portfolio.as_dict()["summary"]
    mean = data["mean_completeness"]
    out.print(f"[bold]Portfolio report[/] {portfolio.date.isoformat()}: {data['layers']} layer(s)")
    out.print(f"  by theme:       {', '.join(f'{k} {v}' for k, v in data['by_theme'].items()) or '-'}")
    out.print(f"  by sensitivity: {', '.join(f'{k} {v}' for k, v in data['by_sensitivity'].items()) or '-'}")
    out.print(f"  mean metadata completeness: {'-' if mean is None else f'{mean:.0%}'}")
    for label, key in (("stale", "stale"), ("failing validation", "failing_validation"),
                       ("not validated", "not_validated"), ("unpublished", "unpublished")):
        names = data[key]
        out.print(f"  {label}: {len(names)}" + (f" ({escape(', '.join(names))})" if names else ""))
    for layer_id, why in data["invalid_records"].items():
        out.print(f"  [red]invalid record[/] {escape(layer_id)}: {escape(why)}")

    table = Table(title="layers", title_justify="left")
    for column in ("layer", "theme", "sensitivity", "complete", "updated", "due", "validation", "published"):
        table.add_column(column)
    for s in portfolio.layers:
        validation = {"ok": "[green]ok[/]", "failed": f"[red]failed ({s.errors})[/]"}.get(s.validation, s.validation)
        due = "static" if s.update_due is None else s.update_due.isoformat()
        table.add_row(
            Text(s.id),
            Text(s.theme),
            s.sensitivity,
            f"{s.completeness:.0%}",
            s.last_updated.isoformat() if s.last_updated else "-",
            f"[yellow]{due} stale[/]" if s.stale else due,
            validation,
            f"v{s.published_version} ({s.versions} version(s))" if s.published_version else "-",
        )
    out.print(table)


@guarded
def report(ctx: typer.Context, fmt: FormatOption = OutputFormat.text) -> None:
    """Portfolio metrics: layers by theme and sensitivity, stale layers, metadata completeness, validation."""
    from geosvc.report import build_portfolio

    settings = settings_from(ctx)
    records, broken = load_selected(settings, None)
    store = GpkgStore(settings)
    portfolio = build_portfolio(
        list(records.values()),
        store.validations(),
        {layer_id: store.versions(layer_id) for layer_id in records},
        today=dt.date.today(),
        invalid_records={layer_id: exc.message for layer_id, exc in broken.items()},
    )
    access = request_summary(open_access_store(settings).list_requests())
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(portfolio.as_dict() | {"access_requests": access}, indent=2, default=str))
    else:
        _print(portfolio)
        out.print(summary_line(access))
