"""Pure domain logic: no I/O, no SDK imports; dataclasses in and out."""
