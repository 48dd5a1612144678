"""Pure configuration rules: FHIR URL normalisation, status after edits, context tokens."""

from __future__ import annotations

import pytest

from shared.domain.config import EndpointStatus, normalise_fhir_base_url, status_after_admin_change
from shared.errors import InvalidRequestError

SECRET = b"s" * 32


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        (
            "HTTPS://Fhir.Mercy.Example:443/interconnect/api/FHIR/R4/",
            "https://fhir.mercy.example/interconnect/api/FHIR/R4",
        ),
        ("https://fhir.mercy.example:8443//api/FHIR/R4", "https://fhir.mercy.example:8443/api/FHIR/R4"),
        ("https://hapi.example/fhir", "https://hapi.example/fhir"),
        ("https://hapi.example/base/fhir/r4", "https://hapi.example/base/fhir/r4"),
    ],
)
def test_spellings_of_one_server_normalise_alike(given: str, normalised: str) -> None:
    assert normalise_fhir_base_url(given) == normalised


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "required"),
        ("http://fhir.mercy.example/api/FHIR/R4", "https"),
        ("https:///api/FHIR/R4", "no host"),
        ("https://user:pw@fhir.mercy.example/api/FHIR/R4", "credentials"),
        ("https://fhir.mercy.example/api/FHIR/R4#x", "fragment"),
        ("https://fhir.mercy.example/api/FHIR/R4/Patient", "FHIR API path"),
        ("https://fhir.mercy.example:99999/api/FHIR/R4", "not a valid URL"),
    ],
)
def test_unacceptable_urls_say_why(given: str, reason: str) -> None:
    with pytest.raises(InvalidRequestError, match=reason):
        normalise_fhir_base_url(given)


def test_only_an_approved_endpoint_goes_back_to_pending() -> None:
    assert status_after_admin_change(EndpointStatus.APPROVED) is EndpointStatus.PENDING_APPROVAL
    assert status_after_admin_change(EndpointStatus.DRAFT) is EndpointStatus.DRAFT
    assert status_after_admin_change(EndpointStatus.PENDING_APPROVAL) is EndpointStatus.PENDING_APPROVAL


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("http://127.0.0.1:7073/interconnect/api/FHIR/R4/", "http://127.0.0.1:7073/interconnect/api/FHIR/R4"),
        ("HTTP://LocalHost:80/api/FHIR/R4", "http://localhost/api/FHIR/R4"),
    ],
)
def test_loopback_http_is_accepted_only_when_allowed(given: str, normalised: str) -> None:
    assert normalise_fhir_base_url(given, loopback_http=True) == normalised
    with pytest.raises(InvalidRequestError, match="https"):
        normalise_fhir_base_url(given)


@pytest.mark.parametrize(
    "given", ["http://fhir.mercy.example/api/FHIR/R4", "http://10.0.0.5/api/FHIR/R4", "http://127.0.0.1.nip.io/fhir"]
)
def test_loopback_http_never_opens_http_to_other_hosts(given: str) -> None:
    with pytest.raises(InvalidRequestError, match="https"):
        normalise_fhir_base_url(given, loopback_http=True)
