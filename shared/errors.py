"""The connector's exception tree; services raise these, triggers map them to outcomes.

    ConnectorError                  root: every error we raise on purpose
    ├── SettingsError               an app setting is missing or malformed (names the setting)
    ├── InvalidRequestError         the caller sent something we cannot accept (400)
    │   ├── InvalidMessageError     a queue message that can never be processed (poison, not retried)
    │   ├── PayloadTooLargeError    a request body over the route's limit (413)
    │   └── TemplateRuleError       an SMS template breaks a rule; its code names the rule
    ├── NotAuthorisedError          no or bad credentials (401)
    │   └── JoinLinkInvalidError    a join link unknown, expired or cancelled: one answer for all three
    ├── ForbiddenError              valid caller, not allowed (403)
    │   ├── LaunchNotAllowedError   an EHR launch from a FHIR server that is not an approved endpoint
    │   └── VisitNotConfirmedError  a launch whose visit Epic's authenticated context does not confirm
    ├── NotFoundError               the thing does not exist (404)
    │   └── MeetingNotOpenedError   a visit has no meeting yet and no organiser is known (a patient came first)
    ├── ConflictError               the state does not allow it, or it exists already (409)
    ├── PreconditionFailedError     an ETag / If-Match did not match (412)
    └── UpstreamError               a service we call failed; `retryable` says whether to try again,
                                    `retry_after` (seconds) when the service said how long to wait
        ├── MeetingsNotPermittedError   Teams refused to create meetings for the organiser: an admin must grant access
        └── SmsOutcomeUnknownError      an SMS request may have been carried out without our hearing the answer

Foreign exceptions (azure-core, httpx, python-hl7) are translated into these at the adapter
boundary with ``raise ... from exc``; services never see SDK exception types.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of the errors we raise on purpose; `code` is stable, the message is for people."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SettingsError(ConnectorError):
    """An app setting is missing or malformed; the message names the setting."""

    code = "settings_invalid"


class InvalidRequestError(ConnectorError):
    code = "invalid_request"


class InvalidMessageError(InvalidRequestError):
    """A queue message that no retry can fix: record it and complete, do not retry."""

    code = "invalid_message"


class PayloadTooLargeError(InvalidRequestError):
    """A request body larger than its route accepts: 413, so a client knows shortening it is the fix."""

    code = "payload_too_large"


class TemplateRuleError(InvalidRequestError):
    """An SMS template an admin sent breaks one of the template rules; `code` is `template_<rule>`, so a
    client (the portal) can point at what to fix."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.code = f"template_{rule}"


class NotAuthorisedError(ConnectorError):
    code = "not_authorised"


class JoinLinkInvalidError(NotAuthorisedError):
    """A patient's join link is unknown, expired or cancelled: deliberately one error for all three."""

    code = "join_link_invalid"


class ForbiddenError(ConnectorError):
    code = "forbidden"


class LaunchNotAllowedError(ForbiddenError):
    """A SMART launch whose `iss` is no approved endpoint: a page, never a redirect (no open redirector)."""

    code = "launch_not_allowed"


class VisitNotConfirmedError(ForbiddenError):
    """A launch whose visit the token response and the FHIR resources read with it do not confirm for the
    launching person (an edited `sessionId`, a patient who is no participant, no visit in the context)."""

    code = "visit_not_confirmed"


class NotFoundError(ConnectorError):
    code = "not_found"


class MeetingNotOpenedError(NotFoundError):
    """The visit has no meeting yet and nobody who could organise it is known: people are asked to wait."""

    code = "meeting_not_opened"


class ConflictError(ConnectorError):
    code = "conflict"


class PreconditionFailedError(ConflictError):
    """Optimistic concurrency lost: the stored ETag is not the one the caller read."""

    code = "precondition_failed"


class UpstreamError(ConnectorError):
    """A service we depend on failed; `retryable` tells the queue host whether to try again."""

    code = "upstream_error"

    def __init__(
        self, message: str, *, retryable: bool, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        """The HTTP status the service answered, when it answered one (e.g. 404 for a FHIR read)."""


class MeetingsNotPermittedError(UpstreamError):
    """Graph answered 403 to a meeting call: no application access policy grants the app for the organiser.

    People see a page telling their admin what to grant; `app_id` is the id to grant (None: the app's
    managed identity, whose id the admin reads in the portal).
    """

    code = "meetings_not_permitted"

    def __init__(self, message: str, *, app_id: str | None) -> None:
        super().__init__(message, retryable=False)
        self.app_id = app_id


class SmsOutcomeUnknownError(UpstreamError):
    """The SMS provider may have sent the SMS but we did not hear its answer (a timeout after sending), or it
    no longer tracks the request (ACS's 412 for a repeat first sent outside its repeatability window).

    `repeatable`: whether trying again with the same repeatability id can still be deduplicated.
    """

    code = "sms_outcome_unknown"

    def __init__(self, message: str, *, repeatable: bool) -> None:
        super().__init__(message, retryable=True)
        self.repeatable = repeatable
