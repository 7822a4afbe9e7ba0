"""pytest plugin for running the ``ogctests`` OGC API Features core suite against geosvc.

ogctests requests ``/collections/{id}/items`` of every collection listed, but the core conformance
class applies to feature collections only; geosvc also lists coverage collections (rasters). This
plugin gives the suite an HTTP client (ogctests' ``CLIENT_OVERRIDDEN`` hook) whose ``/collections``
answer keeps the collections with ``itemType: feature``. Loaded inside ``.venv-ogctests`` with
``-p ogctests_plugin`` and ``CLIENT_OVERRIDDEN=True``; it needs nothing but httpx and pytest.
"""

from __future__ import annotations

import json

import httpx
import pytest


class FeatureCollectionsOnly(httpx.HTTPTransport):
    """A transport that drops non-feature collections from JSON ``/collections`` responses."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if not request.url.path.rstrip("/").endswith("/collections"):
            return response
        response.read()
        if "json" not in response.headers.get("content-type", ""):
            return response
        body = json.loads(response.content)
        body["collections"] = [c for c in body.get("collections", []) if c.get("itemType") == "feature"]
        dropped = ("content-length", "content-encoding")
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in dropped]
        return httpx.Response(response.status_code, headers=headers, content=json.dumps(body).encode())


@pytest.fixture(scope="session")
def http_client(instance_url: str):
    with httpx.Client(base_url=instance_url, transport=FeatureCollectionsOnly()) as client:
        yield client
