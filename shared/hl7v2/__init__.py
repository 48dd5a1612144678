"""Operator tools for HL7 v2: `python -m shared.hl7v2 <command>` (see `__main__`)."""
