"""``geosvc withdraw``: stop serving layers without deleting their versions."""

from __future__ import annotations

from typing import Annotated

import typer

from geosvc.cli.common import guarded, out, settings_from
from geosvc.store.backends import open_store


@guarded
def withdraw(
    ctx: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Layer ids to withdraw", show_default=False)],
) -> None:
    """Stop serving layers (every running server drops them within seconds); `publish` serves them again."""
    store = open_store(settings_from(ctx))
    for layer_id in ids:
        layer = store.withdraw(layer_id)
        store.record_event(layer_id, "withdraw", "withdrawn", version=layer.version)
        out.print(f"{layer_id}: withdrawn (its {len(store.versions(layer_id))} version(s) are kept; "
                  f"`geosvc publish {layer_id}` serves v{layer.version} again)")
