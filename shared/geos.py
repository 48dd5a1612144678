"""The geographies the code knows, and how each one's storage connection setting is named.

Kept apart from `shared.settings` so trigger modules can register per-geography functions at indexing
without loading (and compiling) the whole settings module: cold start.
"""

KNOWN_GEOS: tuple[str, ...] = ("US", "EU", "APAC")
"""Geographies the code knows; a deployment serves the subset named in GEOS.

Queue triggers are registered per known geography (the host needs them at indexing time);
the ones a deployment does not serve are disabled with `AzureWebJobs.<function>.Disabled`.
"""


def geo_storage_setting(geo: str) -> str:
    """The connection setting of one geography's storage account, e.g. ``GEO_EU_STORAGE``."""
    return f"GEO_{geo}_STORAGE"
