"""Thin FastAPI routers (registry view here; equity in ``equity.py``)."""
