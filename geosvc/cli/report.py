"""``geosvc report``: portfolio metrics (themes, sensitivity, staleness, metadata completeness, validation,
on-time updates, sync health, disaggregation and, with ``--metrics-url``, the service's traffic)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from geosvc.auth.requests import request_summary
from geosvc.auth.store import open_access_store
from geosvc.cli.access import summary_line
from geosvc.cli.common import FormatOption, OutputFormat, UsageError, guarded, load_selected, out, settings_from
from geosvc.store.backends import open_store

if TYPE_CHECKING:
    from geosvc.plan_metrics import Traffic
    from geosvc.report import Portfolio

MetricsUrlOption = Annotated[str | None, typer.Option(
    "--metrics-url", help="The running service's /metrics, for requests, callers and answer times")]


def read_traffic(url: str) -> Traffic:
    """The service's counters from its Prometheus ``/metrics`` (they live in the service, not the store)."""
    from geosvc.plan_metrics import parse_traffic

    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - an operator-given URL
            text = response.read().decode()
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {url}: {getattr(exc, 'reason', exc)}", param="--metrics-url") from None
    try:
        return parse_traffic(text)
    except ValueError as exc:
        raise UsageError(f"{url} is not Prometheus text: {exc}", param="--metrics-url") from None


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _print(portfolio: Portfolio) -> None:
    data = portfolio.as_dict()["summary"]
    mean = data["mean_completeness"]
    out.print(f"[bold]Portfolio report[/] {portfolio.date.isoformat()}: {data['layers']} layer(s)")
    out.print(f"  by theme:       {', '.join(f'{k} {v}' for k, v in data['by_theme'].items()) or '-'}")
    out.print(f"  by sensitivity: {', '.join(f'{k} {v}' for k, v in data['by_sensitivity'].items()) or '-'}")
    out.print(f"  mean metadata completeness: {'-' if mean is None else f'{mean:.0%}'}")
    for label, key in (("stale", "stale"), ("failing validation", "failing_validation"),
                       ("not validated", "not_validated"), ("unpublished", "unpublished"),
                       ("sync failing", "sync_failing")):
        names = data[key]
        out.print(f"  {label}: {len(names)}" + (f" ({escape(', '.join(names))})" if names else ""))
    for layer_id, why in data["invalid_records"].items():
        out.print(f"  [red]invalid record[/] {escape(layer_id)}: {escape(why)}")
    out.print(f"  mean on-time update rate: {_rate(data['mean_on_time_update_rate'])}")
    failing = data["sync_failing"]
    out.print(f"  failing sync: {len(failing)}" + (f" ({escape(', '.join(failing))})" if failing else ""))
    disaggregation = data["disaggregation"]
    out.print(f"  declaring disaggregation: {_rate(disaggregation['share_declaring'])}"
              f" ({escape(', '.join(disaggregation['layers_declaring'])) or 'none'})")
    for dimension, use in disaggregation["dimensions"].items():
        flag = "" if use["consistent"] else " [yellow]inconsistent schemes[/]"
        schemes = "; ".join(f"{scheme}: {', '.join(ids)}" for scheme, ids in use["schemes"].items())
        out.print(f"    {escape(dimension)}: {escape(schemes)}{flag}")
    if portfolio.routes is not None:
        out.print("  answer time per route (p50 / p95):")
        for route, latency in portfolio.routes.items():
            p50, p95 = (f"{v * 1000:.1f} ms" if v is not None else "-" for v in (latency.p50, latency.p95))
            out.print(f"    {escape(route)}: {p50} / {p95} ({latency.requests} requests)")
    for s in portfolio.layers:
        if s.consecutive_sync_failures:
            since = f"last good sync {s.last_successful_sync:%Y-%m-%d %H:%M} UTC" if s.last_successful_sync else "never synced"
            out.print(f"  [red]sync failed[/] {escape(s.id)} ({s.consecutive_sync_failures}x, {since}): {escape(s.sync_error or '')}")
    for s in portfolio.layers:
        if s.publish_error:
            out.print(f"  [red]publish failed[/] {escape(s.id)}: {escape(s.publish_error)}")

    table = Table(title="layers", title_justify="left")
    for column in ("layer", "theme", "sensitivity", "complete", "updated", "due", "validation", "published",
                   "on time", "last sync", "requests"):
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
            _rate(s.on_time_rate),
            (s.last_successful_sync.strftime("%Y-%m-%d %H:%M") if s.last_successful_sync else "-")
            + (f" [red]{s.consecutive_sync_failures} failed[/]" if s.consecutive_sync_failures else ""),
            "-" if s.requests is None else f"{s.requests} ({s.distinct_callers} caller(s))",
        )
    out.print(table)


@guarded
def report(ctx: typer.Context, fmt: FormatOption = OutputFormat.text, metrics_url: MetricsUrlOption = None) -> None:
    """Portfolio metrics: themes, sensitivity, staleness, metadata completeness, validation, updates, traffic."""
    from geosvc.plan_metrics import by_layer
    from geosvc.report import build_portfolio

    settings = settings_from(ctx)
    traffic = read_traffic(metrics_url) if metrics_url else None
    records, broken = load_selected(settings, None)
    store = open_store(settings)
    portfolio = build_portfolio(
        list(records.values()),
        store.validations(),
        {layer_id: store.versions(layer_id) for layer_id in records},
        today=dt.date.today(),
        invalid_records={layer_id: exc.message for layer_id, exc in broken.items()},
        syncs=by_layer(store.events(kind="sync")),
        publishes=by_layer(store.events(kind="publish")),
        traffic=traffic,
    )
    access = request_summary(open_access_store(settings).list_requests())
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(portfolio.as_dict() | {"access_requests": access}, indent=2, default=str))
    else:
        _print(portfolio)
        out.print(summary_line(access))
