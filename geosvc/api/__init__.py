"""The web layer: FastAPI application, thin routes and the mapping of errors to HTTP."""
