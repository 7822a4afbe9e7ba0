"""OGC API: the only package importing pygeoapi (config generation, providers, mount, fast items path)."""
