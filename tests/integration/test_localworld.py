"""The local world's person-facing stand-ins answer bad input as the real systems do, and keep patients'
numbers and hostile text out of their pages: the sign-in page (Entra's AADSTS errors), the local Epic's
schedule and launches, and the phone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests

from localworld.entra import CLIENT_ID, OTHER_TENANT, TENANT
from localworld.entra_signin import API_SCOPE, AUTHORIZE_PATH, EntraSignIn, authorize_path, token_path
from localworld.epic import CLIENT_ID as EPIC_CLIENT_ID
from localworld.epic_pages import LocalEpic
from localworld.phone import PhoneStandIn
from shared.adapters.smart import new_pkce

REDIRECT = "http://127.0.0.1:7071/api/launch/signin"


@pytest.fixture(scope="module")
def signin() -> Iterator[EntraSignIn]:
    with EntraSignIn(redirect_uris=(REDIRECT,)) as stand_in:
        yield stand_in


def authorize_query(challenge: str, **changes: str) -> dict[str, str]:
    query = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": f"openid profile {API_SCOPE}",
        "state": "s1",
        "nonce": "n1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return {**query, **changes}


def pick(signin: EntraSignIn, query: dict[str, str], upn: str, tenant: str = TENANT) -> requests.Response:
    return requests.post(
        f"{signin.url}{authorize_path(tenant)}", data={**query, "username": upn}, allow_redirects=False, timeout=5
    )


def redeem(signin: EntraSignIn, code: str, verifier: str, tenant: str = TENANT, **changes: str) -> requests.Response:
    form = {"client_id": CLIENT_ID, "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    return requests.post(
        f"{signin.url}{token_path(tenant)}", data={**form, "code_verifier": verifier, **changes}, timeout=5
    )


def test_a_picked_user_gets_v2_access_and_id_tokens_of_their_tenant(signin: EntraSignIn) -> None:
    verifier, challenge = new_pkce()
    page = requests.get(f"{signin.url}{AUTHORIZE_PATH}?{urlencode(authorize_query(challenge))}", timeout=5)
    assert page.status_code == 200
    for name in ("Alex Admin", "Ann Analyst", "Dr Meredith Grey", "Omar Other"):
        assert name in page.text

    refused = pick(signin, authorize_query(challenge), "admin@other-clinic.example")
    assert "AADSTS50020" in refused.text  # a single-tenant app: not at the hospital's authority

    picked = pick(signin, authorize_query(challenge), "admin@other-clinic.example", OTHER_TENANT)
    answer = parse_qs(urlsplit(picked.headers["Location"]).query)
    assert answer["state"] == ["s1"]
    assert redeem(signin, answer["code"][0], verifier).status_code == 400  # redeemed at another tenant
    picked = pick(signin, authorize_query(challenge), "admin@other-clinic.example", OTHER_TENANT)
    code = parse_qs(urlsplit(picked.headers["Location"]).query)["code"][0]
    tokens = redeem(signin, code, verifier, OTHER_TENANT).json()
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    identity = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert (access["aud"], access["tid"], access["roles"], access["ver"]) == (
        CLIENT_ID,
        OTHER_TENANT,
        ["Connector.Admin"],
        "2.0",
    )
    assert access["iss"] == f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"
    assert (identity["nonce"], identity["preferred_username"]) == ("n1", "admin@other-clinic.example")
    assert identity["oid"] == signin.object_id("admin@other-clinic.example", OTHER_TENANT)


def test_without_our_api_scope_the_access_token_is_not_for_our_api(signin: EntraSignIn) -> None:
    verifier, challenge = new_pkce()
    picked = pick(signin, authorize_query(challenge, scope="openid profile"), "dr.grey@hospital.example")
    tokens = redeem(signin, parse_qs(urlsplit(picked.headers["Location"]).query)["code"][0], verifier).json()
    with pytest.raises(jwt.DecodeError):
        jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert jwt.decode(tokens["id_token"], options={"verify_signature": False})["tid"] == TENANT


@pytest.mark.parametrize(
    ("changes", "shown"),
    [({"client_id": "someone-else"}, "AADSTS700016"), ({"redirect_uri": "https://evil.example/cb"}, "AADSTS50011")],
)
def test_an_unknown_client_or_redirect_uri_is_shown_on_a_page_never_redirected_to(
    signin: EntraSignIn, changes: dict[str, str], shown: str
) -> None:
    answer = requests.get(
        f"{signin.url}{AUTHORIZE_PATH}?{urlencode(authorize_query('c', **changes))}", allow_redirects=False, timeout=5
    )
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert shown in answer.text


def test_a_malformed_authorize_request_goes_back_with_an_oauth_error(signin: EntraSignIn) -> None:
    answer = requests.get(
        f"{signin.url}{AUTHORIZE_PATH}?{urlencode(authorize_query('', code_challenge_method='plain'))}",
        allow_redirects=False,
        timeout=5,
    )
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert answer.status_code == 302
    assert back["error"] == ["invalid_request"]
    assert back["state"] == ["s1"]


def test_an_unknown_user_is_asked_again(signin: EntraSignIn) -> None:
    answer = pick(signin, authorize_query("c"), "<script>alert(1)</script>@x")
    assert answer.status_code == 200
    assert "AADSTS50034" in answer.text
    assert "<script>" not in answer.text


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"code_verifier": "wrong"}, "invalid_grant", 501481),
        ({"redirect_uri": "http://127.0.0.1:7071/other"}, "invalid_grant", 500112),
        ({"grant_type": "password"}, "unsupported_grant_type", 70003),
        ({"client_id": "someone-else"}, "unauthorized_client", 700016),
    ],
)
def test_token_refusals_are_entra_error_json_and_the_code_is_spent(
    signin: EntraSignIn, changes: dict[str, str], error: str, code: int
) -> None:
    verifier, challenge = new_pkce()
    picked = pick(signin, authorize_query(challenge), "admin@hospital.example")
    grant = parse_qs(urlsplit(picked.headers["Location"]).query)["code"][0]

    refused = redeem(signin, grant, verifier, **changes)
    assert refused.status_code == 400
    document = refused.json()
    assert document["error"] == error
    assert document["error_codes"] == [code]
    assert document["error_description"].startswith(f"AADSTS{code}:")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(document)
    again = redeem(signin, grant, verifier)
    assert (again.status_code, again.json()["error_codes"]) == (400, [70008])


@pytest.fixture
def local_epic() -> Iterator[LocalEpic]:
    with LocalEpic("http://127.0.0.1:7071") as stand_in:
        yield stand_in


def test_begin_virtual_visit_is_an_ehr_launch_with_the_csn_as_session_id(local_epic: LocalEpic) -> None:
    visit = next(iter(local_epic.visits.values()))
    answer = requests.get(f"{local_epic.url}/begin/provider?csn={visit.csn}", allow_redirects=False, timeout=5)
    target = urlsplit(answer.headers["Location"])
    query = parse_qs(target.query)
    assert (answer.status_code, target.path) == (302, "/api/launch/provider")
    assert query["iss"] == [local_epic.fhir_base_url]
    assert query["sessionId"] == [visit.csn]
    assert local_epic.launches[query["launch"][0]]["appointment"] == visit.appointment_id
    appointment = local_epic.fhir_visits[visit.csn].appointment()
    assert appointment["id"] == visit.appointment_id
    assert appointment["identifier"][0]["value"] == visit.csn


def test_the_local_epic_refuses_unknown_visits_and_actions_and_sends_nothing_unconnected(local_epic: LocalEpic) -> None:
    visit = next(iter(local_epic.visits.values()))
    unknown = requests.get(f"{local_epic.url}/begin/patient?csn=%3Cb%3E", allow_redirects=False, timeout=5)
    assert unknown.status_code == 404
    assert "<b>" not in unknown.text
    bad = requests.post(f"{local_epic.url}/schedule", data={"csn": visit.csn, "action": "explode"}, timeout=5)
    assert bad.status_code == 400
    unconnected = requests.post(f"{local_epic.url}/schedule", data={"csn": visit.csn, "action": "schedule"}, timeout=5)
    assert unconnected.status_code == 409
    assert local_epic.acks == {}


def test_the_phone_page_masks_numbers_links_urls_and_escapes_text(tmp_path: Path) -> None:
    outbox = tmp_path / "sms.jsonl"
    lines = [
        {"to": "+1********23", "from": "+18005550100", "text": "Join: http://127.0.0.1:7071/api/join/us-abc <b>x</b>"},
        "not json",
        {"to": "+1********45", "from": "+18005550100"},
    ]
    outbox.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    with PhoneStandIn(outbox=outbox) as phone:
        answer = requests.get(f"{phone.url}/", timeout=5)
        elsewhere = requests.get(f"{phone.url}/etc/passwd", timeout=5)
    assert answer.status_code == 200
    assert '<a href="http://127.0.0.1:7071/api/join/us-abc">' in answer.text
    assert "<b>x</b>" not in answer.text
    assert "+1********23" in answer.text
    assert "+1********45" not in answer.text  # a line without text is skipped, not shown half
    assert elsewhere.status_code == 404


def test_epic_asks_which_visit_when_the_launch_names_none_then_gives_its_context(local_epic: LocalEpic) -> None:
    visit = next(iter(local_epic.visits.values()))
    started = requests.get(f"{local_epic.url}/begin/provider", allow_redirects=False, timeout=5)
    launch = parse_qs(urlsplit(started.headers["Location"]).query)["launch"][0]
    query = {
        "response_type": "code",
        "client_id": EPIC_CLIENT_ID,
        "redirect_uri": "http://127.0.0.1:7071/api/launch/callback",
        "scope": "launch openid fhirUser",
        "state": "s1",
        "aud": local_epic.fhir_base_url,
        "launch": launch,
        "code_challenge": new_pkce()[1],
        "code_challenge_method": "S256",
    }
    picker = requests.get(f"{local_epic.url}/oauth2/authorize?{urlencode(query)}", allow_redirects=False, timeout=5)
    assert picker.status_code == 200
    assert "Choose a visit" in picker.text

    picked = requests.post(
        f"{local_epic.url}/oauth2/authorize", data={**query, "csn": visit.csn}, allow_redirects=False, timeout=5
    )
    assert picked.status_code == 302
    assert parse_qs(urlsplit(picked.headers["Location"]).query)["state"] == ["s1"]
    assert local_epic.launches[launch]["appointment"] == visit.appointment_id
