"""``geosvc sync``: fetch remote sources and publish the layers whose data changed; ``--watch`` keeps
syncing each layer when it is due until SIGTERM / SIGINT (exit 0)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from geosvc.cli.checks import validate_and_record
from geosvc.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    IdsArgument,
    UsageError,
    err,
    guarded,
    load_selected,
    out,
    settings_from,
)
from geosvc.store.backends import open_store

STYLE = {"published": "green", "unchanged": "dim", "not-modified": "dim", "failed": "red", "busy": "yellow",
         "cancelled": "yellow"}


def _line(result) -> str:
    version = f" v{result.version}" if result.version else ""
    return f"{result.layer}: {result.outcome}{version}: {result.message}"


@guarded
def sync(
    ctx: typer.Context,
    ids: IdsArgument = None,
    watch: Annotated[bool, typer.Option("--watch", help="Keep syncing each layer when it is due, until SIGTERM")] = False,
) -> None:
    """Fetch remote sources; validate and publish the layers whose data changed (exit 1 if any sync failed)."""
    from geosvc.feeds.schedule import watch as watch_loop
    from geosvc.feeds.sync import Syncer

    settings = settings_from(ctx)
    records, broken = load_selected(settings, ids)
    local = [i for i, r in records.items() if not (r.source and r.source.remote)]
    if ids and local:
        raise UsageError(f"layer '{local[0]}' has no remote source (a url); nothing to sync", param="ID")
    store = open_store(settings)
    stop = threading.Event()
    syncer = Syncer(settings, store, lambda record: validate_and_record(record, settings, store), stop)

    if watch:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())

        def select():
            current, _ = load_selected(settings, ids)
            return [r for r in current.values() if r.source and r.source.remote]

        def report(result) -> None:
            out.print(Text(_line(result), style=STYLE.get(result.outcome, "")))

        for layer_id, exc in broken.items():
            err.print(f"[bold red]error:[/] {escape(f'layer {layer_id!r}: not watched: {exc.message}')}", markup=True)
        out.print(f"watching {len(select())} layer(s); every {settings.sync.tick:g} s a due check (SIGTERM stops)")
        watch_loop(select, syncer, stop, tick=settings.sync.tick, jitter=settings.sync.jitter, report=report)
        out.print("stopped")
        raise typer.Exit(EXIT_OK)

    failures = [f"layer '{layer_id}': not synced: {exc.message}" for layer_id, exc in broken.items()]
    table = Table(title="sync", title_justify="left")
    for column in ("layer", "outcome", "version", "message"):
        table.add_column(column)
    for record in records.values():
        if record.id in local:
            continue
        result = syncer.sync(record)
        table.add_row(Text(result.layer), Text(result.outcome, style=STYLE.get(result.outcome, "")),
                      f"v{result.version}" if result.version else "-", Text(result.message))
        if result.outcome == "failed":
            failures.append(f"layer '{record.id}': sync failed: {result.message}")
    out.print(table)
    for line in failures:
        err.print(f"[bold red]error:[/] {escape(line)}", markup=True)
    raise typer.Exit(EXIT_FAILED if failures else EXIT_OK)
