"""What a request may see: the served layers, as of the registry snapshot the request started on.

Every route that lists or opens layers asks here, never ``app.state`` directly, so that live
registry switches and per-caller grants apply everywhere at once.
"""

from __future__ import annotations

from starlette.requests import Request

from geosvc.errors import NotFound
from geosvc.store.base import PublishedLayer


def served_layers(request: Request) -> list[PublishedLayer]:
    """Layers served to this request's caller, sorted by id."""
    return sorted(request.state.snapshot.layers.values(), key=lambda layer: layer.id)


def served_layer(request: Request, layer_id: str) -> PublishedLayer:
    """One served layer; the same 404 as for an id that does not exist."""
    for layer in served_layers(request):
        if layer.id == layer_id:
            return layer
    raise NotFound(f"no served layer '{layer_id}'", layer=layer_id)
