"""``geosvc access list|approve|deny``: stewards decide access requests to restricted layers."""

from __future__ import annotations

import getpass
import json
from enum import Enum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geosvc.auth.access import decide_request
from geosvc.auth.caller import Caller, utcnow
from geosvc.auth.requests import parse_expiry, request_summary
from geosvc.auth.store import open_access_store
from geosvc.cli.common import FormatOption, OutputFormat, guarded, load_selected, out, settings_from

access = typer.Typer(help="List, approve and deny access requests.", no_args_is_help=True)

ByOption = Annotated[str | None, typer.Option("--by", help="Steward deciding (default: the login name)")]
NoteOption = Annotated[str | None, typer.Option("--note", help="Why (kept with the decision and audited)")]


class StatusChoice(str, Enum):
    requested = "requested"
    approved = "approved"
    denied = "denied"


def _steward(by: str | None) -> Caller:
    return Caller(f"cli:{by or getpass.getuser()}", via="cli")


@access.command("list")
@guarded
def list_requests(ctx: typer.Context, status: Annotated[StatusChoice | None, typer.Option(
        "--status", help="Only requests in this state")] = None,
        fmt: FormatOption = OutputFormat.text) -> None:
    """Every access request, with the time from request to decision."""
    found = open_access_store(settings_from(ctx)).list_requests()
    found = [r for r in found if status is None or r.status == status.value]
    summary = request_summary(found)
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"requests": [r.as_dict() for r in found], "summary": summary}, indent=2))
        return
    table = Table(title=f"{len(found)} access request(s)", title_justify="left")
    for column in ("id", "who", "layer", "role", "status", "requested", "decided", "hours", "expires", "purpose"):
        table.add_column(column)
    for r in found:
        d = r.as_dict()
        table.add_row(str(r.id), escape(r.subject), escape(r.layer), escape(r.role), r.status,
                      r.requested_at.isoformat(timespec="seconds"),
                      f"{r.decided_at.isoformat(timespec='seconds')} by {escape(r.decided_by or '')}" if r.decided_at else "-",
                      "-" if d["hours_to_decision"] is None else f"{d['hours_to_decision']:.2f}",
                      r.expires_at.isoformat(timespec="seconds") if r.expires_at else "-", escape(r.purpose))
    out.print(table)
    out.print(summary_line(summary))


def summary_line(summary: dict) -> str:
    """One line on the pathway to access: pending and decided requests, and how long decisions take."""
    line = (f"access requests: {summary['requested']} pending, {summary['approved']} approved, "
            f"{summary['denied']} denied")
    if summary["decided"]:
        line += (f"; time to decision: median {summary['median_hours_to_decision']:.2f} h, "
                 f"longest {summary['max_hours_to_decision']:.2f} h")
    return line


@access.command("approve")
@guarded
def approve(ctx: typer.Context, request_id: Annotated[int, typer.Argument(help="Request id")],
            expires: Annotated[str | None, typer.Option(
                "--expires", help="Grant lapses after '30d', '12h', '90m' or at an ISO date/time")] = None,
            note: NoteOption = None, by: ByOption = None) -> None:
    """Approve a request: the caller can read the layer from their next request on (until --expires)."""
    settings = settings_from(ctx)
    now = utcnow()
    records, _ = load_selected(settings, None)
    decided = decide_request(open_access_store(settings), request_id, True, _steward(by), records, "cli:access approve",
                             expires_at=parse_expiry(expires, now) if expires else None, note=note, at=now)
    until = f" until {decided.expires_at.isoformat(timespec='seconds')}" if decided.expires_at else ""
    out.print(f"approved request {decided.id}: {escape(decided.subject)} may read '{escape(decided.layer)}'{until}")


@access.command("deny")
@guarded
def deny(ctx: typer.Context, request_id: Annotated[int, typer.Argument(help="Request id")],
         note: NoteOption = None, by: ByOption = None) -> None:
    """Deny a request."""
    settings = settings_from(ctx)
    decided = decide_request(open_access_store(settings), request_id, False, _steward(by), {}, "cli:access deny",
                             note=note)
    out.print(f"denied request {decided.id} ({escape(decided.subject)} for '{escape(decided.layer)}')")
