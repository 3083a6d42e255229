"""Pure request/response translation, one module per provider pair: no I/O, no credentials."""
