"""The Functions app: one blueprint per entrypoint family, and nothing else."""

import azure.functions as func

from shared.triggers import (
    config_api,
    config_approval,
    devicetest,
    ehr_writeback,
    graph_events,
    health,
    hl7,
    join,
    launch,
    maintenance,
    openapi,
    phone_number_orders,
    portal,
    reports,
    sandbox,
    sms,
    sms_events,
    well_known,
)

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

app.register_functions(health.bp)
app.register_functions(openapi.bp)
app.register_functions(well_known.bp)
app.register_functions(config_api.bp)
app.register_functions(config_approval.bp)
app.register_functions(reports.bp)
app.register_functions(portal.bp)
app.register_functions(phone_number_orders.bp)
app.register_functions(launch.bp)
app.register_functions(join.bp)
app.register_functions(devicetest.bp)
app.register_functions(sandbox.bp)
app.register_functions(hl7.bp)
app.register_functions(sms.bp)
app.register_functions(sms_events.bp)
app.register_functions(ehr_writeback.bp)
app.register_functions(graph_events.bp)
app.register_functions(maintenance.bp)
