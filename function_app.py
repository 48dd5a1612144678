"""The Functions app: one blueprint per entrypoint family, and nothing else."""

import azure.functions as func

from shared.triggers import devicetest, health, join, sandbox

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

app.register_functions(health.bp)
app.register_functions(join.bp)
app.register_functions(devicetest.bp)
app.register_functions(sandbox.bp)
