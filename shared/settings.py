"""Every app setting the connector reads, declared once, read once and validated at first use.

`SETTINGS` is the single list of what we read: the README table, `local.settings.sample.json` and
the Bicep app settings are checked against it by tests. `get_settings()` builds one frozen
`Settings` per process; a missing or malformed value raises `SettingsError` naming the setting.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shared.errors import SettingsError
from shared.geos import KNOWN_GEOS, geo_storage_setting
from shared.loopback import is_loopback


@dataclass(frozen=True)
class SettingSpec:
    """One app setting: its name, whether it names a storage connection, and its purpose."""

    name: str
    purpose: str
    connection: bool = False
    local_only: bool = False
    """Read only where there is no managed identity (local runs, tests); the Bicep does not set it."""


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("GEOS", "Geographies this deployment serves, comma-separated, from US, EU, APAC."),
    SettingSpec(
        "PUBLIC_BASE_URL",
        "Where Epic, patients and admins reach this app (https; http only for localhost): links and redirects.",
    ),
    SettingSpec(
        "AZURE_CLIENT_ID",
        "Client id of the app's user-assigned managed identity: every Azure credential names it (azure-identity's "
        "variable). Storage connections may name it in <NAME>__clientId instead.",
    ),
    SettingSpec(
        "LOOPBACK_HTTP",
        "true lets FHIR base URLs and their SMART endpoints on 127.0.0.1/localhost use http:// (local runs); "
        "refused unless PUBLIC_BASE_URL is localhost. Default false.",
    ),
    SettingSpec(
        "ACS_ENDPOINT",
        "Azure Communication Services endpoint (https), reached with the app's managed identity.",
    ),
    SettingSpec(
        "ACS_CONNECTION_STRING",
        "ACS connection string with an access key; when set it wins over ACS_ENDPOINT (local runs, tests).",
        local_only=True,
    ),
    SettingSpec(
        "SMS_PROVIDER",
        "Who sends SMS: acs (Azure Communication Services) or outbox (a local file); empty: acs when ACS is set.",
    ),
    SettingSpec(
        "SMS_OUTBOX_PATH", "The JSON Lines file the outbox SMS sender appends to (local runs only).", local_only=True
    ),
    SettingSpec(
        "DEFAULT_PHONE_REGION",
        "ISO 3166 country code (e.g. US) for patient phone numbers written without a country code.",
    ),
    SettingSpec(
        "CONTROL_STORAGE",
        "Storage for configuration data (no patient data): organisations, endpoints, certificates, audit.",
        connection=True,
    ),
    SettingSpec(
        "ENTRA_AUTHORITY_HOST",
        "Entra ID authority host (https) whose per-tenant OpenID configurations sign our tokens and sign users in; "
        "default https://login.microsoftonline.com.",
    ),
    SettingSpec("ENTRA_CLIENT_ID", "Client id of this app's Entra registration: the audience of config API tokens."),
    SettingSpec(
        "ENTRA_ALLOWED_TENANTS", "Entra tenant ids (GUIDs) whose users may call the config API, comma-separated."
    ),
    SettingSpec(
        "ENTRA_CLIENT_SECRET",
        "Client secret of ENTRA_CLIENT_ID (Key Vault reference): redeems the provider's one-time Microsoft 365 sign-in"
        " and the portal's sign-in",
    ),
    SettingSpec("EPIC_CLIENT_ID", "Client id of this app's Epic (SMART on FHIR) registration."),
    SettingSpec(
        "EPIC_PRIVATE_KEY",
        "Our RSA private key for SMART private_key_jwt at Epic: PEM text (a Key Vault reference) or a PEM file path.",
    ),
    SettingSpec("EPIC_PRIVATE_KEY_NEXT", "Optional second private key (PEM or path), published too, for key rotation."),
    SettingSpec("PHONE_NUMBER_PROVIDER", "Where SMS numbers are bought: `acs` (Communication Services) or `sandbox`."),
    *(
        SettingSpec(
            geo_storage_setting(geo),
            f"Storage account of geography {geo}: its patient data (appointments, phone numbers, queues).",
            connection=True,
        )
        for geo in KNOWN_GEOS
    ),
    SettingSpec(
        "TIMER_SCHEDULE",
        "NCRONTAB schedule (six fields, seconds first) of the reminder and purge timer; default every minute.",
    ),
    SettingSpec(
        "PURGE_GRACE_MINUTES",
        "Minutes after an appointment's end before its phone number and join link are purged (default 60).",
    ),
    SettingSpec(
        "REPORTING_PERIOD_DAYS",
        "Days SMS job and report rows, the visit log and appointment rows (no contact data) are kept (default 400).",
    ),
    SettingSpec(
        "POISON_RETENTION_DAYS",
        "Days a poison queue message is kept for an operator before it is deleted (default 7, at most 30).",
    ),
    SettingSpec(
        "MEETING_PROVIDER",
        "Who creates visit meetings: graph (Teams through Microsoft Graph) or sandbox (local pages; localhost only).",
    ),
    SettingSpec(
        "EHR_WRITE_BACK_PROVIDER",
        "Where visit events and device tests are written back (for endpoints that enable it): epic (FHIR "
        "Communication with our backend OAuth client) or recording (a local table).",
    ),
    SettingSpec(
        "GRAPH_BASE_URL", "Microsoft Graph API root (https), default https://graph.microsoft.com/v1.0.", local_only=True
    ),
    SettingSpec(
        "GRAPH_AUTHORITY_HOST",
        "Entra ID authority host (https), default https://login.microsoftonline.com.",
        local_only=True,
    ),
    SettingSpec("GRAPH_TENANT_ID", "Entra tenant whose Teams users organise meetings; needed with a client secret."),
    SettingSpec(
        "GRAPH_CLIENT_ID",
        "App (client) id calling Graph: the app registration of GRAPH_CLIENT_SECRET, else a user-assigned identity.",
    ),
    SettingSpec(
        "GRAPH_CLIENT_SECRET",
        "Client secret of the Graph app registration; empty: the function app's managed identity calls Graph.",
        local_only=True,
    ),
    SettingSpec(
        "GRAPH_NOTIFICATION_KEY",
        "RSA private key and certificate (PEM text, a Key Vault reference, or a PEM file path) for Teams call "
        "events: Graph encrypts rich notifications for its certificate; we decrypt with the key.",
    ),
    SettingSpec(
        "CONTEXT_TOKEN_SECRET",
        "Base64 key (32 bytes or more) that signs and verifies context tokens such as the device-test link's.",
    ),
    SettingSpec(
        "OPT_OUT_HASH_KEY",
        "Base64 key (32 bytes or more) of the keyed hash under which the SMS opt-out list stores number pairs.",
    ),
)

CONNECTION_SUFFIXES: tuple[str, ...] = (
    "__tableServiceUri",
    "__queueServiceUri",
    "__blobServiceUri",
    "__credential",
    "__clientId",
)
"""Identity-based connection parts, named as the Functions host names them."""


@dataclass(frozen=True)
class StorageConnection:
    """How to reach one storage account: a connection string, or service URIs plus managed identity."""

    setting: str
    connection_string: str | None = None
    table_uri: str | None = None
    queue_uri: str | None = None
    blob_uri: str | None = None
    client_id: str | None = None

    @property
    def uses_identity(self) -> bool:
        return self.connection_string is None


@dataclass(frozen=True)
class AcsConnection:
    """Azure Communication Services: an access-key connection string, or an endpoint for managed identity."""

    endpoint: str
    connection_string: str | None = None
    client_id: str | None = None
    """The user-assigned identity (AZURE_CLIENT_ID) the endpoint is reached with."""


MEETING_PROVIDERS: tuple[str, ...] = ("sandbox", "graph")
EHR_WRITE_BACK_PROVIDERS: tuple[str, ...] = ("recording", "epic")
DEFAULT_TIMER_SCHEDULE = "0 * * * * *"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MIN_KEY_BYTES = 32
DEFAULT_REPORTING_PERIOD_DAYS = 400
DEFAULT_POISON_RETENTION_DAYS = 7


@dataclass(frozen=True)
class GraphConnection:
    """How the app reaches Microsoft Graph: app-only, by client secret or by managed identity."""

    base_url: str
    authority_host: str
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    notification_key: str | None = field(default=None, repr=False)
    """GRAPH_NOTIFICATION_KEY: PEM text or path; None: no call-event subscriptions can be made."""

    @property
    def uses_identity(self) -> bool:
        return self.client_secret is None


@dataclass(frozen=True)
class EntraSettings:
    """How config API callers are authenticated: whose keys, which audience, which tenants."""

    authority_host: str
    client_id: str
    allowed_tenants: frozenset[str]
    client_secret: str | None = field(default=None, repr=False)
    """Redeems provider sign-in codes; None: redeemed as a public client (PKCE only)."""

    @property
    def legacy_tenant(self) -> str:
        """The tenant of configuration rows stored before organisations carried one: the only allowed
        tenant, or "" (then such rows belong to no tenant until an operator sets their `tenant_id`)."""
        return next(iter(self.allowed_tenants)) if len(self.allowed_tenants) == 1 else ""


@dataclass(frozen=True)
class EpicSettings:
    """Our Epic app registration: client id and private key(s) as PEM text or file paths (never logged)."""

    client_id: str
    private_key: str
    private_key_next: str | None = None


PHONE_NUMBER_PROVIDERS: tuple[str, ...] = ("sandbox", "acs")


@dataclass(frozen=True)
class Settings:
    geos: tuple[str, ...]
    public_base_url: str
    control_storage: StorageConnection
    geo_storage: Mapping[str, StorageConnection]
    acs: AcsConnection | None
    sms_provider: str
    sms_outbox_path: str
    default_phone_region: str
    meeting_provider: str = "sandbox"
    ehr_write_back_provider: str = "recording"
    graph: GraphConnection | None = None
    context_token_secret: bytes | None = field(default=None, repr=False)
    opt_out_hash_key: bytes | None = field(default=None, repr=False)
    entra: EntraSettings | None = None
    epic: EpicSettings | None = None
    phone_number_provider: str = "sandbox"
    purge_grace_minutes: int = 60
    reporting_period_days: int = DEFAULT_REPORTING_PERIOD_DAYS
    poison_retention_days: int = DEFAULT_POISON_RETENTION_DAYS
    timer_schedule: str = DEFAULT_TIMER_SCHEDULE
    loopback_http: bool = False
    """FHIR base URLs and SMART endpoints on loopback may use http:// (local runs only)."""

    def require_entra(self) -> EntraSettings:
        """The Entra settings. Raises SettingsError naming them when they are not set."""
        if self.entra is None:
            raise SettingsError(
                "Settings ENTRA_CLIENT_ID and ENTRA_ALLOWED_TENANTS are needed by the "
                "configuration API; see the settings table in README.md."
            )
        return self.entra

    def require_epic(self) -> EpicSettings:
        """The Epic registration. Raises SettingsError naming it when it is not set."""
        if self.epic is None:
            raise SettingsError("Settings EPIC_CLIENT_ID and EPIC_PRIVATE_KEY are needed to talk to Epic.")
        return self.epic

    def require_context_token_secret(self) -> bytes:
        """The context-token signing secret. Raises SettingsError naming it when it is not set."""
        if self.context_token_secret is None:
            raise SettingsError("Setting CONTEXT_TOKEN_SECRET is needed to sign context tokens.")
        return self.context_token_secret

    def require_opt_out_hash_key(self) -> bytes:
        """The opt-out list's hash key. Raises SettingsError naming it when it is not set."""
        if self.opt_out_hash_key is None:
            raise SettingsError("Setting OPT_OUT_HASH_KEY is needed to send SMS and to record opt-outs.")
        return self.opt_out_hash_key


SMS_PROVIDERS: tuple[str, ...] = ("acs", "outbox")
DEFAULT_SMS_OUTBOX_PATH = "outbox/sms.jsonl"
DEFAULT_PHONE_REGION = "US"


KEY_VAULT_REFERENCE_PREFIX = "@Microsoft.KeyVault("


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read and validate every setting from `env`. Raises SettingsError naming the first bad one."""
    _refuse_unresolved_key_vault_references(env)
    geos = _read_geos(env)
    acs = _read_acs(env)
    public_base_url = _read_public_base_url(env)
    return Settings(
        geos=geos,
        public_base_url=public_base_url,
        control_storage=read_connection(env, "CONTROL_STORAGE"),
        geo_storage={geo: read_connection(env, geo_storage_setting(geo)) for geo in geos},
        acs=acs,
        sms_provider=_read_sms_provider(env, acs),
        sms_outbox_path=env.get("SMS_OUTBOX_PATH", "").strip() or DEFAULT_SMS_OUTBOX_PATH,
        default_phone_region=_read_phone_region(env),
        meeting_provider=_read_meeting_provider(env),
        ehr_write_back_provider=_read_choice(env, "EHR_WRITE_BACK_PROVIDER", EHR_WRITE_BACK_PROVIDERS),
        graph=_read_graph(env),
        entra=_read_entra(env),
        epic=_read_epic(env),
        phone_number_provider=_read_phone_number_provider(env),
        context_token_secret=_read_key(env, "CONTEXT_TOKEN_SECRET"),
        opt_out_hash_key=_read_key(env, "OPT_OUT_HASH_KEY"),
        purge_grace_minutes=_read_minutes(env, "PURGE_GRACE_MINUTES", default=60, maximum=7 * 24 * 60),
        reporting_period_days=_read_days(
            env, "REPORTING_PERIOD_DAYS", default=DEFAULT_REPORTING_PERIOD_DAYS, minimum=1, maximum=3660
        ),
        poison_retention_days=_read_days(
            env, "POISON_RETENTION_DAYS", default=DEFAULT_POISON_RETENTION_DAYS, minimum=1, maximum=30
        ),
        timer_schedule=_read_timer_schedule(env),
        loopback_http=_read_loopback_http(env, public_base_url),
    )


@functools.cache
def get_settings() -> Settings:
    """The process's settings, loaded from the environment on first use."""
    return load_settings(os.environ)


def _refuse_unresolved_key_vault_references(env: Mapping[str, str]) -> None:
    """App Service replaces `@Microsoft.KeyVault(...)` with the secret; the literal means it could not.

    Raises SettingsError naming the setting (never its value) and what the operator checks.
    """
    declared = {spec.name for spec in SETTINGS}
    for name, value in env.items():
        if name.split("__", 1)[0] in declared and value.strip().startswith(KEY_VAULT_REFERENCE_PREFIX):
            raise SettingsError(
                f"Setting {name}: Key Vault reference not resolved: check the secret and the identity's access."
            )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"Setting {name} is missing; see the settings table in README.md.")
    return value


def _read_geos(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _required(env, "GEOS")
    geos = tuple(part.strip().upper() for part in raw.split(","))
    unknown = [geo for geo in geos if geo not in KNOWN_GEOS]
    if unknown or "" in geos:
        raise SettingsError(
            f"Setting GEOS must list geographies from {', '.join(KNOWN_GEOS)} separated by commas; got {raw!r}."
        )
    if len(set(geos)) != len(geos):
        raise SettingsError(f"Setting GEOS names a geography twice: {raw!r}.")
    return geos


def _read_public_base_url(env: Mapping[str, str]) -> str:
    url = _required(env, "PUBLIC_BASE_URL").rstrip("/")
    parts = urlsplit(url)
    local = parts.scheme == "http" and is_loopback(parts.hostname)
    if not (parts.scheme == "https" or local) or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(
            f"Setting PUBLIC_BASE_URL must be an https:// URL without query (http only for localhost); got {url!r}."
        )
    return url


def _read_loopback_http(env: Mapping[str, str], public_base_url: str) -> bool:
    """Off unless asked; only an app reachable on localhost alone may talk plain http to loopback servers."""
    raw = env.get("LOOPBACK_HTTP", "").strip().lower()
    if raw not in ("", "true", "false"):
        raise SettingsError(f"Setting LOOPBACK_HTTP must be true or false; got {raw!r}.")
    if raw != "true":
        return False
    if not is_loopback(urlsplit(public_base_url).hostname):
        raise SettingsError("Setting LOOPBACK_HTTP=true is for local runs: PUBLIC_BASE_URL must be localhost.")
    return True


def _read_acs(env: Mapping[str, str]) -> AcsConnection | None:
    """ACS is optional: without it the local sandboxes send SMS and provide numbers."""
    connection_string = env.get("ACS_CONNECTION_STRING", "").strip()
    if connection_string:
        parts = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
        endpoint = parts.get("endpoint", "")
        if not endpoint.startswith("https://") or not parts.get("accesskey"):
            # Never echo the value: it holds the access key.
            raise SettingsError("Setting ACS_CONNECTION_STRING must be endpoint=https://...;accesskey=...")
        return AcsConnection(endpoint=endpoint, connection_string=connection_string)
    endpoint = env.get("ACS_ENDPOINT", "").strip()
    if not endpoint:
        return None
    if not endpoint.startswith("https://"):
        raise SettingsError(f"Setting ACS_ENDPOINT must be an https:// URL; got {endpoint!r}.")
    return AcsConnection(endpoint=endpoint, client_id=_identity_client_id(env))


def _read_sms_provider(env: Mapping[str, str], acs: AcsConnection | None) -> str:
    provider = env.get("SMS_PROVIDER", "").strip().lower() or ("acs" if acs else "outbox")
    if provider not in SMS_PROVIDERS:
        raise SettingsError(f"Setting SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}; got {provider!r}.")
    if provider == "acs" and acs is None:
        raise SettingsError("Setting SMS_PROVIDER is acs, but neither ACS_ENDPOINT nor ACS_CONNECTION_STRING is set.")
    return provider


def _read_phone_region(env: Mapping[str, str]) -> str:
    import phonenumbers  # here, not at import: most invocations never read a phone number

    region = env.get("DEFAULT_PHONE_REGION", "").strip().upper() or DEFAULT_PHONE_REGION
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingsError(f"Setting DEFAULT_PHONE_REGION must be an ISO 3166 country code (e.g. US); got {region!r}.")
    return region


def _read_entra(env: Mapping[str, str]) -> EntraSettings | None:
    """The Entra settings (client id and tenants go together), or None: then only the configuration API is
    unavailable."""
    names = ("ENTRA_CLIENT_ID", "ENTRA_ALLOWED_TENANTS")
    values = {name: env.get(name, "").strip() for name in names}
    if not any(values.values()):
        return None
    for name, value in values.items():
        if not value:
            raise SettingsError(f"Setting {name} is missing; the Entra settings go together (README.md).")
    host = env.get("ENTRA_AUTHORITY_HOST", "").strip().rstrip("/") or DEFAULT_AUTHORITY_HOST
    parts = urlsplit(host)
    local = parts.scheme == "http" and is_loopback(parts.hostname)
    if not (parts.scheme == "https" or local) or not parts.hostname or parts.path:
        raise SettingsError(f"Setting ENTRA_AUTHORITY_HOST must be an https:// host such as {DEFAULT_AUTHORITY_HOST}.")
    tenants = frozenset(t.strip().lower() for t in values["ENTRA_ALLOWED_TENANTS"].split(",") if t.strip())
    if not tenants or not all(_GUID.fullmatch(t) for t in tenants):
        raise SettingsError("Setting ENTRA_ALLOWED_TENANTS must name tenant ids (GUIDs), comma-separated.")
    return EntraSettings(
        authority_host=host,
        client_id=values["ENTRA_CLIENT_ID"],
        allowed_tenants=tenants,
        client_secret=env.get("ENTRA_CLIENT_SECRET", "").strip() or None,
    )


def _read_epic(env: Mapping[str, str]) -> EpicSettings | None:
    client_id = env.get("EPIC_CLIENT_ID", "").strip()
    private_key = env.get("EPIC_PRIVATE_KEY", "").strip()
    if not client_id and not private_key:
        return None
    if not client_id:
        raise SettingsError("Setting EPIC_CLIENT_ID is missing while EPIC_PRIVATE_KEY is set.")
    if not private_key:
        raise SettingsError("Setting EPIC_PRIVATE_KEY is missing while EPIC_CLIENT_ID is set.")
    return EpicSettings(client_id, private_key, env.get("EPIC_PRIVATE_KEY_NEXT", "").strip() or None)


def _read_phone_number_provider(env: Mapping[str, str]) -> str:
    value = env.get("PHONE_NUMBER_PROVIDER", "").strip().lower() or "sandbox"
    if value not in PHONE_NUMBER_PROVIDERS:
        raise SettingsError(f"Setting PHONE_NUMBER_PROVIDER must be one of {', '.join(PHONE_NUMBER_PROVIDERS)}.")
    return value


def _read_meeting_provider(env: Mapping[str, str]) -> str:
    provider = env.get("MEETING_PROVIDER", "").strip().lower() or "sandbox"
    if provider not in MEETING_PROVIDERS:
        choices = ", ".join(MEETING_PROVIDERS)
        raise SettingsError(f"Setting MEETING_PROVIDER must be one of {choices}; got {provider!r}.")
    return provider


def _read_choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when unset). Raises SettingsError naming the setting."""
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise SettingsError(f"Setting {name} must be one of {', '.join(choices)}; got {value!r}.")
    return value


def _read_graph(env: Mapping[str, str]) -> GraphConnection | None:
    """Graph is needed only when MEETING_PROVIDER=graph; a client secret needs its tenant and client id."""
    if env.get("MEETING_PROVIDER", "").strip().lower() != "graph":
        return None
    urls = {}
    for name, default in (("GRAPH_BASE_URL", DEFAULT_GRAPH_BASE_URL), ("GRAPH_AUTHORITY_HOST", DEFAULT_AUTHORITY_HOST)):
        url = env.get(name, "").strip().rstrip("/") or default
        if not url.startswith("https://"):
            # Graph's auth provider attaches tokens only over https; plain http would fail later, obscurely.
            raise SettingsError(f"Setting {name} must be an https:// URL; got {url!r}.")
        urls[name] = url
    secret = env.get("GRAPH_CLIENT_SECRET", "").strip() or None
    return GraphConnection(
        base_url=urls["GRAPH_BASE_URL"],
        authority_host=urls["GRAPH_AUTHORITY_HOST"],
        tenant_id=_required(env, "GRAPH_TENANT_ID") if secret else env.get("GRAPH_TENANT_ID", "").strip() or None,
        client_id=_required(env, "GRAPH_CLIENT_ID")
        if secret
        else env.get("GRAPH_CLIENT_ID", "").strip() or _identity_client_id(env),
        client_secret=secret,
        notification_key=env.get("GRAPH_NOTIFICATION_KEY", "").strip() or None,
    )


def _read_timer_schedule(env: Mapping[str, str]) -> str:
    """The host reads TIMER_SCHEDULE itself (%TIMER_SCHEDULE%); checked here so a typo names the setting."""
    schedule = " ".join(env.get("TIMER_SCHEDULE", "").split()) or DEFAULT_TIMER_SCHEDULE
    if len(schedule.split(" ")) != 6:
        raise SettingsError(
            f"Setting TIMER_SCHEDULE must be an NCRONTAB expression of six fields (seconds first); got {schedule!r}."
        )
    return schedule


def _read_minutes(env: Mapping[str, str], name: str, *, default: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > maximum:
        raise SettingsError(f"Setting {name} must be a whole number of minutes from 0 to {maximum}; got {raw!r}.")
    return int(raw)


def _read_days(env: Mapping[str, str], name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
        raise SettingsError(f"Setting {name} must be a whole number of days from {minimum} to {maximum}; got {raw!r}.")
    return int(raw)


def _read_key(env: Mapping[str, str], name: str) -> bytes | None:
    """A Base64 key setting: optional at load (only the paths that use it require it); never a default in code."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        secret = base64.b64decode(raw, validate=True)
    except binascii.Error:
        secret = b""
    if len(secret) < MIN_KEY_BYTES:
        # Never echo the value: it is a key.
        raise SettingsError(f"Setting {name} must be Base64 of at least {MIN_KEY_BYTES} random bytes.")
    return secret


def read_connection(env: Mapping[str, str], name: str) -> StorageConnection:
    """A connection string under `name`, or identity-based parts under `name__...`."""
    connection_string = env.get(name, "").strip()
    if connection_string:
        _check_connection_string(name, connection_string)
        return StorageConnection(setting=name, connection_string=connection_string)
    table_uri = env.get(f"{name}__tableServiceUri", "").strip()
    queue_uri = env.get(f"{name}__queueServiceUri", "").strip()
    if not (table_uri and queue_uri):
        raise SettingsError(
            f"Setting {name} is missing: set a connection string in {name}, or "
            f"{name}__tableServiceUri and {name}__queueServiceUri for a managed identity."
        )
    blob_uri = env.get(f"{name}__blobServiceUri", "").strip() or None
    for part, uri in (("tableServiceUri", table_uri), ("queueServiceUri", queue_uri), ("blobServiceUri", blob_uri)):
        if uri is not None and not uri.startswith("https://"):
            raise SettingsError(f"Setting {name}__{part} must be an https:// URI.")
    return StorageConnection(
        setting=name,
        table_uri=table_uri,
        queue_uri=queue_uri,
        blob_uri=blob_uri,
        client_id=env.get(f"{name}__clientId", "").strip() or _identity_client_id(env),
    )


def _identity_client_id(env: Mapping[str, str]) -> str | None:
    """The app's user-assigned identity; None where there is none (then no credential can be built)."""
    return env.get("AZURE_CLIENT_ID", "").strip() or None


def _check_connection_string(name: str, value: str) -> None:
    parts = dict(part.split("=", 1) for part in value.split(";") if "=" in part)
    if value != "UseDevelopmentStorage=true" and "AccountName" not in parts:
        # Never echo the value: it holds the account key.
        raise SettingsError(f"Setting {name} is not a storage connection string (no AccountName).")
