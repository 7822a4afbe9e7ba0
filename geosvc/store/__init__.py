"""The store: published layer versions (files) and the catalog that records them."""
