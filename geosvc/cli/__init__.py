"""The ``geosvc`` command line (typer): one module per command, wired in :mod:`geosvc.cli.main`."""
