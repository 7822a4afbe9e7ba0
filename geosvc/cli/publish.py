"""``geosvc publish``: validate then publish each layer; a failing layer is reported and skipped."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from geosvc.cli.checks import broken_record_report, validate_and_record
from geosvc.cli.common import EXIT_FAILED, EXIT_OK, IdsArgument, err, guarded, load_selected, out, settings_from
from geosvc.errors import GeosvcError, NotPublished
from geosvc.store.backends import open_store
from geosvc.store.base import PublishedLayer


def _summary(published: list[PublishedLayer]) -> Table:
    table = Table(title="published", title_justify="left")
    for column in ("layer", "version", "kind", "features", "sha256", "notes"):
        table.add_column(column, justify="right" if column in ("version", "features") else "left")
    for layer in published:
        table.add_row(
            Text(layer.id),
            f"v{layer.version}",
            layer.kind,
            "" if layer.feature_count is None else f"{layer.feature_count:,}",
            layer.checksum[:12],
            Text("; ".join(layer.notes)),
        )
    return table


def _latest_version(store, layer_id: str) -> int | None:
    try:
        return store.get(layer_id).version
    except NotPublished:
        return None


@guarded
def publish(ctx: typer.Context, ids: IdsArgument = None) -> None:
    """Validate and publish layers into the store (exit 1 if any layer was not published)."""
    from geosvc.store.publish import publish_layer, publish_order

    settings = settings_from(ctx)
    records, broken = load_selected(settings, ids)
    store = open_store(settings)
    failures: list[str] = []
    for layer_id, exc in broken.items():
        store.record_validation(broken_record_report(layer_id, exc))
        failures.append(f"layer '{layer_id}': not published: {exc.message}")
        store.record_event(layer_id, "publish", "failed", message=exc.message)

    done: list[PublishedLayer] = []
    unchanged: list[PublishedLayer] = []
    ordered = publish_order(records.values())
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=err, transient=True,
    ) as progress:
        task = progress.add_task("publishing", total=len(ordered))
        for record in ordered:
            def step(message: str, layer_id: str = record.id) -> None:
                progress.update(task, description=f"{layer_id}: {message}")

            step("validating")
            failure = None
            try:
                report = validate_and_record(record, settings, store)
                if not report.ok:
                    errors = [f for f in report.findings if f.severity == "error"]
                    codes = ", ".join(dict.fromkeys(f.code for f in errors))
                    failure = f"validation failed [{codes}]: {errors[0].message}"
                else:
                    previous = _latest_version(store, record.id)
                    layer = publish_layer(record, report, store, settings, step=step)
                    (unchanged if layer.version == previous else done).append(layer)
                    store.record_event(record.id, "publish", "unchanged" if layer.version == previous else "published",
                                       version=layer.version)
            except GeosvcError as exc:
                failure = exc.message
            except Exception as exc:  # noqa: BLE001 - one broken layer must not stop the others
                first = (str(exc).strip().splitlines() or [""])[0]
                failure = f"unexpected {type(exc).__name__}: {first}"
            finally:
                progress.advance(task)
            if failure is not None:
                failures.append(f"layer '{record.id}': not published: {failure}")
                store.record_event(record.id, "publish", "failed", message=failure)

    if done:
        out.print(_summary(done))
    for layer in unchanged:
        out.print(f"{layer.id}: unchanged, still v{layer.version}")
    for line in failures:
        err.print(f"[bold red]error:[/] {escape(line)}", markup=True)
    out.print(f"{len(done)} layer(s) published, {len(unchanged)} unchanged, {len(failures)} failed")
    raise typer.Exit(EXIT_FAILED if failures else EXIT_OK)
