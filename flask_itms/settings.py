"""The ``ITMS_*`` configuration: defaults, and the checked per-app values read at init."""

from __future__ import annotations

import dataclasses
import typing as t
from datetime import timedelta

from .keywords import DEFAULT_HELP_KEYWORDS, DEFAULT_OPT_IN_KEYWORDS, DEFAULT_OPT_OUT_KEYWORDS

#: Every setting and its default. ``init_app`` applies them with ``setdefault``.
DEFAULTS: dict[str, t.Any] = {
    "ITMS_URL_PREFIX": "/itms",
    "ITMS_DEFAULT_REGION": "US",
    "ITMS_CUSTOMER": {},
    "ITMS_PROVIDER": "console",
    "ITMS_SEND_MODE": "inline",
    "ITMS_SEND_MAX_ATTEMPTS": 5,
    "ITMS_SEND_RETRY_DELAY": timedelta(seconds=30),
    "ITMS_SEND_LEASE": timedelta(minutes=5),
    "ITMS_AUTH_CODE_TTL": timedelta(minutes=15),
    "ITMS_AUTH_CODE_MAX_ATTEMPTS": 5,
    "ITMS_OPT_IN_REQUEST_TTL": timedelta(days=7),
    "ITMS_OPT_OUT_KEYWORDS": DEFAULT_OPT_OUT_KEYWORDS,
    "ITMS_OPT_IN_KEYWORDS": DEFAULT_OPT_IN_KEYWORDS,
    "ITMS_HELP_KEYWORDS": DEFAULT_HELP_KEYWORDS,
    "ITMS_QUIET_HOURS": (8, 21),
    "ITMS_FALLBACK_TIME_ZONE": "America/New_York",
    "ITMS_OPT_OUT_NOTICE": "Reply STOP to opt out.",
    "ITMS_PROVIDER_CONFIRMS_KEYWORDS": (),
    "ITMS_ORIGINATOR": None,
    "ITMS_PUBLIC_URL": None,
    "ITMS_MESSAGEBIRD_ACCESS_KEY": None,
    "ITMS_MESSAGEBIRD_SIGNING_KEY": None,
    "ITMS_MESSAGEBIRD_ENDPOINT": None,
    "ITMS_MESSAGEBIRD_TIMEOUT": (3.05, 10.0),
    "ITMS_MESSAGEBIRD_BLOCKED_CODES": (),
    "ITMS_BIRD_SIGNING_KEY": None,
    "ITMS_MAX_WEBHOOK_BYTES": 64 * 1024,
    "ITMS_BIRD_SIGNATURE_MAX_AGE": timedelta(hours=24),
    "ITMS_SQLITE_WAL": True,
    "ITMS_SQLITE_BUSY_TIMEOUT": timedelta(seconds=10),
}


def _seconds(value: timedelta | int | float) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The ``ITMS_*`` values one app runs with, read once at ``init_app``."""

    url_prefix: str
    default_region: str
    customer: t.Mapping[str, t.Any]
    provider: str
    send_mode: str
    send_max_attempts: int
    send_retry_delay: timedelta
    send_lease: timedelta
    auth_code_ttl: timedelta
    auth_code_max_attempts: int
    opt_in_request_ttl: timedelta
    quiet_hours: tuple[int, int] | None
    fallback_time_zone: str
    opt_out_notice: str
    provider_confirms_keywords: frozenset[str]
    public_url: str | None
    #: Webhook signing secrets; kept out of ``repr`` so they never reach a log.
    messagebird_signing_key: str | None = dataclasses.field(default=None, repr=False)
    bird_signing_key: str | None = dataclasses.field(default=None, repr=False)
    max_webhook_bytes: int = 64 * 1024
    bird_signature_max_age: timedelta = timedelta(hours=24)
    sqlite_wal: bool = True
    sqlite_busy_timeout: timedelta = timedelta(seconds=10)

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Settings:
        customer = dict(config["ITMS_CUSTOMER"] or {})
        if not customer.get("companyName"):
            raise RuntimeError(
                "flask-itms needs the brand name its texts are sent under: set"
                ' app.config["ITMS_CUSTOMER"] = {"companyName": "Acme Recovery",'
                ' "phone": "+18005550100"}.'
            )
        if not customer.get("phone"):
            raise RuntimeError(
                'ITMS_CUSTOMER has no "phone": the HELP reply must give consumers a help'
                ' contact (CTIA). Add it, e.g. ITMS_CUSTOMER["phone"] = "+18005550100".'
            )
        send_mode = config["ITMS_SEND_MODE"]
        if send_mode not in ("inline", "worker"):
            raise RuntimeError(f'ITMS_SEND_MODE must be "inline" or "worker", not {send_mode!r}.')
        quiet = config["ITMS_QUIET_HOURS"]
        if quiet is not None:
            start, end = (int(hour) for hour in quiet)
            if not 0 <= start < end <= 24:
                raise RuntimeError(f"ITMS_QUIET_HOURS must be (start, end) hours with start < end, not {quiet!r}.")
            quiet = (start, end)
        return cls(
            url_prefix=config["ITMS_URL_PREFIX"].rstrip("/"),
            default_region=config["ITMS_DEFAULT_REGION"],
            customer=customer,
            provider=config["ITMS_PROVIDER"],
            send_mode=send_mode,
            send_max_attempts=int(config["ITMS_SEND_MAX_ATTEMPTS"]),
            send_retry_delay=_seconds(config["ITMS_SEND_RETRY_DELAY"]),
            send_lease=_seconds(config["ITMS_SEND_LEASE"]),
            auth_code_ttl=_seconds(config["ITMS_AUTH_CODE_TTL"]),
            auth_code_max_attempts=int(config["ITMS_AUTH_CODE_MAX_ATTEMPTS"]),
            opt_in_request_ttl=_seconds(config["ITMS_OPT_IN_REQUEST_TTL"]),
            quiet_hours=quiet,
            fallback_time_zone=config["ITMS_FALLBACK_TIME_ZONE"],
            opt_out_notice=config["ITMS_OPT_OUT_NOTICE"],
            provider_confirms_keywords=frozenset(k.casefold() for k in config["ITMS_PROVIDER_CONFIRMS_KEYWORDS"]),
            public_url=(config["ITMS_PUBLIC_URL"] or "").rstrip("/") or None,
            messagebird_signing_key=config["ITMS_MESSAGEBIRD_SIGNING_KEY"] or None,
            bird_signing_key=config["ITMS_BIRD_SIGNING_KEY"] or None,
            max_webhook_bytes=int(config["ITMS_MAX_WEBHOOK_BYTES"]),
            bird_signature_max_age=_seconds(config["ITMS_BIRD_SIGNATURE_MAX_AGE"]),
            sqlite_wal=bool(config["ITMS_SQLITE_WAL"]),
            sqlite_busy_timeout=_seconds(config["ITMS_SQLITE_BUSY_TIMEOUT"]),
        )
