"""HTTP, queue and timer triggers: thin adapters from bindings to services, one blueprint per family."""
