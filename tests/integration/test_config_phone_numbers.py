"""Ordering SMS numbers: 202 + an operation to poll, fulfilled by the queue function (sandbox and ACS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import function_app
from localworld.acs_numbers import AcsNumbersStandIn
from localworld.entra import EntraStandIn
from shared import bootstrap
from shared.adapters.phone_numbers import AcsPhoneNumberProvider
from shared.devhost.functions import read_functions
from shared.devhost.queues import QueuePump
from shared.errors import UpstreamError
from shared.hostconfig import get_host_config
from shared.services.phone_numbers import fulfil_phone_number_order
from shared.settings import AcsConnection
from tests.configapi import ConfigApi
from tests.phone_support import MemoryProgress

ORGS = "/api/config/organisations"


@pytest.fixture
def api(config_env: dict[str, str], entra: EntraStandIn) -> Iterator[ConfigApi]:
    client = ConfigApi(entra.admin_token())
    yield client
    client.close()


def drain_orders(env: dict[str, str]) -> int:
    """Run the order queue's function over what is queued, as the Functions host would."""
    [function] = [f for f in read_functions(function_app.app).queue if f.name == "fulfil_phone_number_orders"]
    return QueuePump(function, get_host_config().queues, env).drain_once()


def consented_org(api: ConfigApi) -> str:
    org = api.post(ORGS, {"name": "Mercy", "geo": "US", "display_name": "Mercy"}).json["id"]
    api.patch(f"{ORGS}/{org}", {"consent_send_on_behalf": True, "consent_patients_consented": True})
    return org


def test_numbers_need_both_consents(api: ConfigApi) -> None:
    org = api.post(ORGS, {"name": "Mercy", "geo": "US", "display_name": "Mercy"}).json["id"]
    api.patch(f"{ORGS}/{org}", {"consent_send_on_behalf": True})
    reply = api.post(f"{ORGS}/{org}/phone-numbers", {})
    assert reply.status == 409
    assert "consents" in reply.json["detail"]


def test_a_sandbox_number_is_ordered_polled_and_usable_for_sms(api: ConfigApi, config_env: dict[str, str]) -> None:
    org = consented_org(api)
    ordered = api.post(f"{ORGS}/{org}/phone-numbers", {"country_code": "US"})
    assert ordered.status == 202, ordered.body
    location = ordered.headers["Location"]
    assert api.get(location).json["status"] == "running"
    while drain_orders(config_env):
        pass
    done = api.get(location).json
    assert done["status"] == "succeeded", done
    number = done["result"]["number"]
    assert [n["number"] for n in api.get(f"{ORGS}/{org}/phone-numbers").json["items"]] == [number]

    first = api.post(
        f"{ORGS}/{org}/endpoints",
        {
            "fhir_base_url": "https://a.example/api/FHIR/R4",
            "environment": "test",
            "approver_upn": "x@a.example",
            "time_zone": "UTC",
        },
    ).json
    second = api.post(
        f"{ORGS}/{org}/endpoints",
        {
            "fhir_base_url": "https://a.example/api/FHIR/STU3",
            "environment": "test",
            "approver_upn": "x@a.example",
            "time_zone": "UTC",
        },
    ).json
    sms = {
        "confirmation_enabled": True,
        "reminders_enabled": True,
        "reminder_lead_minutes": [60],
        "from_number": number,
    }
    for endpoint in (first, second):  # one number, several endpoints
        saved = api.put(f"/api/config/endpoints/{endpoint['id']}/sms", sms)
        assert saved.status == 200, saved.body
        assert saved.json["sms"]["from_number"] == number


def test_a_bad_country_is_refused(api: ConfigApi) -> None:
    org = consented_org(api)
    assert api.post(f"{ORGS}/{org}/phone-numbers", {"country_code": "NL"}).status == 400


def provider_for(acs: AcsNumbersStandIn, **options: object) -> AcsPhoneNumberProvider:
    connection = AcsConnection(endpoint=f"{acs.url}/", connection_string=acs.connection_string)
    return AcsPhoneNumberProvider(connection, polling_interval=0, connection_verify=acs.ca_file, **options)


def test_acs_numbers_are_searched_then_purchased_with_signed_requests() -> None:
    with AcsNumbersStandIn(polls_before_done=2) as acs:
        progress = MemoryProgress()
        number = provider_for(acs).purchase_number("US", progress)
    assert set(progress.saved) == {"search", "purchase"}
    assert acs.purchased == [number]
    assert acs.unsigned == 0
    assert [r.path for r in acs.requests][:1] == ["/availablePhoneNumbers/countries/US/:search"]


def test_acs_refusing_our_key_is_a_permanent_upstream_error() -> None:
    with AcsNumbersStandIn() as acs:
        wrong = "endpoint=" + acs.url + "/;accesskey=" + "d3Jvbmcga2V5"
        provider = AcsPhoneNumberProvider(
            AcsConnection(endpoint=acs.url, connection_string=wrong), polling_interval=0, connection_verify=acs.ca_file
        )
        with pytest.raises(UpstreamError) as raised:
            provider.purchase_number("US", MemoryProgress())
    assert raised.value.retryable is False
    assert acs.purchased == []


def test_an_order_whose_purchase_polling_failed_resumes_it_and_never_buys_twice(
    api: ConfigApi, config_env: dict[str, str]
) -> None:
    org = consented_org(api)
    operation_id = api.post(f"{ORGS}/{org}/phone-numbers", {"country_code": "US"}).headers["Location"].rsplit("/", 1)[1]
    store = bootstrap.get_config_store()
    now = datetime.now(UTC)
    with AcsNumbersStandIn(failing_purchase_polls=1) as acs:
        provider = provider_for(acs, retry_total=0)  # the SDK's own retries would hide the failed poll
        with pytest.raises(UpstreamError) as raised:
            fulfil_phone_number_order(store, provider, {"operation_id": operation_id}, now)
        assert raised.value.retryable  # the queue delivers the order again
        assert acs.purchased != []
        assert store.get_operation(operation_id).status == "running"
        done = fulfil_phone_number_order(store, provider, {"operation_id": operation_id}, now)
        searches = [r for r in acs.requests if r.path.endswith(":search")]
        purchases = [r for r in acs.requests if r.path.endswith(":purchase")]
    assert (done.status, len(searches), len(purchases), acs.purchased) == ("succeeded", 1, 1, [done.result["number"]])
    document = api.get(f"/api/config/operations/{operation_id}").json
    assert "progress" not in document
    assert "search" not in json.dumps(document)


def endpoint_of(api: ConfigApi, org: str) -> dict:
    body = {
        "fhir_base_url": f"https://{org.lower().replace('_', '-')}.example/api/FHIR/R4",
        "environment": "test",
        "approver_upn": "x@a.example",
        "time_zone": "UTC",
    }
    created = api.post(f"{ORGS}/{org}/endpoints", body)
    assert created.status == 201, created.body
    return created.json


def acs_number(api: ConfigApi, org: str) -> str:
    """A toll-free number bought for `org` through ACS (the stand-in), as the order queue would."""
    operation_id = api.post(f"{ORGS}/{org}/phone-numbers", {"country_code": "US"}).headers["Location"].rsplit("/", 1)[1]
    with AcsNumbersStandIn() as acs:
        done = fulfil_phone_number_order(
            bootstrap.get_config_store(), provider_for(acs), {"operation_id": operation_id}, datetime.now(UTC)
        )
    return done.result["number"]


def sms_using(number: str, **extra: object) -> dict:
    return {"confirmation_enabled": True, "reminders_enabled": False, "from_number": number, **extra}


def test_a_bought_toll_free_number_cannot_text_until_its_verification_is_recorded(api: ConfigApi) -> None:
    org = consented_org(api)
    number = acs_number(api, org)
    [listed] = api.get(f"{ORGS}/{org}/phone-numbers").json["items"]
    assert (listed["number"], listed["verification"]) == (number, "pending_verification")
    endpoint = endpoint_of(api, org)
    refused = api.put(f"/api/config/endpoints/{endpoint['id']}/sms", sms_using(number))
    assert refused.status == 409
    assert "toll-free verification" in refused.json["detail"]

    encoded = number.replace("+", "%2B")
    recorded = api.put(f"{ORGS}/{org}/phone-numbers/{encoded}/toll-free-verification", {"verified": True})
    assert recorded.status == 200, recorded.body
    assert recorded.json["verification"] == "verified"
    assert api.put(f"/api/config/endpoints/{endpoint['id']}/sms", sms_using(number)).status == 200
    actions = [entry["action"] for entry in api.get(f"{ORGS}/{org}/audit").json["items"]]
    assert "phone_number.toll_free_verification" in actions


def test_an_unverified_number_is_linked_only_by_an_explicit_override_the_audit_log_records(api: ConfigApi) -> None:
    org = consented_org(api)
    number = acs_number(api, org)
    endpoint = endpoint_of(api, org)
    linked = api.put(f"/api/config/endpoints/{endpoint['id']}/sms", sms_using(number, allow_unverified_number=True))
    assert linked.status == 200, linked.body
    assert "allow_unverified_number" not in linked.json["sms"]
    [override] = [
        entry
        for entry in api.get(f"{ORGS}/{org}/audit").json["items"]
        if entry["action"] == "sms_settings.unverified_number_linked"
    ]
    assert override["target"] == endpoint["id"]
    bad = api.put(f"/api/config/endpoints/{endpoint['id']}/sms", sms_using(number, allow_unverified_number="yes"))
    assert bad.status == 400


@pytest.mark.parametrize(
    ("body", "status"),
    [({"verified": "yes"}, 400), ({"verified": True, "extra": 1}, 400), ({}, 400)],
)
def test_a_malformed_verification_record_is_refused(api: ConfigApi, body: dict, status: int) -> None:
    org = consented_org(api)
    number = acs_number(api, org)
    reply = api.put(f"{ORGS}/{org}/phone-numbers/{number.replace('+', '%2B')}/toll-free-verification", body)
    assert reply.status == status
    [listed] = api.get(f"{ORGS}/{org}/phone-numbers").json["items"]
    assert listed["verification"] == "pending_verification"  # nothing lost, nothing changed


def test_verification_of_a_sandbox_or_a_foreign_number_is_refused(api: ConfigApi, config_env: dict[str, str]) -> None:
    org = consented_org(api)
    api.post(f"{ORGS}/{org}/phone-numbers", {"country_code": "US"})
    while drain_orders(config_env):
        pass
    [sandbox] = api.get(f"{ORGS}/{org}/phone-numbers").json["items"]
    assert sandbox["verification"] == "not_required"
    path = f"{ORGS}/{org}/phone-numbers/{{}}/toll-free-verification"
    assert api.put(path.format(sandbox["number"].replace("+", "%2B")), {"verified": True}).status == 409
    assert api.put(path.format("%2B18005550199"), {"verified": True}).status == 404
    assert api.put(path.format("not-a-number"), {"verified": True}).status == 400


@pytest.fixture
def acs_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders go to ACS (the order is only queued here: nothing is bought)."""
    monkeypatch.setenv("PHONE_NUMBER_PROVIDER", "acs")
    monkeypatch.setenv("ACS_CONNECTION_STRING", "endpoint=https://acs.example/;accesskey=a2V5")
    bootstrap.reset()


@pytest.mark.parametrize(
    ("geo", "order", "detail"),
    [
        ("EU", {"country_code": "US"}, "reach only the US, Canada and Puerto Rico"),
        ("APAC", {}, "reach only the US, Canada and Puerto Rico"),
        ("US", {"country_code": "US", "number_type": "local"}, "number_type must be one of toll_free"),
        ("US", {"country_code": "GB"}, "country_code must be one of US, CA"),
        ("US", {"country_code": "CA", "number_type": {}}, "number_type must be one of toll_free"),  # schemathesis
        ("US", {"country_code": ["US"]}, "country_code must be one of US, CA"),
    ],
)
def test_only_numbers_that_can_text_the_organisations_geography_are_ordered_from_acs(
    api: ConfigApi, acs_numbers: None, geo: str, order: dict, detail: str
) -> None:
    org = api.post(ORGS, {"name": "Mercy", "geo": geo, "display_name": "Mercy"}).json["id"]
    api.patch(f"{ORGS}/{org}", {"consent_send_on_behalf": True, "consent_patients_consented": True})
    reply = api.post(f"{ORGS}/{org}/phone-numbers", order)
    assert reply.status == 400
    assert detail in reply.json["detail"]


def test_a_us_organisation_orders_from_acs_and_the_sandbox_serves_every_geography(
    api: ConfigApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    for geo in ("EU", "APAC", "US"):
        org = api.post(ORGS, {"name": "Mercy", "geo": geo, "display_name": "Mercy"}).json["id"]
        api.patch(f"{ORGS}/{org}", {"consent_send_on_behalf": True, "consent_patients_consented": True})
        assert api.post(f"{ORGS}/{org}/phone-numbers", {}).status == 202  # the sandbox
    monkeypatch.setenv("PHONE_NUMBER_PROVIDER", "acs")
    monkeypatch.setenv("ACS_CONNECTION_STRING", "endpoint=https://acs.example/;accesskey=a2V5")
    bootstrap.reset()
    assert api.post(f"{ORGS}/{org}/phone-numbers", {"country_code": "CA"}).status == 202
