"""The planners' web portal: catalog, layer pages and the equity explorer (server-rendered HTML).

Pure view models (:mod:`.catalog`, :mod:`.pages`) and Jinja2 templates; the routes are
:mod:`geosvc.api.routes.portal`. Every asset is served from this host (``/portal/static``, ``/ogc/static``).
"""
