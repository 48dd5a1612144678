"""Settings are read once, validated, and fail with a message that names the setting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.errors import SettingsError
from shared.settings import CONNECTION_SUFFIXES, KNOWN_GEOS, SETTINGS, load_settings

ROOT = Path(__file__).resolve().parents[2]
CONN = "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=c2VjcmV0;TableEndpoint=http://127.0.0.1:1/a"
T1 = "11111111-1111-1111-1111-111111111111"
T2 = "22222222-2222-2222-2222-222222222222"
ENTRA = {"ENTRA_CLIENT_ID": "client", "ENTRA_ALLOWED_TENANTS": f"{T1}, {T2.upper()}"}
HOST_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"}


def valid_env(**changes: str | None) -> dict[str, str]:
    env = {
        "GEOS": "US,EU",
        "PUBLIC_BASE_URL": "https://connector.example.org",
        "CONTROL_STORAGE": CONN,
        "GEO_US_STORAGE": CONN,
        "GEO_EU_STORAGE": CONN,
    }
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def test_valid_settings_route_each_served_geo_to_its_connection() -> None:
    settings = load_settings(valid_env())
    assert settings.geos == ("US", "EU")
    assert set(settings.geo_storage) == {"US", "EU"}
    assert settings.geo_storage["EU"].setting == "GEO_EU_STORAGE"
    assert not settings.control_storage.uses_identity


def test_geos_are_normalised() -> None:
    assert load_settings(valid_env(GEOS=" us , eu ")).geos == ("US", "EU")


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"GEOS": None}, "GEOS"),
        ({"GEOS": ""}, "GEOS"),
        ({"GEOS": "US,MARS"}, "GEOS"),
        ({"GEOS": "US,,EU"}, "GEOS"),
        ({"GEOS": "US,US"}, "GEOS"),
        ({"CONTROL_STORAGE": None}, "CONTROL_STORAGE"),
        ({"GEO_EU_STORAGE": None}, "GEO_EU_STORAGE"),
        ({"GEO_EU_STORAGE": "not a connection string"}, "GEO_EU_STORAGE"),
        ({"PUBLIC_BASE_URL": None}, "PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "http://connector.example.org"}, "PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "https://connector.example.org/?next=x"}, "PUBLIC_BASE_URL"),
        ({"ACS_ENDPOINT": "http://acs.example.org"}, "ACS_ENDPOINT"),
        ({"ACS_CONNECTION_STRING": "endpoint=https://acs.example.org/"}, "ACS_CONNECTION_STRING"),
        ({"ENTRA_CLIENT_ID": "x"}, "ENTRA_ALLOWED_TENANTS"),
        ({**ENTRA, "ENTRA_AUTHORITY_HOST": "http://login.example.org"}, "ENTRA_AUTHORITY_HOST"),
        ({**ENTRA, "ENTRA_AUTHORITY_HOST": "https://login.example.org/organizations"}, "ENTRA_AUTHORITY_HOST"),
        ({**ENTRA, "ENTRA_ALLOWED_TENANTS": " , "}, "ENTRA_ALLOWED_TENANTS"),
        ({**ENTRA, "ENTRA_ALLOWED_TENANTS": "contoso.onmicrosoft.com"}, "ENTRA_ALLOWED_TENANTS"),
        ({"EPIC_CLIENT_ID": "c"}, "EPIC_PRIVATE_KEY"),
        ({"EPIC_PRIVATE_KEY": "k.pem"}, "EPIC_CLIENT_ID"),
        ({"PHONE_NUMBER_PROVIDER": "twilio"}, "PHONE_NUMBER_PROVIDER"),
        ({"CONTEXT_TOKEN_SECRET": "c2hvcnQ="}, "CONTEXT_TOKEN_SECRET"),
        ({"CONTEXT_TOKEN_SECRET": "not base64!"}, "CONTEXT_TOKEN_SECRET"),
        ({"REPORTING_PERIOD_DAYS": "0"}, "REPORTING_PERIOD_DAYS"),
        ({"REPORTING_PERIOD_DAYS": "\u0664\u0660\u0660"}, "REPORTING_PERIOD_DAYS"),  # Arabic-Indic digits
        ({"POISON_RETENTION_DAYS": "31"}, "POISON_RETENTION_DAYS"),
        ({"POISON_RETENTION_DAYS": "7d"}, "POISON_RETENTION_DAYS"),
    ],
)
def test_bad_settings_name_the_setting(changes: dict[str, str | None], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(valid_env(**changes))


def test_retention_settings_default_to_400_and_7_days() -> None:
    settings = load_settings(valid_env())
    assert (settings.reporting_period_days, settings.poison_retention_days) == (400, 7)
    assert load_settings(valid_env(POISON_RETENTION_DAYS="2")).poison_retention_days == 2


def test_public_base_url_allows_plain_http_only_for_localhost() -> None:
    assert load_settings(valid_env(PUBLIC_BASE_URL="http://127.0.0.1:7071/")).public_base_url == "http://127.0.0.1:7071"


def test_acs_is_optional_and_a_connection_string_wins_over_the_endpoint() -> None:
    assert load_settings(valid_env()).acs is None
    identity = load_settings(valid_env(ACS_ENDPOINT="https://acs.example.org"))
    assert identity.acs.endpoint == "https://acs.example.org"
    assert identity.acs.connection_string is None
    keyed = load_settings(
        valid_env(
            ACS_ENDPOINT="https://other.example.org",
            ACS_CONNECTION_STRING="endpoint=https://acs.example.org/;accesskey=a2V5",
        )
    )
    assert keyed.acs.endpoint == "https://acs.example.org/"


def test_a_bad_acs_connection_string_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(valid_env(ACS_CONNECTION_STRING="endpoint=http://x;accesskey=topsecretkey"))
    assert "topsecretkey" not in str(raised.value)


def test_a_bad_connection_string_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(valid_env(GEO_EU_STORAGE="AccountKey=topsecretkey"))
    assert "topsecretkey" not in str(raised.value)


def test_identity_based_connection_needs_table_and_queue_uris_over_https() -> None:
    env = valid_env(GEO_EU_STORAGE=None)
    env["GEO_EU_STORAGE__tableServiceUri"] = "https://eu.table.core.windows.net"
    with pytest.raises(SettingsError, match="GEO_EU_STORAGE__queueServiceUri"):
        load_settings(env)
    env["GEO_EU_STORAGE__queueServiceUri"] = "http://eu.queue.core.windows.net"
    with pytest.raises(SettingsError, match=r"GEO_EU_STORAGE__queueServiceUri must be an https"):
        load_settings(env)
    env["GEO_EU_STORAGE__queueServiceUri"] = "https://eu.queue.core.windows.net"
    env["GEO_EU_STORAGE__clientId"] = "11111111-2222-3333-4444-555555555555"
    connection = load_settings(env).geo_storage["EU"]
    assert connection.uses_identity
    assert connection.queue_uri == "https://eu.queue.core.windows.net"
    assert connection.client_id == "11111111-2222-3333-4444-555555555555"


def test_unserved_geographies_need_no_storage_setting() -> None:
    assert "GEO_APAC_STORAGE" not in valid_env()
    assert load_settings(valid_env()).geos == ("US", "EU")


def test_sample_settings_list_every_setting_and_nothing_else() -> None:
    values = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    assert set(values) == {spec.name for spec in SETTINGS} | HOST_SETTINGS
    load_settings(values)  # the local defaults are themselves valid


def test_readme_settings_table_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Za-z_.]+)`", readme, flags=re.MULTILINE))
    assert {spec.name for spec in SETTINGS} <= documented


def test_every_known_geo_has_its_storage_setting() -> None:
    names = {spec.name for spec in SETTINGS if spec.connection}
    assert {f"GEO_{geo}_STORAGE" for geo in KNOWN_GEOS} <= names
    assert all(suffix.startswith("__") for suffix in CONNECTION_SUFFIXES)


def test_sms_provider_defaults_to_acs_only_when_acs_is_configured() -> None:
    local = load_settings(valid_env())
    assert (local.sms_provider, local.sms_outbox_path, local.default_phone_region) == (
        "outbox",
        "outbox/sms.jsonl",
        "US",
    )
    with_acs = load_settings(valid_env(ACS_ENDPOINT="https://acs.example.org"))
    assert with_acs.sms_provider == "acs"
    assert (
        load_settings(valid_env(ACS_ENDPOINT="https://acs.example.org", SMS_PROVIDER="outbox")).sms_provider == "outbox"
    )
    assert load_settings(valid_env(DEFAULT_PHONE_REGION=" gb ")).default_phone_region == "GB"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"SMS_PROVIDER": "carrier-pigeon"}, "SMS_PROVIDER"),
        ({"SMS_PROVIDER": "acs"}, "SMS_PROVIDER"),  # acs without any ACS setting
        ({"DEFAULT_PHONE_REGION": "XX"}, "DEFAULT_PHONE_REGION"),
        ({"DEFAULT_PHONE_REGION": "USA"}, "DEFAULT_PHONE_REGION"),
    ],
)
def test_bad_sms_settings_name_the_setting(changes: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(valid_env(**changes))


def test_configuration_api_settings_are_optional_until_used() -> None:
    settings = load_settings(valid_env())
    assert settings.entra is None
    assert settings.phone_number_provider == "sandbox"
    with pytest.raises(SettingsError, match="ENTRA_CLIENT_ID"):
        settings.require_entra()
    with pytest.raises(SettingsError, match="EPIC_CLIENT_ID"):
        settings.require_epic()
    with pytest.raises(SettingsError, match="CONTEXT_TOKEN_SECRET"):
        settings.require_context_token_secret()
    entra = load_settings(valid_env(**ENTRA)).require_entra()
    assert entra.allowed_tenants == {T1, T2}
    assert entra.authority_host == "https://login.microsoftonline.com"
    assert entra.legacy_tenant == ""  # two tenants: rows without one are nobody's
    single = load_settings(valid_env(**{**ENTRA, "ENTRA_ALLOWED_TENANTS": T1})).require_entra()
    assert single.legacy_tenant == T1


def test_a_short_context_token_secret_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(valid_env(CONTEXT_TOKEN_SECRET="c2VjcmV0c2VjcmV0"))
    assert "c2VjcmV0c2VjcmV0" not in str(raised.value)


@pytest.mark.parametrize("name", ["CONTEXT_TOKEN_SECRET", "OPT_OUT_HASH_KEY", "EPIC_PRIVATE_KEY", "GEO_EU_STORAGE"])
def test_an_unresolved_key_vault_reference_says_what_to_check(name: str) -> None:
    """App Service leaves `@Microsoft.KeyVault(...)` in place when it cannot read the secret (issue 17.3)."""
    reference = "@Microsoft.KeyVault(SecretUri=https://kv-x.vault.azure.net/secrets/opt-out-hash-key)"
    with pytest.raises(SettingsError) as raised:
        load_settings(valid_env(**{name: reference}))
    message = str(raised.value)
    assert f"Setting {name}: Key Vault reference not resolved: check the secret and the identity's access." in message
    assert "vault.azure.net" not in message


def test_managed_identity_connections_name_the_user_assigned_identity() -> None:
    """The app has only a user-assigned identity: AZURE_CLIENT_ID reaches ACS, storage and Graph (issue 17.2)."""
    identity = "11111111-2222-3333-4444-555555555555"
    env = valid_env(GEO_EU_STORAGE=None, ACS_ENDPOINT="https://acs.communication.azure.com", AZURE_CLIENT_ID=identity)
    env["GEO_EU_STORAGE__tableServiceUri"] = "https://eu.table.core.windows.net"
    env["GEO_EU_STORAGE__queueServiceUri"] = "https://eu.queue.core.windows.net"
    env["MEETING_PROVIDER"] = "graph"
    settings = load_settings(env)
    assert settings.acs.client_id == identity
    assert settings.geo_storage["EU"].client_id == identity
    assert settings.graph.client_id == identity
    env["GEO_EU_STORAGE__clientId"] = "another-identity"
    assert load_settings(env).geo_storage["EU"].client_id == "another-identity"


def test_loopback_http_is_off_by_default_and_on_only_for_a_localhost_app() -> None:
    assert load_settings(valid_env()).loopback_http is False
    assert load_settings(valid_env(LOOPBACK_HTTP="false")).loopback_http is False
    local = valid_env(PUBLIC_BASE_URL="http://127.0.0.1:7071", LOOPBACK_HTTP="True")
    assert load_settings(local).loopback_http is True
    with pytest.raises(SettingsError, match="LOOPBACK_HTTP=true is for local runs"):
        load_settings(valid_env(LOOPBACK_HTTP="true"))
    with pytest.raises(SettingsError, match="LOOPBACK_HTTP must be true or false"):
        load_settings(valid_env(PUBLIC_BASE_URL="http://127.0.0.1:7071", LOOPBACK_HTTP="yes"))
