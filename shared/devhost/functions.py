"""The triggers of a FunctionApp, read from the app object itself (no second list of routes)."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func


@dataclass(frozen=True)
class Function:
    """One indexed function: its name, its trigger binding as a dict, and how to call it."""

    name: str
    trigger: Mapping[str, Any]
    user_function: Callable[..., Any]

    @property
    def arg_name(self) -> str:
        return self.trigger["name"]

    def call(self, argument: Any) -> Any:
        result = self.user_function(**{self.arg_name: argument})
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
        return result


@dataclass
class Catalogue:
    http: list[Function] = field(default_factory=list)
    queue: list[Function] = field(default_factory=list)
    timer: list[Function] = field(default_factory=list)
    event_grid: list[Function] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


_INDEXED: dict[int, list[Any]] = {}


def indexed_functions(app: func.FunctionApp) -> list[Any]:
    """`app.get_functions()`, once per app: the library refuses to index the same app twice."""
    if id(app) not in _INDEXED:
        _INDEXED[id(app)] = app.get_functions()
    return _INDEXED[id(app)]


def read_functions(app: func.FunctionApp, env: Mapping[str, str] = os.environ) -> Catalogue:
    """Sort the app's functions by trigger type, leaving out those disabled as the host would."""
    catalogue = Catalogue()
    for indexed in indexed_functions(app):
        name = indexed.get_function_name()
        trigger = indexed.get_trigger().get_dict_repr()
        function = Function(name, trigger, indexed.get_user_function())
        if _is_disabled(env, name):
            catalogue.disabled.append(name)
        elif trigger["type"] == "httpTrigger":
            catalogue.http.append(function)
        elif trigger["type"] == "queueTrigger":
            catalogue.queue.append(function)
        elif trigger["type"] == "timerTrigger":
            catalogue.timer.append(function)
        elif trigger["type"] == "eventGridTrigger":
            catalogue.event_grid.append(function)
        else:
            catalogue.unsupported.append(f"{name} ({trigger['type']})")
    return catalogue


def resolve(value: str, env: Mapping[str, str] = os.environ) -> str:
    """Resolve the host's `%AppSetting%` indirection in a binding value."""

    def setting(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise KeyError(f"binding refers to app setting {name}, which is not set")
        return env[name]

    return re.sub(r"%([^%]+)%", setting, value)


def _is_disabled(env: Mapping[str, str], name: str) -> bool:
    return env.get(f"AzureWebJobs.{name}.Disabled", "").strip().lower() in ("true", "1")


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
