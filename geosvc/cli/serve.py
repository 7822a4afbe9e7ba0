"""``geosvc serve``: run the OGC API service over the published store."""

from __future__ import annotations

from typing import Annotated

import typer

from geosvc.cli.common import UsageError, guarded, settings_from


@guarded
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default: settings.server.host)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default: settings.server.port)")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=32, help="Worker processes (default: settings.server.workers)")] = None,
) -> None:
    """Serve the published layers over OGC API (Features, Records, Coverages, Processes); publishes go live."""
    settings = settings_from(ctx)
    update = {k: v for k, v in (("server_host", host), ("server_port", port), ("server_workers", workers))
              if v is not None}
    settings = settings.replace(**update)
    try:
        from geosvc.api.server import serve as run
    except ImportError as exc:
        raise UsageError(f"the OGC API is not available: {exc}") from None
    run(settings)
