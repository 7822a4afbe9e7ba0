"""Vector tiles (Mapbox Vector Tile) of published layers on the WebMercatorQuad grid; no web framework."""
