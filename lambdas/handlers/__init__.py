"""One thin module per state of the workflow (and per event target): Powertools decorators,
a typed input, one call into a domain room, a small JSON-safe result."""
