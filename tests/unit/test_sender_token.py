"""Sender JWTs of the HL7 ingress: every refusal has a reason, and a good token passes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.domain.sender_token import bearer_token, body_hash, read_token_header, verify_sender_token
from shared.errors import NotAuthorisedError

AUDIENCE = "https://connector.example.org/api/hl7/ep1"
BODY = b"MSH|^~\\&|EPIC|HOSP|||20261201090000||SIU^S12|c1|P|2.5\r"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEYS = {"ES256": ec.generate_private_key(ec.SECP256R1()), "ES384": ec.generate_private_key(ec.SECP384R1())}


def token(key: Any = RSA_KEY, algorithm: str = "RS384", headers: dict | None = None, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"aud": AUDIENCE, "iat": now, "exp": now + 120, "jti": str(uuid.uuid4()), "body_sha256": body_hash(BODY)}
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=algorithm, headers=headers)


def verify(encoded: str, keys: list | None = None, body: bytes = BODY, require_body_hash: bool = False):
    return verify_sender_token(
        encoded,
        header=read_token_header(encoded),
        keys=[RSA_KEY.public_key()] if keys is None else keys,
        audience=AUDIENCE,
        body=body,
        require_body_hash=require_body_hash,
    )


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_rsa_tokens_pass(algorithm: str) -> None:
    assert verify(token(algorithm=algorithm)).jti


@pytest.mark.parametrize("algorithm", ["ES256", "ES384"])
def test_ec_tokens_pass_and_the_right_key_is_found_among_several(algorithm: str) -> None:
    key = EC_KEYS[algorithm]
    verified = verify(token(key, algorithm, headers={"kid": "k2"}), keys=[RSA_KEY.public_key(), key.public_key()])
    assert verified.key_id == "k2"


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        (lambda: token(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "signature"),
        (lambda: token(aud="https://elsewhere.example.org/api/hl7/ep1"), "aud"),
        (lambda: token(iat=int(time.time()) - 900, exp=int(time.time()) - 600), "expired"),
        (lambda: token(exp=int(time.time()) + 3600), "5 minutes"),
        (lambda: token(jti=None), "jti"),
        (lambda: token(exp=None), "exp"),
        (lambda: token(iat=None), "iat"),
        (lambda: token(body_sha256=body_hash(b"another body")), "does not match"),
        (lambda: jwt.encode({"aud": AUDIENCE}, "a-shared-secret-of-32-bytes-long!", "HS256"), "alg must be"),
        (lambda: token(EC_KEYS["ES256"], "ES256"), "signature"),
        (lambda: "not.a.jwt", "well-formed"),
    ],
)
def test_refusals_carry_a_reason(encoded: Any, reason: str) -> None:
    with pytest.raises(NotAuthorisedError, match=reason):
        verify(encoded())


def test_a_none_algorithm_token_is_refused() -> None:
    unsigned = jwt.encode({"aud": AUDIENCE, "exp": int(time.time()) + 60}, None, algorithm="none")
    with pytest.raises(NotAuthorisedError):
        verify(unsigned)


def test_body_hash_is_optional_unless_the_endpoint_requires_it() -> None:
    plain = token(body_sha256=None)
    assert not verify(plain).binds_body
    assert verify(token()).binds_body
    with pytest.raises(NotAuthorisedError, match="requires the body_sha256"):
        verify(plain, require_body_hash=True)


def test_no_configured_key_is_a_clear_refusal() -> None:
    with pytest.raises(NotAuthorisedError, match="No sender key"):
        verify(token(), keys=[])


def test_reasons_never_echo_the_token() -> None:
    encoded = token(aud="https://elsewhere.example.org")
    with pytest.raises(NotAuthorisedError) as raised:
        verify(encoded)
    assert encoded not in str(raised.value)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "bearer"])
def test_missing_bearer_tokens_are_refused(header: str | None) -> None:
    with pytest.raises(NotAuthorisedError, match="Bearer"):
        bearer_token(header)


def test_bearer_and_kid_are_read() -> None:
    assert bearer_token("Bearer abc.def.ghi ") == "abc.def.ghi"
    assert read_token_header(token(headers={"kid": "k1"})).key_id == "k1"
    assert read_token_header(token(EC_KEYS["ES256"], "ES256")).algorithm == "ES256"
    with pytest.raises(NotAuthorisedError, match="well-formed"):
        read_token_header("garbage")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": 10**20},
        {"exp": 10**400},
        {"exp": 1e308},
        {"exp": float("inf")},
        {"exp": float("nan")},
        {"exp": "soon"},
        {"exp": [1]},
        {"exp": True},
        {"iat": -(10**30)},
        {"iat": float("-inf")},
        {"nbf": float("inf")},
    ],
    ids=["exp-1e20", "exp-1e400", "exp-1e308", "exp-inf", "exp-nan", "exp-text", "exp-list", "exp-true",
         "iat-huge-negative", "iat-minus-inf", "nbf-inf"],
)  # fmt: skip
def test_absurd_times_in_a_validly_signed_token_are_refused_not_crashed(claims: dict) -> None:
    with pytest.raises(NotAuthorisedError) as refused:
        verify(token(**claims))
    assert refused.value.message
