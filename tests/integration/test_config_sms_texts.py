"""Editable SMS texts over HTTP against Azurite: set, replace, remove, preview with segments, the rules refused with
a 400 naming them (changing nothing), the approval kept, every change audited, admins of the tenant only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from localworld.entra import OTHER_TENANT, TENANT, EntraStandIn
from shared import bootstrap
from shared.domain.config import EndpointStatus
from tests.configapi import ConfigApi
from tests.integration.test_config_resources import ORGS, new_endpoint, new_org, problem_of


@pytest.fixture
def api(config_env: dict[str, str], entra: EntraStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConfigApi]:
    monkeypatch.setenv("ENTRA_ALLOWED_TENANTS", f"{TENANT},{OTHER_TENANT}")
    bootstrap.reset()
    client = ConfigApi(entra.admin_token())
    yield client
    client.close()


@pytest.fixture
def texts_path(api: ConfigApi) -> str:
    org = new_org(api, name="Riverside Health System", display_name="Riverside Clinic")
    endpoint = new_endpoint(api, org["id"], time_zone="Europe/Copenhagen")
    return f"/api/config/endpoints/{endpoint['id']}/sms-texts"


def approve(endpoint_id: str) -> None:
    store = bootstrap.get_config_store()
    current = store.read_endpoint(endpoint_id)
    approved = replace(current.value, status=EndpointStatus.APPROVED, pending_reason=None)
    store.replace_endpoint(approved, current.etag, old_url=approved.fhir_base_url)


def endpoint_id_of(path: str) -> str:
    return path.split("/")[4]


def test_an_endpoint_starts_with_the_built_in_texts_and_says_what_an_editor_may_use(api: ConfigApi, texts_path) -> None:
    reply = api.get(texts_path)
    assert reply.status == 200
    assert reply.headers["ETag"]
    document = reply.json
    assert document["items"] == []
    assert document["built_in_languages"] == ["en", "es", "da", "it"]
    assert set(document["placeholders"]) == {"organisation", "sender", "department", "date", "time", "until", "link"}
    assert (document["default_language"], document["segment_limit"]) == ("en", 3)
    assert "clinician_ready" in document["kinds"]


def test_a_text_is_set_replaced_previewed_and_removed_and_each_change_audited(api: ConfigApi, texts_path) -> None:
    endpoint_id = endpoint_id_of(texts_path)
    approve(endpoint_id)
    text = {
        "kind": "reminder",
        "language": "da",
        "department": "SEAPC",
        "template": "{sender}: {date} kl. {time}. {link}",
    }
    reply = api.put(texts_path, text)
    assert reply.status == 200, reply.body
    assert reply.json["items"] == [text]
    replaced = api.put(texts_path, {**text, "template": "{sender}: husk {date} kl. {time}: {link}"})
    assert [item["template"] for item in replaced.json["items"]] == ["{sender}: husk {date} kl. {time}: {link}"]

    preview = api.post(f"{texts_path}/preview", {"kind": "reminder", "language": "dan", "department": "SEAPC"})
    assert preview.status == 200, preview.body
    shown = preview.json
    assert shown["text"].startswith("Riverside Clinic: husk ")
    assert " kl. 10.45 " in shown["text"]
    assert "/api/join#eu-" in shown["text"]
    assert (shown["encoding"], shown["segments"], shown["segment_limit"], shown["language"]) == ("GSM-7", 1, 3, "da")

    other_department = api.post(f"{texts_path}/preview", {"kind": "reminder", "language": "da", "department": "X"})
    assert "husk din videokonsultation" in other_department.json["text"]  # the built-in Danish reminder

    assert api.put(texts_path, {**text, "template": None}).json["items"] == []
    assert bootstrap.get_config_store().get_endpoint(endpoint_id).status is EndpointStatus.APPROVED

    org_id = bootstrap.get_config_store().get_endpoint(endpoint_id).org_id
    audit = api.get(f"{ORGS}/{org_id}/audit").json["items"]
    assert [entry["action"] for entry in audit[:3]] == ["sms_text.removed", "sms_text.updated", "sms_text.updated"]
    assert audit[1]["details"] == {
        "kind": "reminder",
        "language": "da",
        "department": "SEAPC",
        "template": "{sender}: husk {date} kl. {time}: {link}",
        "segments": 1,
        "encoding": "GSM-7",
    }


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ({"kind": "reminder", "template": "{sender} {date} {link} {room}"}, "template_unknown_placeholder", "{room}"),
        ({"kind": "reminder", "template": "Dear {patient_name}, {link}"}, "template_patient_data", "patient data"),
        ({"kind": "reminder", "template": "Call 206-555-0162 or {link}"}, "template_patient_data", "phone number"),
        ({"kind": "reminder", "template": "{sender}: at {time}."}, "template_link_missing", "{link}"),
        ({"kind": "cancelled", "template": "{sender}: {link}"}, "template_link_not_available", "remove {link}"),
        ({"kind": "reminder", "template": "{link} " + "word " * 90}, "template_over_segment_limit", "limit is 3"),
        ({"kind": "reminder", "template": 7}, "template_not_text", "text"),
        ({"kind": "soon", "template": "{link}"}, "invalid_request", "kind must be one of"),
        ({"kind": "reminder", "language": "klingon", "template": "{link}"}, "invalid_request", "ISO 639"),
        ({"kind": "reminder", "department": "", "template": "{link}"}, "invalid_request", "department"),
        ({"kind": "reminder"}, "invalid_request", "template is required"),
        ({"kind": "reminder", "template": "{link}", "patient": "x"}, "invalid_request", "Unknown field"),
    ],
)
def test_a_text_that_breaks_a_rule_is_refused_naming_the_rule_and_changes_nothing(
    api: ConfigApi, texts_path: str, text: dict, code: str, words: str
) -> None:
    before = api.get(texts_path)
    for reply in (api.put(texts_path, text), api.post(f"{texts_path}/preview", text)):
        if reply.status == 200:  # the preview of a text without a template shows the one in effect
            assert "template" not in text
            continue
        assert words in problem_of(reply, 400)
        assert reply.json["code"] == code
    after = api.get(texts_path)
    assert (after.json, after.headers["ETag"]) == (before.json, before.headers["ETag"])


def test_the_admins_segment_limit_is_what_a_text_is_held_to(api: ConfigApi, texts_path: str) -> None:
    endpoint_id = endpoint_id_of(texts_path)
    store = bootstrap.get_config_store()
    current = store.read_endpoint(endpoint_id)
    store.replace_endpoint(
        replace(current.value, sms=replace(current.value.sms, segment_limit=1)),
        current.etag,
        old_url=current.value.fhir_base_url,
    )
    long = {"kind": "clinician_ready", "template": "{sender}: your clinician is ready, please join now: {link}"}
    assert "limit is 1" in problem_of(
        api.put(texts_path, {**long, "template": long["template"] + " Thank you!" * 5}), 400
    )
    assert api.put(texts_path, long).status == 200


def test_only_admins_of_the_tenant_edit_or_preview_texts(api: ConfigApi, texts_path: str, entra: EntraStandIn) -> None:
    text = {"kind": "reminder", "template": "{link}"}
    outsider = entra.admin_token(tenant=OTHER_TENANT)
    assert problem_of(api.put(texts_path, text, token=outsider), 404)
    assert problem_of(api.post(f"{texts_path}/preview", text, token=outsider), 404)
    reader = entra.token("someone@hospital.example")
    assert problem_of(api.put(texts_path, text, token=reader), 403)
    assert problem_of(api.get(texts_path, token=reader), 403)
    assert api.put(texts_path, text, token="").status == 401
