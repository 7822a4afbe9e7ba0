"""Running the service: uvicorn with N worker processes on one port (``geosvc serve``).

Workers are started by uvicorn from :func:`app_from_environment`, so each builds its own app (and its
own live registry, which follows the store) from the same settings: the config file and ``GEOSVC_*``
variables, with the command line's host and port passed on as variables. On SIGTERM uvicorn stops
accepting, lets requests finish for ``server.shutdown_timeout_s`` and cancels the rest; work still
running in threads after that cannot be cancelled, so a watchdog ends the process two seconds later.
"""

from __future__ import annotations

import math
import os
import threading

from fastapi import FastAPI

from geosvc.settings import Settings, load_settings

HARD_EXIT_GRACE_S = 2.0


def _exit_soon(after: float) -> None:
    timer = threading.Timer(after, os._exit, args=(0,))
    timer.daemon = True
    timer.start()


def app_from_environment() -> FastAPI:
    """The app of one worker process: settings from the config file and the environment."""
    from geosvc.api.app import create_app

    app = create_app(load_settings())
    app.state.on_shutdown = lambda: _exit_soon(HARD_EXIT_GRACE_S)
    return app


def serve(settings: Settings) -> None:
    """Run ``settings.server.workers`` worker processes on ``settings.server.host:port``."""
    import uvicorn

    server = settings.server
    if settings.config is not None:
        os.environ["GEOSVC_CONFIG"] = str(settings.config)
    os.environ["GEOSVC_SERVER_HOST"] = server.host
    os.environ["GEOSVC_SERVER_PORT"] = str(server.port)
    os.environ["GEOSVC_SERVER_WORKERS"] = str(server.workers)
    uvicorn.run("geosvc.api.server:app_from_environment", factory=True, host=server.host, port=server.port,
                workers=server.workers, log_level="warning", proxy_headers=False,
                timeout_graceful_shutdown=math.ceil(server.shutdown_timeout_s),
                timeout_worker_healthcheck=30)  # a worker importing on a busy machine is not dead
