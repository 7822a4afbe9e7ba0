"""Config extension: each collection carries its schema.org Dataset JSON-LD for the HTML page.

pygeoapi hands the whole configuration to its templates, so ``collections/collection.html`` reads
``config['resources'][id]['jsonld']`` and embeds it as ``<script type="application/ld+json">``.
"""

from __future__ import annotations

from geosvc.metadata.jsonld import dataset_jsonld
from geosvc.settings import Settings
from geosvc.store.base import PublishedLayer


def add_jsonld(config: dict, layers: list[PublishedLayer], settings: Settings) -> None:
    """Config extension (see :func:`geosvc.ogc.config.build_config`) adding ``jsonld`` to layer collections."""
    for layer in layers:
        resource = config["resources"].get(layer.id)
        if resource is not None:
            resource["jsonld"] = dataset_jsonld(layer, settings.base_url)
