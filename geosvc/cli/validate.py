"""``geosvc validate``: check layer records and their sources; exit 1 when any layer has an error."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from geosvc.cli.checks import broken_record_report, validate_and_record
from geosvc.cli.common import EXIT_FAILED, EXIT_OK, FormatOption, IdsArgument, OutputFormat, guarded, load_selected, out, settings_from
from geosvc.store.backends import open_store

if TYPE_CHECKING:
    from geosvc.validate.findings import LayerReport

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def report_dict(report: LayerReport) -> dict:
    """JSON-ready form of one layer's report."""
    return {
        "layer": report.layer,
        "ok": report.ok,
        "completeness": round(report.completeness, 3),
        "stale": report.stale,
        "findings": [f.as_dict() for f in report.findings],
    }


def print_report(report: LayerReport) -> None:
    """Rich text of one layer's report: a status line, then a table of findings."""
    status = Text("ok  ", style="bold green") if report.ok else Text("FAIL", style="bold red")
    line = Text.assemble(status, " ", (report.layer, "bold"), f"  completeness {report.completeness:.0%}")
    if report.stale:
        line.append("  stale", style="yellow")
    out.print(line)
    if not report.findings:
        return
    table = Table(show_header=False, box=None, padding=(0, 1), pad_edge=False)
    for finding in report.findings:
        examples = f" (e.g. {', '.join(finding.examples)})" if finding.examples else ""
        table.add_row(
            "   ",
            Text(finding.severity, style=STYLE.get(finding.severity, "")),
            finding.code,
            str(finding.count),
            Text(finding.message + examples),
        )
    out.print(table)


@guarded
def validate(ctx: typer.Context, ids: IdsArgument = None, fmt: FormatOption = OutputFormat.text) -> None:
    """Validate layer records and their sources (exit 0 clean, 1 on any error finding)."""
    settings = settings_from(ctx)
    records, broken = load_selected(settings, ids)
    store = open_store(settings)
    reports = [broken_record_report(layer_id, exc) for layer_id, exc in broken.items()]
    for report in reports:
        store.record_validation(report)
    reports += [validate_and_record(record, settings, store) for record in records.values()]
    reports.sort(key=lambda r: r.layer)
    ok = all(r.ok for r in reports)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"ok": ok, "layers": [report_dict(r) for r in reports]}, indent=2, default=str))
    else:
        for report in reports:
            print_report(report)
        errors = sum(not r.ok for r in reports)
        summary = f"{len(reports)} layer(s) validated, {errors} with errors"
        out.print(Text(summary, style="bold red" if errors else "bold green"))
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED)
