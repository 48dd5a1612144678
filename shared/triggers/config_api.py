"""`/api/config/...`: organisations, FHIR endpoints, SMS settings and the audit log (Entra-authenticated)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import azure.functions as func

from shared import bootstrap
from shared.lazy import lazy_import
from shared.triggers.config_documents import (
    audit_document,
    endpoint_document,
    etag_header,
    operation_document,
    organisation_document,
    phone_number_document,
    sender_keys_document,
)
from shared.triggers.http import HttpBlueprint, api_errors, json_response, read_json_object

if TYPE_CHECKING:
    from shared.adapters.config_store import Versioned
    from shared.domain.access import Caller
    from shared.services.config_changes import ReadBody

audit_log = lazy_import("shared.services.audit_log")
endpoints = lazy_import("shared.services.endpoints")
integration_records = lazy_import("shared.services.integration_records")
organisations = lazy_import("shared.services.organisations")
phone_numbers = lazy_import("shared.services.phone_numbers")
sender_keys = lazy_import("shared.services.sender_keys")
sms_texts = lazy_import("shared.services.sms_texts")
record_texts = lazy_import("shared.domain.integration_records")

bp = HttpBlueprint()
ANONYMOUS = func.AuthLevel.ANONYMOUS


def caller_of(req: func.HttpRequest) -> Caller:
    """The authenticated caller. Raises NotAuthorisedError (401) for a missing or invalid token."""
    return bootstrap.get_token_validator().validate(req.headers.get("Authorization"))


def now() -> datetime:
    return datetime.now(UTC)


def body_of(req: func.HttpRequest) -> ReadBody:
    """The request's JSON object, read when the service calls it: after it has authorised the caller."""
    return functools.partial(read_json_object, req)


def versioned_response(
    versioned: Versioned[Any], document_of: Callable[[Any], dict[str, Any]], status: int = 200, location: str = ""
) -> func.HttpResponse:
    """A resource's JSON document with its ETag (and, for a creation, its Location)."""
    headers = {**etag_header(versioned), **({"Location": location} if location else {})}
    return json_response(document_of(versioned.value), status, headers)


def conditional_edit(req: func.HttpRequest, key: str, edit: Callable[..., Versioned[Any]]) -> Versioned[Any]:
    """A PATCH/PUT of the resource named by route parameter `key`, conditional on If-Match when sent.

    The body is read only once the service has authorised the caller.
    """
    return edit(
        bootstrap.get_config_store(),
        caller_of(req),
        req.route_params[key],
        body_of(req),
        req.headers.get("If-Match"),
        now(),
    )


@bp.route(route="config/organisations", methods=["GET"], auth_level=ANONYMOUS)
@api_errors
def list_organisations(req: func.HttpRequest) -> func.HttpResponse:
    found = organisations.list_organisations(bootstrap.get_config_store(), caller_of(req))
    return json_response({"items": [organisation_document(o.value) for o in found]})


@bp.route(route="config/organisations", methods=["POST"], auth_level=ANONYMOUS)
@api_errors
def create_organisation(req: func.HttpRequest) -> func.HttpResponse:
    org = organisations.create_organisation(
        bootstrap.get_config_store(), caller_of(req), body_of(req), bootstrap.get_settings().geos, now()
    )
    return versioned_response(org, organisation_document, 201, f"/api/config/organisations/{org.value.id}")


@bp.route(route="config/organisations/{orgId}", methods=["GET"], auth_level=ANONYMOUS)
@api_errors
def get_organisation(req: func.HttpRequest) -> func.HttpResponse:
    org = organisations.get_organisation(bootstrap.get_config_store(), caller_of(req), req.route_params["orgId"])
    return versioned_response(org, organisation_document)


@bp.route(route="config/organisations/{orgId}", methods=["PATCH"], auth_level=ANONYMOUS)
@api_errors
def update_organisation(req: func.HttpRequest) -> func.HttpResponse:
    return versioned_response(conditional_edit(req, "orgId", organisations.update_organisation), organisation_document)


@bp.route(route="config/organisations/{orgId}/endpoints", methods=["GET"], auth_level=ANONYMOUS)
@api_errors
def list_endpoints(req: func.HttpRequest) -> func.HttpResponse:
    found = endpoints.list_endpoints(bootstrap.get_config_store(), caller_of(req), req.route_params["orgId"])
    return json_response({"items": [endpoint_document(e.value) for e in found]})


@bp.route(route="config/organisations/{orgId}/endpoints", methods=["POST"], auth_level=ANONYMOUS)
@api_errors
def create_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    endpoint = endpoints.create_endpoint(
        bootstrap.get_config_store(),
        caller_of(req),
        req.route_params["orgId"],
        body_of(req),
        now(),
        loopback_http=bootstrap.get_settings().loopback_http,
    )
    return versioned_response(endpoint, endpoint_document, 201, f"/api/config/endpoints/{endpoint.value.id}")


@bp.route(route="config/endpoints/{endpointId}", methods=["GET"], auth_level=ANONYMOUS)
@api_errors
def get_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    endpoint = endpoints.get_endpoint(bootstrap.get_config_store(), caller_of(req), req.route_params["endpointId"])
    return versioned_response(endpoint, endpoint_document)


@bp.route(route="config/endpoints/{endpointId}", methods=["PATCH"], auth_level=ANONYMOUS)
@api_errors
def update_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    edit = functools.partial(endpoints.update_endpoint, loopback_http=bootstrap.get_settings().loopback_http)
    return versioned_response(conditional_edit(req, "endpointId", edit), endpoint_document)


@bp.route(route="config/endpoints/{endpointId}/submit", methods=["POST"], auth_level=ANONYMOUS)
@api_errors
def submit_endpoint(req: func.HttpRequest) -> func.HttpResponse:
    endpoint = endpoints.submit_endpoint(
        bootstrap.get_config_store(), caller_of(req), req.route_params["endpointId"], now()
    )
    return versioned_response(endpoint, endpoint_document)


@bp.route(route="config/endpoints/{endpointId}/sms", methods=["PUT"], auth_level=ANONYMOUS)
@api_errors
def put_sms_settings(req: func.HttpRequest) -> func.HttpResponse:
    return versioned_response(conditional_edit(req, "endpointId", endpoints.put_sms_settings), endpoint_document)


def text_policy() -> Any:
    settings = bootstrap.get_settings()
    return sms_texts.TextPolicy(settings.public_base_url, settings.default_phone_region)


@bp.route(route="config/endpoints/{endpointId}/sms-texts", methods=["GET"], auth_level=ANONYMOUS)
@api_errors
def list_sms_texts(req: func.HttpRequest) -> func.HttpResponse:
    endpoint = sms_texts.list_sms_texts(bootstrap.get_config_store(), caller_of(req), req.route_params["endpointId"])
    return versioned_response(endpoint, sms_texts.sms_texts_document)


@bp.route(route="config/endpoints/{endpointId}/sms-texts", methods=["PUT"], auth_level=ANONYMOUS)
@api_errors
def put_sms_text(req: func.HttpRequest) -> func.HttpResponse:
    edit = functools.partial(sms_texts.put_sms_text, policy=text_policy())
    return versioned_response(conditional_edit(req, "endpointId", edit), sms_texts.sms_texts_document)


@bp.route(route="config/endpoints/{endpointId}/sms-texts/preview", methods=["POST"], auth_level=ANONYMOUS)
@api_errors
def preview_sms_text(req: func.HttpRequest) -> func.HttpResponse:
    preview = sms_texts.preview_sms_text(
        bootstrap.get_config_store(),
        caller_of(req),
        req.route_params["endpointId"],
        body_of(req),
        now(),
        policy=text_policy(),
    )
    return json_response(preview)


@bp.route(route="config/organisations/{orgId}/audit", methods=["GET"], auth_level=ANONYMOUS)
@api_errors
def get_audit_log(req: func.HttpRequest) -> func.HttpResponse:
    entries = audit_log.list_audit(bootstrap.get_config_store(), caller_of(req), req.route_params["orgId"])
    return json_response({"items": [audit_document(e) for e in entries]})


@bp.route(route="config/organisations/{orgId}/sender-keys/{environment}", methods=["PUT"], auth_level=ANONYMOUS)
@api_errors
def put_sender_keys(req: func.HttpRequest) -> func.HttpResponse:
    keys = sender_keys.put_sender_keys(
        bootstrap.get_config_store(),
        caller_of(req),
        req.route_params["orgId"],
        req.route_params["environment"],
        body_of(req),
        now(),
    )
    return json_response(sender_keys_document(keys))


@bp.route(route="config/organisations/{orgId}/sender-keys/{environment}", methods=["GET"], auth_level=ANONYMOUS)
@api_errors
def get_sender_keys(req: func.HttpRequest) -> func.HttpResponse:
    keys = sender_keys.get_sender_keys(
        bootstrap.get_config_store(), caller_of(req), req.route_params["orgId"], req.route_params["environment"]
    )
    return json_response(sender_keys_document(keys))


@bp.route(route="config/organisations/{orgId}/phone-numbers", methods=["POST"], auth_level=ANONYMOUS)
@api_errors
def order_phone_number(req: func.HttpRequest) -> func.HttpResponse:
    """202 at once; the purchase runs in the queue function and the caller polls the operation."""
    operation = phone_numbers.order_phone_number(
        bootstrap.get_config_store(),
        bootstrap.get_phone_number_orders(),
        bootstrap.get_phone_number_provider(),
        caller_of(req),
        req.route_params["orgId"],
        body_of(req),
        now(),
    )
    location = f"/api/config/operations/{operation.id}"
    return json_response(operation_document(operation), 202, {"Location": location, "Retry-After": "5"})


@bp.route(route="config/organisations/{orgId}/phone-numbers", methods=["GET"], auth_level=ANONYMOUS)
@api_errors
def list_phone_numbers(req: func.HttpRequest) -> func.HttpResponse:
    found = phone_numbers.list_phone_numbers(bootstrap.get_config_store(), caller_of(req), req.route_params["orgId"])
    return json_response({"items": [phone_number_document(n) for n in found]})


@bp.route(
    route="config/organisations/{orgId}/phone-numbers/{number}/toll-free-verification",
    methods=["PUT"],
    auth_level=ANONYMOUS,
)
@api_errors
def record_toll_free_verification(req: func.HttpRequest) -> func.HttpResponse:
    """The admin records the outcome of the number's toll-free verification (filed in the Azure portal)."""
    number = phone_numbers.record_toll_free_verification(
        bootstrap.get_config_store(),
        caller_of(req),
        req.route_params["orgId"],
        req.route_params["number"],
        body_of(req),
        now(),
    )
    return json_response(phone_number_document(number))


@bp.route(route="config/operations/{operationId}", methods=["GET"], auth_level=ANONYMOUS)
@api_errors
def get_operation(req: func.HttpRequest) -> func.HttpResponse:
    operation = phone_numbers.get_operation(
        bootstrap.get_config_store(), caller_of(req), req.route_params["operationId"]
    )
    return json_response(operation_document(operation))


@bp.route(route="config/endpoints/{endpointId}/integration-records", methods=["GET"], auth_level=ANONYMOUS)
@api_errors
def get_integration_records(req: func.HttpRequest) -> func.HttpResponse:
    """JSON by default; plain text for `Accept: text/plain` or `?format=text`."""
    settings = bootstrap.get_settings()
    records = integration_records.get_integration_records(
        bootstrap.get_config_store(),
        caller_of(req),
        req.route_params["endpointId"],
        public_base_url=settings.public_base_url,
        epic_client_id=settings.require_epic().client_id,
        secret=settings.require_context_token_secret(),
    )
    if req.params.get("format") == "text" or "text/plain" in req.headers.get("Accept", ""):
        return func.HttpResponse(
            record_texts.as_text(records), mimetype="text/plain", charset="utf-8", headers={"Cache-Control": "no-store"}
        )
    return json_response(records)
