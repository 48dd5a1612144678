"""Per organisation and environment, the keys HL7 senders sign with: an uploaded certificate, a JWKS URL, or both."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from shared.adapters.config_store import ConfigStore
from shared.adapters.http_client import get_json
from shared.domain.access import Caller, require_admin
from shared.domain.certificates import parse_certificate
from shared.domain.config import SenderKeys, check_environment, normalise_https_url
from shared.errors import InvalidRequestError, NotFoundError, UpstreamError
from shared.services.config_changes import ReadBody, record_change, refuse_unknown_fields
from shared.services.tenancy import read_own_organisation


def put_sender_keys(
    store: ConfigStore, caller: Caller, org_id: str, environment: str, read_body: ReadBody, now: datetime
) -> SenderKeys:
    """Save a certificate and/or JWKS URL (a field left out keeps its value; null removes it).

    The JWKS URL is fetched once to prove it serves keys. Raises ForbiddenError, NotFoundError,
    InvalidRequestError (with the reason).
    """
    require_admin(caller)
    read_own_organisation(store, caller, org_id)
    document = read_body()
    refuse_unknown_fields(document, {"certificate", "jwks_url"})
    env = check_environment(environment)
    try:
        current = store.get_sender_keys(org_id, env)
    except NotFoundError:
        current = SenderKeys(org_id, env)
    keys = current
    if "certificate" in document:
        if document["certificate"] is None:
            keys = replace(
                keys, certificate_pem=None, subject=None, thumbprint_sha256=None, not_before=None, not_after=None
            )
        else:
            parsed = parse_certificate(document["certificate"], now)
            keys = replace(
                keys,
                certificate_pem=parsed.pem,
                subject=parsed.subject,
                thumbprint_sha256=parsed.thumbprint_sha256,
                not_before=parsed.not_before,
                not_after=parsed.not_after,
            )
    if "jwks_url" in document:
        url = document["jwks_url"]
        keys = replace(keys, jwks_url=None if url is None else _checked_jwks_url(url))
    if keys.certificate_pem is None and keys.jwks_url is None:
        raise InvalidRequestError("Give a certificate or a jwks_url: senders need one of them.")
    store.upsert_sender_keys(keys)
    record_change(
        store,
        caller,
        org_id,
        "sender_keys.saved",
        f"{org_id}/{env}",
        now,
        previous_thumbprint=current.thumbprint_sha256,
        thumbprint=keys.thumbprint_sha256,
        previous_jwks_url=current.jwks_url,
        jwks_url=keys.jwks_url,
    )
    return keys


def get_sender_keys(store: ConfigStore, caller: Caller, org_id: str, environment: str) -> SenderKeys:
    """Raises ForbiddenError, InvalidRequestError, NotFoundError."""
    require_admin(caller)
    read_own_organisation(store, caller, org_id)
    return store.get_sender_keys(org_id, check_environment(environment))


def _checked_jwks_url(url: object) -> str:
    url = normalise_https_url(url, "jwks_url")
    try:
        document = get_json(url, what="The JWKS URL")
    except UpstreamError as exc:
        raise InvalidRequestError(f"jwks_url could not be fetched: {exc.message}") from exc
    keys = document.get("keys")
    if not isinstance(keys, list) or not any(isinstance(k, dict) and k.get("kty") in ("RSA", "EC") for k in keys):
        raise InvalidRequestError("jwks_url does not serve a JWKS with at least one RSA or EC key.")
    return url
