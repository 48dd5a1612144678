"""A local host for the FunctionApp, for machines without Azure Functions Core Tools.

It reads the triggers from the app object itself and gives them the host.json semantics:
HTTP triggers under /api, queue triggers with encoding, dequeue counts, visibility back-off and
poison queues, timer triggers on their NCRONTAB schedules. Development and tests only.
"""
