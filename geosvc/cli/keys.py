"""``geosvc keys create|list|revoke``: API keys for scripts and desktop clients (stored hashed)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from geosvc.auth.caller import utcnow
from geosvc.auth.keys import ApiKey, key_hash, new_key
from geosvc.auth.store import open_access_store
from geosvc.cli.common import FormatOption, OutputFormat, UsageError, guarded, out, settings_from

keys = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def key_dict(key: ApiKey) -> dict:
    return {"key_id": key.key_id, "name": key.name, "roles": list(key.roles), "created_at": key.created_at.isoformat(),
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}


@keys.command("create")
@guarded
def create(ctx: typer.Context,
           role: Annotated[list[str], typer.Option("--role", "-r", help="Role the key carries (repeatable)")],
           name: Annotated[str | None, typer.Option("--name", "-n", help="Who or what the key is for")] = None) -> None:
    """Create a key; it is printed once, as the last line, and only its hash is stored."""
    roles = tuple(dict.fromkeys(r.strip() for r in role))
    if not all(roles):
        raise UsageError("a role cannot be empty", param="--role")
    key_id, key = new_key()
    record = ApiKey(key_id, name or key_id, roles, key_hash(key), utcnow())
    open_access_store(settings_from(ctx)).add_key(record)
    out.print(f"created API key {escape(key_id)} ({escape(record.name)}) with role(s) {escape(', '.join(roles))}; "
              "copy it now, it is not shown again:")
    typer.echo(key)


@keys.command("list")
@guarded
def list_keys(ctx: typer.Context, fmt: FormatOption = OutputFormat.text) -> None:
    """List keys (ids, names, roles, revocation; never the keys)."""
    found = open_access_store(settings_from(ctx)).list_keys()
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({"keys": [key_dict(k) for k in found]}, indent=2))
        return
    table = Table(title=f"{len(found)} API key(s)", title_justify="left")
    for column in ("key id", "name", "roles", "created", "revoked"):
        table.add_column(column)
    for k in found:
        table.add_row(k.key_id, escape(k.name), escape(", ".join(k.roles)), k.created_at.isoformat(timespec="seconds"),
                      k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "-")
    out.print(table)


@keys.command("revoke")
@guarded
def revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="Key id (from 'geosvc keys list')")]) -> None:
    """Revoke a key: requests using it get 401 from now on."""
    key = open_access_store(settings_from(ctx)).revoke_key(key_id, utcnow())
    out.print(f"revoked API key {escape(key.key_id)} ({escape(key.name)})")
