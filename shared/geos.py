"""The geographies the code knows, and how each one's storage connection setting is named.

Kept apart from `shared.settings` so trigger modules can register per-geography functions at indexing
without loading (and compiling) the whole settings module: cold start.
"""

KNOWN_GEOS: tuple[str, ...] = ("US", "EU", "APAC")
"""Geographies the code knows; a deployment serves the subset named in GEOS.

Queue triggers are registered per known geography, always: registration happens at import, where no
setting is read (an import-time failure would stop the worker indexing any function, and cold start pays for
every module loaded). The ones a deployment does not serve are disabled with
`AzureWebJobs.<function>.Disabled`, and because the host builds a trigger's binding, connection included,
before it reads that setting (Azure/azure-functions-host#6885), the Bicep parks their connection on the
control account's queue service (infra/modules/storage-connections.bicep): indexing succeeds, nothing
listens, and the settings module never reads a geography that GEOS does not name.
"""


def geo_storage_setting(geo: str) -> str:
    """The connection setting of one geography's storage account, e.g. ``GEO_EU_STORAGE``."""
    return f"GEO_{geo}_STORAGE"
