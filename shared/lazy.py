"""Modules that load on first use, so indexing the app loads only the triggers (cold start, issue #2).

A trigger module names the services it calls with `endpoints = lazy_import("shared.services.endpoints")`
and its handlers read `endpoints.create_endpoint(...)` as usual; the service, and the adapters and
domain modules it imports, load on the first call that touches them instead of when the host indexes
the functions.

Why not `importlib.util.LazyLoader`: on Python 3.11 its module is not thread-safe. The first
attribute access turns it into an empty plain module and only then runs the module's code, so a
second thread touching it meanwhile gets an AttributeError; the Functions worker runs synchronous
functions on a thread pool and a cold instance often gets concurrent first calls. Here every access
goes through `importlib.import_module`, whose per-module locks make concurrent first callers wait for
the one import, and the module itself is an ordinary one in `sys.modules` (monkeypatching works).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    """Stands in for the module `__name__` and imports it on the first attribute access."""

    def __getattr__(self, attr: str) -> Any:
        # Called only for names this stand-in lacks, i.e. every attribute of the real module; after
        # the first import, import_module is a dictionary lookup in sys.modules.
        return getattr(importlib.import_module(self.__name__), attr)


def lazy_import(name: str) -> ModuleType:
    """The module `name`, imported on first attribute access rather than now.

    Use it for modules that handlers call, never for modules needed at import time (decorators,
    constants in decorator arguments) or imported for their side effects. Nothing is checked here:
    a wrong name raises ModuleNotFoundError on the first call that uses it.
    """
    return _LazyModule(name)
