"""The stand-ins themselves: HTTPS that the real SDKs accept, and ACS HMAC checks that can fail."""

from __future__ import annotations

import base64
import secrets

from azure.communication.sms import SmsClient

from localworld.acs_hmac import acs_signature_valid
from localworld.server import Request, Response, StandIn


def test_the_real_sms_sdk_signs_requests_the_stand_in_verifies() -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    verdicts: list[bool] = []

    def acs(request: Request) -> Response:
        verdicts.append(acs_signature_valid(request, key))
        verdicts.append(acs_signature_valid(request, base64.b64encode(b"wrong key").decode()))
        return Response.json(
            {"value": [{"to": "+15550100", "messageId": "m1", "httpStatusCode": 202, "successful": True}]},
            status=202,
        )

    with StandIn(acs, tls=True) as stand_in:
        client = SmsClient.from_connection_string(
            f"endpoint={stand_in.url}/;accesskey={key}", connection_verify=stand_in.ca_file
        )
        [result] = client.send(from_="+15550199", to=["+15550100"], message="hello")

    assert result.successful
    assert verdicts == [True, False]
    assert stand_in.requests[0].path == "/sms"
