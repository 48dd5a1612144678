"""Teams EHR connector for Epic: the connector package, importable without the Functions host."""

__version__ = "0.1.0"
