"""The local host: an app's HTTP, queue and timer triggers running together in one process."""

from __future__ import annotations

import importlib
import os

import azure.functions as func

from shared.adapters.metering import StorageMeter
from shared.devhost.event_grid import WEBHOOK_PATH, EventGridWebhook
from shared.devhost.functions import Catalogue, read_functions
from shared.devhost.http_server import BODY_LIMIT_SETTING, MAX_BODY, HttpHost
from shared.devhost.queues import QueuePump
from shared.devhost.timers import TimerRunner
from shared.hostconfig import QueueSemantics, get_host_config

DEFAULT_PORT = 7071


def load_app(spec: str) -> func.FunctionApp:
    """`module:attribute`, as `function_app:app`."""
    module_name, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module_name), attribute or "app")


class DevHost:
    def __init__(
        self,
        app: func.FunctionApp,
        *,
        port: int = DEFAULT_PORT,
        env: dict[str, str] | None = None,
        queue_semantics: QueueSemantics | None = None,
        timers: bool = True,
        meter: StorageMeter | None = None,
    ) -> None:
        """`meter` counts the host's own queue calls (receive, delete, poison), apart from the app's."""
        env = dict(os.environ if env is None else env)
        config = get_host_config()
        self.catalogue: Catalogue = read_functions(app, env)
        max_body = int(env.get(BODY_LIMIT_SETTING) or MAX_BODY)
        self.http = HttpHost(
            self.catalogue.http,
            route_prefix=config.route_prefix,
            port=port,
            event_grid=EventGridWebhook(self.catalogue.event_grid),
            max_body=max_body,
        )
        semantics = queue_semantics or config.queues
        self.pumps = [QueuePump(f, semantics, env, meter=meter) for f in self.catalogue.queue]
        self.timers = [TimerRunner(f, env) for f in self.catalogue.timer] if timers else []

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def start(self) -> None:
        self.http.start()
        for worker in [*self.pumps, *self.timers]:
            worker.start()

    def stop(self) -> None:
        for worker in [*self.pumps, *self.timers]:
            worker.stop()
        self.http.stop()

    def describe(self) -> list[str]:
        """What this host serves, one line each, as printed at start."""
        lines = []
        for route in self.http.router.routes:
            methods = ",".join(sorted(route.methods)) if len(route.methods) < 7 else "*"
            url = f"{self.base_url}{self.http.prefix}/{route.template}"
            lines.append(f"http   {methods:<10} {url}  [{route.function.name}]")
        for pump in self.pumps:
            lines.append(f"queue  {pump.queue_name} on {pump.connection}  [{pump.function.name}]")
        for name in self.http.event_grid.functions:
            lines.append(f"event  POST       {self.base_url}{WEBHOOK_PATH}?functionName={name}  [{name}]")
        for timer in self.timers:
            lines.append(f"timer  {timer.schedule}  [{timer.function.name}]")
        lines += [f"off    {name} (AzureWebJobs.{name}.Disabled)" for name in self.catalogue.disabled]
        lines += [f"skip   {name}: trigger type not run locally" for name in self.catalogue.unsupported]
        return lines
