"""MessageBird webhooks: inbound texts and delivery status reports.

Every request is untrusted until its signature checks out. A view reads the body within
``ITMS_MAX_WEBHOOK_BYTES``, checks the signature over exactly those bytes and the URL as
sent, parses the fields with a marshmallow schema, calls the service, and commits. Bad
input is answered 401/400/413/415 before anything is written; a retry or a replay is
answered 200 and changes nothing. When the database cannot take a request (the
connection dropped, SQLite locked past its busy timeout) the answer is 503 with nothing
stored, and the carrier's retry finds everything as it was.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import typing as t
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, jsonify, request
from marshmallow import Schema, ValidationError
from sqlalchemy import exc as sa_exc
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    RequestEntityTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)

from . import delivery_reports, inbound, replay, signing
from .errors import ITMSError
from .schemas import InboundText, InboundTextSchema, StatusReportSchema
from .state import current_state

if t.TYPE_CHECKING:
    from .state import State

logger = logging.getLogger("flask_itms.webhooks")

#: Exempt from CSRF: carriers cannot send a token, and the signature is the protection.
webhooks = Blueprint("itms_webhooks", __name__)

_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"

# Built once: a schema's load() keeps no state between calls, and building one per
# request costs more than loading the fields.
_INBOUND_TEXT = InboundTextSchema()
_STATUS_REPORT = StatusReportSchema()


class WebhookRejected(ITMSError, HTTPException):
    """A webhook request answered with an error and no effect; the body is JSON."""

    def __init__(self, message: str, *, field: str | None = None, fields: t.Mapping[str, t.Any] | None = None) -> None:
        HTTPException.__init__(self, description=message)
        self.args = (message,)
        self.field = field
        self.fields = dict(fields or {})

    def __str__(self) -> str:
        return str(self.description)


class InvalidSignature(WebhookRejected, Unauthorized):
    """A missing, malformed, expired or wrong signature (401)."""


class InvalidWebhookData(WebhookRejected, BadRequest):
    """Missing or malformed fields (400); ``field`` names the first of them."""


class WebhookTooLarge(WebhookRejected, RequestEntityTooLarge):
    """A body over ``ITMS_MAX_WEBHOOK_BYTES`` (413)."""


class UnsupportedWebhookType(WebhookRejected, UnsupportedMediaType):
    """A POST that is neither a form nor JSON (415)."""


@dataclasses.dataclass(frozen=True)
class SignedRequest:
    """A request whose signature checked out, with the raw body it covered."""

    body: bytes
    proof: signing.Proof
    #: When the signature was checked, by the real clock that judged it; expired replay
    #: keys are pruned against this, never against ``ITMS_CLOCK``.
    checked_at: datetime


@webhooks.route("/messagebird/inbound", methods=["GET", "POST"])
def messagebird_inbound() -> Response:
    """An inbound SMS: stored once per provider id, then acted on (STOP, START, YES, HELP…)."""
    signed = _signed_request()
    text: InboundText = _load(_INBOUND_TEXT, signed)
    state = current_state()
    if not _first_use(state, signed):
        return _answer("duplicate")
    _message, created = inbound.handle_inbound(
        state,
        text.originator,
        text.recipient,
        text.text,
        provider_message_id=text.provider_message_id,
        received_at=text.received_at,
        originator_e164=text.originator_e164,
    )
    replay.prune(state, signed.checked_at)
    state.session.commit()
    return _answer("stored" if created else "duplicate")


@webhooks.route("/messagebird/status", methods=["GET", "POST"])
def messagebird_status() -> Response:
    """A delivery status report: moves our outbound message forward, never back."""
    signed = _signed_request()
    report: delivery_reports.StatusReport = _load(_STATUS_REPORT, signed)
    state = current_state()
    if not _first_use(state, signed):
        return _answer("duplicate")
    outcome = delivery_reports.record_status_report(state, report)
    if outcome is None:
        state.session.rollback()
        logger.info(
            "Status report %r (reference %r, id %r) matches no outbound message; ignored.",
            report.status,
            report.reference,
            report.provider_message_id,
        )
        return _answer("ignored")
    _message, changed = outcome
    replay.prune(state, signed.checked_at)
    state.session.commit()
    return _answer("stored" if changed else "unchanged")


# -- the steps every webhook takes ---------------------------------------------------------


def _signed_request() -> SignedRequest:
    """Read the body within the limit and check its signature, or raise 413/401."""
    settings = current_state().settings
    body = _read_body(settings.max_webhook_bytes)
    now = datetime.now(UTC)
    url = signing.signed_url(request.environ, settings.public_url)
    headers = signing.SignatureHeaders(
        jwt=request.headers.get(signing.JWT_HEADER),
        bird_signature=request.headers.get(signing.BIRD_SIGNATURE_HEADER),
        bird_timestamp=request.headers.get(signing.BIRD_TIMESTAMP_HEADER),
    )
    try:
        proof = signing.verify(
            headers,
            url,
            body,
            messagebird_key=settings.messagebird_signing_key,
            bird_key=settings.bird_signing_key,
            now=now,
            bird_max_age=settings.bird_signature_max_age,
        )
    except signing.SignatureError as error:
        if not settings.messagebird_signing_key and not settings.bird_signing_key:
            logger.error(
                "Webhook refused: set ITMS_MESSAGEBIRD_SIGNING_KEY (MessageBird) or ITMS_BIRD_SIGNING_KEY (Bird)."
            )
        logger.warning("Webhook %s %s refused (401): %s", request.method, request.path, error)
        raise InvalidSignature(f"Invalid webhook signature: {error}.") from None
    return SignedRequest(body=body, proof=proof, checked_at=now)


def _read_body(limit: int) -> bytes:
    """The raw body, read once: the signature covers these bytes and the fields come from them."""
    too_large = f"The body is larger than ITMS_MAX_WEBHOOK_BYTES ({limit} bytes)."
    if request.content_length is not None and request.content_length > limit:
        raise WebhookTooLarge(too_large)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise WebhookTooLarge(too_large)
    return body


def _load(schema: Schema, signed: SignedRequest) -> t.Any:
    """The request's fields, validated by ``schema``; a 415 or a 400 naming the field."""
    try:
        return schema.load(_fields(signed.body))
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        field = next(iter(messages), None)
        detail = messages.get(field) if field is not None else None
        first = detail[0] if isinstance(detail, list) and detail else "Invalid value."
        raise InvalidWebhookData(f"{field}: {first}", field=field, fields=messages) from None


def _fields(body: bytes) -> dict[str, t.Any]:
    """Fields from the query string (GET), a form or a JSON object (POST)."""
    if request.method == "GET":
        return _single_values(request.args)
    if request.mimetype == _FORM:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise InvalidWebhookData("The form body is not UTF-8.") from None
        return _single_values(MultiDict(pairs))
    if request.mimetype == _JSON or request.mimetype.endswith("+json"):
        try:
            data = json.loads(body)
        except ValueError:
            raise InvalidWebhookData("The body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise InvalidWebhookData("The JSON body must be an object of fields.")
        return data
    raise UnsupportedWebhookType(f"Unsupported content type {request.mimetype or '(none)'!r}: send {_FORM} or {_JSON}.")


def _single_values(values: MultiDict[str, str]) -> dict[str, str]:
    """A field given twice is ambiguous, and ambiguity about an opt-out is refused."""
    for key in values:
        if len(values.getlist(key)) > 1:
            message = "Given more than once."
            raise InvalidWebhookData(f"{key}: {message}", field=key, fields={key: [message]})
    return dict(values.items())


def _first_use(state: State, signed: SignedRequest) -> bool:
    """Claim the request's replay key; a replayed request is answered 200 and does nothing."""
    key = signed.proof.replay_key
    if key is None or replay.claim(state, key, signed.proof.expires_at):
        return True
    state.session.rollback()
    logger.info("Webhook %s replayed (key already used); answered 200 with no effect.", request.path)
    return False


def _answer(result: str) -> Response:
    return jsonify(result=result)


def _json_error(error: HTTPException) -> tuple[Response, int]:
    """Webhook errors are JSON, whatever HTML error pages the host renders elsewhere."""
    body: dict[str, t.Any] = {"error": error.description}
    if isinstance(error, WebhookRejected) and error.field is not None:
        body["field"] = error.field
        body["fields"] = error.fields
    return jsonify(body), error.code or 500


# Registered per status code, so these win over the host's own handlers for those codes.
for _code in (400, 401, 413, 415):
    webhooks.register_error_handler(_code, _json_error)

#: Seconds a carrier is asked to wait before retrying a webhook the database could not take.
RETRY_AFTER = 5


@webhooks.errorhandler(sa_exc.DBAPIError)
def _database_unavailable(error: sa_exc.DBAPIError) -> tuple[Response, int, dict[str, str]]:
    """The database dropped the connection, is down, or is locked by another writer: 503.

    The transaction is gone with nothing of it committed, so the carrier's retry finds
    everything as it was. Any other database error is a bug, and stays a 500.
    """
    if not (isinstance(error, sa_exc.OperationalError) or error.connection_invalidated):
        raise error
    logger.warning(
        "Webhook %s %s could not reach the database (503, the carrier retries): %s",
        request.method,
        request.path,
        type(error.orig).__name__ if error.orig is not None else type(error).__name__,
    )
    current_state().session.rollback()
    body = {"error": "The database is unavailable; nothing was stored. Retry later."}
    return jsonify(body), 503, {"Retry-After": str(RETRY_AFTER)}


def register_webhooks(app: Flask, url_prefix: str) -> None:
    """Mount the webhooks under ``url_prefix`` and keep them out of Flask-WTF's CSRF checks."""
    app.register_blueprint(webhooks, url_prefix=url_prefix)
    _exempt_from_csrf(app)


def _exempt_from_csrf(app: Flask) -> None:
    """Exempt the webhooks from ``CSRFProtect``, whether it is set up before or after us.

    When ``CSRFProtect`` comes later, this hook is registered before its check, so Flask
    runs it first and the exemption is in place by the time the check looks.
    """
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(webhooks)
        return

    @app.before_request
    def _exempt_webhooks_from_csrf() -> None:
        late = app.extensions.get("csrf")
        if late is not None and request.blueprint == webhooks.name:
            late.exempt(webhooks)
