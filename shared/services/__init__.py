"""Services: one module per use case; they take ports and plain data, never SDK clients."""
