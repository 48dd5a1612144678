"""Call the app's functions the way the Functions worker does: through the app object."""

from __future__ import annotations

from typing import Any

import function_app
from shared.devhost.functions import indexed_functions


def call(name: str, argument: Any) -> Any:
    """Run function `name` of function_app.app with its trigger argument (documented get_user_function())."""
    for function in indexed_functions(function_app.app):
        if function.get_function_name() == name:
            return function.get_user_function()(argument)
    raise LookupError(f"function_app.app has no function {name}")
