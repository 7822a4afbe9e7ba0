"""``geosvc audit``: list the audit trail and check its hash chain."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geosvc.auth.audit import verify as verify_chain
from geosvc.auth.store import open_access_store
from geosvc.cli.common import EXIT_FAILED, FormatOption, OutputFormat, UsageError, fail, guarded, out, settings_from


def _since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        since = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"'{value}' is not an ISO 8601 date or date-time", param="--since") from None
    return since if since.tzinfo else since.replace(tzinfo=dt.UTC)


@guarded
def audit(ctx: typer.Context,
          since: Annotated[str | None, typer.Option("--since", help="Only entries at or after this ISO date/time (UTC)")] = None,
          layer: Annotated[str | None, typer.Option("--layer", help="Only entries about this layer")] = None,
          verify: Annotated[bool, typer.Option("--verify", help="Check the whole hash chain (exit 1 if broken)")] = False,
          fmt: FormatOption = OutputFormat.text) -> None:
    """Restricted reads, equity requests and access decisions, oldest first."""
    store = open_access_store(settings_from(ctx))
    if verify:
        entries = store.audit_entries()
        broken = verify_chain(entries)
        if broken is not None:
            raise fail(f"audit chain broken at entry {broken.seq} ({broken.at}, {broken.action} by {broken.subject}): "
                       "it was edited, or an entry before it was removed or inserted", EXIT_FAILED)
        out.print(f"audit chain intact: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
        return
    entries = [e for e in store.audit_entries(_since(since)) if layer is None or layer in e.layers]
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"entries": [asdict(e) for e in entries]}, indent=2, default=str))
        return
    table = Table(title=f"{len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'}", title_justify="left")
    for column in ("seq", "at", "who", "action", "route", "layers", "withheld", "answer"):
        table.add_column(column)
    for e in entries:
        table.add_row(str(e.seq), e.at[:19], escape(f"{e.subject} ({e.via})"), e.action, escape(e.route),
                      escape(", ".join(e.layers)), "-" if e.withheld is None else str(e.withheld),
                      (e.answer_hash or "-")[:12])
    out.print(table)
