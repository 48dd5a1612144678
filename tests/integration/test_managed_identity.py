"""Every Azure credential the app builds names its user-assigned identity (issue 17.2).

The app runs with a user-assigned identity only. The real SDK clients (ACS SMS and phone numbers, storage,
Graph) get their tokens from an App Service identity endpoint stand-in that, like the platform, refuses an
identity the app does not have; the services themselves are an HTTPS stand-in that refuses every call, so
each test stops right after the token request it checks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localworld.app_service_identity import AppServiceIdentityStandIn
from localworld.server import Response, StandIn
from shared.adapters import identity
from shared.adapters.acs_sms import AcsSmsSender
from shared.adapters.graph_meetings import _credential
from shared.adapters.phone_numbers import AcsPhoneNumberProvider
from shared.adapters.storage import StorageAccount
from shared.domain.sms import OutboundSms
from shared.errors import SettingsError, UpstreamError
from shared.settings import Settings, load_settings
from tests.phone_support import MemoryProgress

APP_IDENTITY = "5f0c6d1e-8a47-4c11-9a3e-2b7d9e4f6a10"
SMS = OutboundSms(job_id="job-mi", from_number="+18005550100", to_number="+12605551234", text="Your visit...")


def _identities(endpoint: AppServiceIdentityStandIn, audience: str) -> list[str | None]:
    """The identities tokens were issued for, each checked to be for `audience`."""
    assert all(resource.rstrip("/") == audience for _, resource in endpoint.issued), endpoint.issued
    return [client_id for client_id, _ in endpoint.issued]


def _refused(_request: object) -> Response:
    return Response.json({"error": {"code": "AuthorizationFailed", "message": "refused by the stand-in"}}, 403)


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AppServiceIdentityStandIn, StandIn, Settings]]:
    """The identity endpoint, a refusing Azure service, and settings as infra/main.bicep sets them."""
    with AppServiceIdentityStandIn({APP_IDENTITY}) as endpoint, StandIn(_refused, tls=True) as service:
        for name, value in endpoint.environment().items():
            monkeypatch.setenv(name, value)
        for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", service.ca_file)
        identity.managed_identity.cache_clear()  # credentials read IDENTITY_ENDPOINT when built
        env = {
            "GEOS": "EU",
            "PUBLIC_BASE_URL": "https://connector.example.org",
            "AZURE_CLIENT_ID": APP_IDENTITY,
            "ACS_ENDPOINT": f"{service.url}/",
            "MEETING_PROVIDER": "graph",
            "GRAPH_CLIENT_ID": APP_IDENTITY,
        }
        for setting in ("CONTROL_STORAGE", "GEO_EU_STORAGE"):
            env |= {
                f"{setting}__tableServiceUri": f"{service.url}/table",
                f"{setting}__queueServiceUri": f"{service.url}/queue",
                f"{setting}__credential": "managedidentity",
                f"{setting}__clientId": APP_IDENTITY,
            }
        yield endpoint, service, load_settings(env)
        identity.managed_identity.cache_clear()


def test_sms_is_sent_as_the_user_assigned_identity(platform: tuple) -> None:
    endpoint, service, settings = platform
    with pytest.raises(UpstreamError):
        AcsSmsSender(settings.acs, connection_verify=service.ca_file).send(SMS)
    assert _identities(endpoint, "https://communication.azure.com") == [APP_IDENTITY]
    assert service.requests[0].headers["authorization"].startswith("Bearer mi-")


def test_numbers_are_bought_as_the_user_assigned_identity(platform: tuple) -> None:
    endpoint, service, settings = platform
    with pytest.raises(UpstreamError):
        AcsPhoneNumberProvider(settings.acs, polling_interval=0, connection_verify=service.ca_file).purchase_number(
            "US", MemoryProgress()
        )
    assert _identities(endpoint, "https://communication.azure.com") == [APP_IDENTITY]


def test_storage_is_reached_as_the_user_assigned_identity(platform: tuple) -> None:
    endpoint, _service, settings = platform
    with pytest.raises(UpstreamError):
        StorageAccount(settings.geo_storage["EU"]).ping()
    assert _identities(endpoint, "https://storage.azure.com") == [APP_IDENTITY]


def test_graph_is_called_as_the_user_assigned_identity(platform: tuple) -> None:
    endpoint, _service, settings = platform
    credential = _credential(settings.graph, verify=True)
    credential.get_token("https://graph.microsoft.com/.default")
    assert _identities(endpoint, "https://graph.microsoft.com") == [APP_IDENTITY]


def test_a_credential_without_the_identity_is_refused_before_any_token_request(platform: tuple) -> None:
    """azure-identity reads client id None as the system-assigned identity, which the platform refuses."""
    endpoint, _service, _settings = platform
    with pytest.raises(SettingsError, match="AZURE_CLIENT_ID"):
        identity.managed_identity(None)
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ManagedIdentityCredential

    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential().get_token("https://communication.azure.com/.default")
    assert endpoint.issued == []
    assert endpoint.requests
    assert "client_id" not in endpoint.requests[-1].query
