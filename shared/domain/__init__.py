"""Pure domain logic: no I/O, no SDK clients; dataclasses in and out."""
