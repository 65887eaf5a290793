"""The serving process: the situation page, governed SQL over HTTP, the catalog (loopback)."""
