"""Carrier webhook signatures: which URL was signed, and whether a request's signature holds.

Two schemes are served. MessageBird's classic ``MessageBird-Signature-JWT`` is checked by
the ``messagebird`` SDK's own ``RequestValidator``, so its rules are MessageBird's. Bird's
newer ``messagebird-signature`` is an HMAC-SHA256 over the timestamp, the URL and the
SHA-256 of the body, as Bird documents it for webhook subscriptions with a signing key.

Nothing here logs, or puts into an error, a token or a key. Signature times are judged
by the real clock (as the carrier's are), never by ``ITMS_CLOCK``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import typing as t
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from messagebird.error import ValidationError
from messagebird.request_validator import RequestValidator

#: The classic MessageBird signature header.
JWT_HEADER = "MessageBird-Signature-JWT"
#: Bird's signature and timestamp headers (webhook subscriptions with a ``signingKey``).
BIRD_SIGNATURE_HEADER = "messagebird-signature"
BIRD_TIMESTAMP_HEADER = "messagebird-request-timestamp"

#: The leeway the SDK allows on ``nbf``/``exp``; a used ``jti`` is kept that much longer.
JWT_LEEWAY = timedelta(seconds=1)
#: Longest reason we repeat from the SDK, so an error never grows into a token dump.
_REASON_MAX = 160
_REPLAY_KEY_MAX = 128


class SignatureError(Exception):
    """A missing, malformed, expired or wrong signature. The message is safe to log and show."""


@dataclasses.dataclass(frozen=True)
class SignatureHeaders:
    """The signature headers a request carried, as sent."""

    jwt: str | None = None
    bird_signature: str | None = None
    bird_timestamp: str | None = None


@dataclasses.dataclass(frozen=True)
class Proof:
    """A checked signature: the key that marks this request as used, and until when it matters."""

    scheme: str
    replay_key: str | None
    expires_at: datetime


def signed_url(environ: t.Mapping[str, t.Any], public_url: str | None = None) -> str:
    """The URL the carrier called and signed, rebuilt from the raw request target.

    ``request.url`` will not do: Werkzeug decodes percent-escapes, and a status report's
    ``%3A``/``%2B`` must be hashed as sent. The target comes from gunicorn's ``RAW_URI``
    or ``REQUEST_URI``; when that holds no query (the Werkzeug test client), the raw
    ``QUERY_STRING`` is appended. ``public_url`` (``ITMS_PUBLIC_URL``) replaces scheme,
    host and any prefix a proxy strips; without it the scheme and ``Host`` are taken from
    the environ, which ``ProxyFix`` corrects behind a proxy.
    """
    target = _request_target(environ)
    if public_url:
        return public_url.rstrip("/") + target
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or _server_host(environ)
    return f"{scheme}://{host}{target}"


def _request_target(environ: t.Mapping[str, t.Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw:
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        raw = quote(path.encode("latin-1"), safe="/;:@&=+$,!~*'()")
    elif "://" in raw.split("?", 1)[0]:
        # Absolute-form request target ("GET http://host/path"): keep only path and query.
        after_scheme = raw.split("://", 1)[1]
        slash = after_scheme.find("/")
        raw = after_scheme[slash:] if slash != -1 else "/"
    script_name = environ.get("SCRIPT_NAME", "")
    if script_name and not _under(raw, script_name):
        # ProxyFix's X-Forwarded-Prefix: the proxy removed the prefix the carrier signed.
        raw = script_name + raw
    query = environ.get("QUERY_STRING", "")
    if "?" not in raw and query:
        raw = f"{raw}?{query}"
    return _wsgi_text(raw)


def _under(target: str, prefix: str) -> bool:
    path = target.split("?", 1)[0]
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _server_host(environ: t.Mapping[str, t.Any]) -> str:
    host, port = environ.get("SERVER_NAME", "localhost"), str(environ.get("SERVER_PORT", ""))
    default = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
    return host if not port or port == default else f"{host}:{port}"


def _wsgi_text(value: str) -> str:
    """WSGI hands over request bytes as latin-1 text; the carrier hashed them as UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def verify(
    headers: SignatureHeaders,
    url: str,
    body: bytes,
    *,
    messagebird_key: str | None,
    bird_key: str | None,
    now: datetime,
    bird_max_age: timedelta,
) -> Proof:
    """Check whichever configured scheme the request is signed with; raise ``SignatureError``."""
    if bird_key and headers.bird_signature is not None:
        return verify_bird_signature(
            headers.bird_signature, headers.bird_timestamp, url, body, bird_key, now=now, max_age=bird_max_age
        )
    if messagebird_key and headers.jwt is not None:
        return verify_messagebird_jwt(headers.jwt, url, body, messagebird_key)
    if not messagebird_key and not bird_key:
        raise SignatureError("this server has no webhook signing key configured")
    expected = " or ".join(
        name for name, key in ((JWT_HEADER, messagebird_key), (BIRD_SIGNATURE_HEADER, bird_key)) if key is not None
    )
    raise SignatureError(f"missing signature header ({expected})")


def verify_messagebird_jwt(token: str, url: str, body: bytes, key: str) -> Proof:
    """Validate a classic ``MessageBird-Signature-JWT`` with the SDK's ``RequestValidator``.

    Every way the SDK can fail is a ``SignatureError``: its ``ValidationError``, but also
    the ``KeyError`` it raises for a token without ``url_hash`` and the ``TypeError`` for a
    body that is not bytes.
    """
    token = token.strip()
    try:
        claims = RequestValidator(key).validate_signature(token, url, body)
        expires_at = datetime.fromtimestamp(float(claims["exp"]), UTC) + JWT_LEEWAY
        jti = claims.get("jti")
    except ValidationError as error:
        raise SignatureError(_reason(str(error), token, key)) from None
    except Exception as error:
        raise SignatureError(f"malformed signature token ({type(error).__name__})") from None
    replay_key = _replay_key("jwt", jti) if isinstance(jti, str) and jti else None
    return Proof(scheme="messagebird-jwt", replay_key=replay_key, expires_at=expires_at)


def bird_signature(key: str, timestamp: str, url: str, body: bytes) -> str:
    """Bird's signature: base64 of HMAC-SHA256(key, timestamp ⏎ url ⏎ SHA-256(body) as raw bytes)."""
    signed = b"\n".join((timestamp.encode("utf-8"), url.encode("utf-8"), hashlib.sha256(body).digest()))
    return base64.b64encode(hmac.new(key.encode("utf-8"), signed, hashlib.sha256).digest()).decode("ascii")


def verify_bird_signature(
    signature: str,
    timestamp: str | None,
    url: str,
    body: bytes,
    key: str,
    *,
    now: datetime,
    max_age: timedelta,
) -> Proof:
    """Validate Bird's ``messagebird-signature`` with its ``messagebird-request-timestamp``.

    Bird re-delivers failed webhooks with their first timestamp, so ``max_age`` must cover
    its retries; within it, the replay table stops a captured request from acting twice.
    """
    timestamp = (timestamp or "").strip()
    if not timestamp:
        raise SignatureError(f"missing {BIRD_TIMESTAMP_HEADER} header")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise SignatureError(f"{BIRD_TIMESTAMP_HEADER} is not a Unix time in seconds")
    sent_at = datetime.fromtimestamp(int(timestamp), UTC)
    if abs(now - sent_at) > max_age:
        raise SignatureError(f"{BIRD_TIMESTAMP_HEADER} is outside the accepted window of {max_age}")
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{BIRD_SIGNATURE_HEADER} is not base64") from None
    expected = base64.b64decode(bird_signature(key, timestamp, url, body))
    if not hmac.compare_digest(given, expected):
        raise SignatureError("signature does not match the URL, body and timestamp")
    replay_key = _replay_key("bird", hashlib.sha256(given).hexdigest())
    return Proof(scheme="bird-hmac", replay_key=replay_key, expires_at=sent_at + max_age)


def _replay_key(scheme: str, value: str) -> str:
    key = f"{scheme}:{value}"
    if len(key) <= _REPLAY_KEY_MAX:
        return key
    return f"{scheme}#sha256:{hashlib.sha256(value.encode('utf-8')).hexdigest()}"


def _reason(message: str, token: str, key: str) -> str:
    """The SDK's reason, with the token and key scrubbed should a message ever quote them."""
    for secret in (token, key):
        if secret:
            message = message.replace(secret, "…")
    return message[:_REASON_MAX]
