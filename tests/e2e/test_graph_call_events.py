"""Teams call events over HTTP, as in `make run` or Azure: the Graph stand-in validates the running host's
webhook and posts a played call's encrypted notifications to it; the visit log fills."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

import function_app
from localworld.entra_client_credentials import EntraClientCredentials
from localworld.graph import GraphStandIn, Participant, post_to_webhook
from shared import bootstrap
from shared.adapters.visit_log import VISITS_TABLE, visit_partition
from shared.devhost.azurite import free_port
from shared.devhost.host import DevHost
from shared.domain.appointment import appointment_key
from shared.services.meetings import get_or_create_meeting
from tests.hl7_support import seed_sender

TENANT, APP, SECRET = "tenant-1", "app-1", "secret-1"
START = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)


@pytest.fixture
def world(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, graph_notification_key: str
) -> Iterator[tuple[GraphStandIn, DevHost]]:
    graph = GraphStandIn(EntraClientCredentials(TENANT, APP, SECRET), deliver=post_to_webhook)
    port = free_port()
    with graph.server:
        settings = {
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "MEETING_PROVIDER": "graph",
            "GRAPH_BASE_URL": f"{graph.server.url}/v1.0",
            "GRAPH_AUTHORITY_HOST": graph.server.url,
            "GRAPH_TENANT_ID": TENANT,
            "GRAPH_CLIENT_ID": APP,
            "GRAPH_CLIENT_SECRET": SECRET,
            "GRAPH_NOTIFICATION_KEY": graph_notification_key,
            "SSL_CERT_FILE": graph.server.ca_file,
            "REQUESTS_CA_BUNDLE": graph.server.ca_file,
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        host = DevHost(function_app.app, port=port, env=dict(os.environ), timers=False)
        host.start()
        try:
            yield graph, host
        finally:
            host.stop()


def test_a_call_played_at_graph_reaches_the_visit_log_over_http(world) -> None:
    graph, _ = world
    clinic = seed_sender("EU")
    meeting = get_or_create_meeting(
        bootstrap.get_storage(),
        bootstrap.get_meeting_service(),
        bootstrap.get_directory(),
        endpoint_id=clinic.endpoint.id,
        geo="EU",
        visit_id="CSN-HTTP",
        start=START,
        end=START + timedelta(minutes=20),
        organizer_user_id="8b081ef6-4792-4def-b2c9-c363a1bf41d5",
    )
    call = graph.call(meeting.join_url)  # the subscription exists: Graph validated the webhook over HTTP
    patient = Participant.guest()
    assert call.lobby(patient, START) == 202
    assert call.admit(patient, START + timedelta(minutes=2)) == 202
    assert call.end(START + timedelta(minutes=15)) == 202
    table = bootstrap.get_storage().for_geo("EU").table(VISITS_TABLE)
    row = table.get(visit_partition(clinic.endpoint.id, START), appointment_key("CSN-HTTP")).entity
    assert row["LobbyWaitSeconds"] == 120
    assert row["EndedAt"] == START + timedelta(minutes=15)
