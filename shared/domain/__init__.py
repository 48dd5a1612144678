"""Pure domain logic: no I/O and no SDK imports; dataclasses in, dataclasses out."""
