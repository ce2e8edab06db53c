"""The MessageBird webhooks through the Flask test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import typing as t
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from conftest import Recorder
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from messagebird_signer import MessageBirdSigner, bird_headers
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_itms import ITMS, signals
from flask_itms.providers import OutboundText, SendError

KEY = "k" * 64  # as long as HS512 wants, so PyJWT has no short-key warning to give
SIGNER = MessageBirdSigner(KEY)
INBOUND = "/itms/messagebird/inbound"
STATUS = "/itms/messagebird/status"
CONSUMER = "+12015550123"
OUR_NUMBER = "+13125550100"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def hook_app(make_app: t.Callable[..., Flask]) -> Flask:
    return make_app(ITMS_MESSAGEBIRD_SIGNING_KEY=KEY)


@pytest.fixture
def client(hook_app: Flask) -> FlaskClient:
    return hook_app.test_client()


def signed_get(client: FlaskClient, path: str, query: str, *, url: str | None = None, **headers: str) -> t.Any:
    """A GET signed for the URL as sent, percent-escapes and all."""
    signed = url or f"http://localhost{path}?{query}"
    return client.get(path, query_string=query, headers={**SIGNER.headers(signed), **headers})


def signed_post(client: FlaskClient, path: str, body: bytes, content_type: str, **headers: str) -> t.Any:
    signed = SIGNER.headers(f"http://localhost{path}", body)
    return client.post(path, data=body, content_type=content_type, headers={**signed, **headers})


def stop(originator: str = "12015550123", **extra: str | None) -> str:
    """An inbound STOP as MessageBird forwards it: numbers without "+", escaped time."""
    fields: dict[str, str | None] = {
        "originator": originator,
        "recipient": "13125550100",
        "payload": "STOP",
        "id": "mb-1",
        "createdDatetime": "2026-06-02T16:00:00+00:00",  # sent as 2026-06-02T16%3A00%3A00%2B00%3A00
        **extra,
    }
    return urlencode({key: value for key, value in fields.items() if value is not None})


def rows(app: Flask) -> dict[str, int]:
    """How many rows each table that a webhook may write holds."""
    state = app.extensions["itms"]
    models = state.models
    with app.app_context():
        return {
            model.__tablename__: state.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (models.Consent, models.ConsentEvent, models.Message, models.WebhookReplay)
        }


NOTHING = {"itms_consent": 0, "itms_consent_event": 0, "itms_message": 0, "itms_webhook_replay": 0}


def outbound(app: Flask, phone: str = CONSUMER) -> list[t.Any]:
    with app.app_context():
        itms = app.extensions["itms"].itms
        return [message for message in itms.messages(phone) if message.direction == "outbound"]


def events(app: Flask, phone: str = CONSUMER) -> list[t.Any]:
    with app.app_context():
        return list(app.extensions["itms"].itms.events(phone))


def status_of(app: Flask, phone: str = CONSUMER) -> str:
    with app.app_context():
        return str(app.extensions["itms"].itms.status(phone).value)


# -- inbound texts -------------------------------------------------------------------------


def test_get_stop_opts_out_once_with_one_confirmation(hook_app: Flask, client: FlaskClient) -> None:
    received = Recorder()
    with signals.opted_out.connected_to(received, hook_app):
        response = signed_get(client, INBOUND, stop())
    assert response.status_code == 200
    assert response.json == {"result": "stored"}
    assert status_of(hook_app) == "opted_out"
    [event] = events(hook_app)
    assert (event.to_status, event.method, event.source, event.keyword) == ("opted_out", "keyword", "consumer", "stop")
    [confirmation] = outbound(hook_app)
    assert confirmation.template == "ACE_SYSTEM_MSG_OPTED_OUT"
    assert confirmation.status == "sent"  # handed to the provider after the commit
    assert hook_app.extensions["itms"].provider.texts_to(CONSUMER) == [confirmation.body]
    assert [call["phone"] for call in received.calls] == [CONSUMER]
    with hook_app.app_context():
        [inbound] = [m for m in hook_app.extensions["itms"].itms.messages(CONSUMER) if m.direction == "inbound"]
    assert (inbound.provider_message_id, inbound.our_number, inbound.body) == ("mb-1", OUR_NUMBER, "STOP")
    assert inbound.created_at == datetime(2026, 6, 2, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content_type", "encode"),
    [
        (FORM, lambda fields: urlencode(fields).encode()),
        ("application/json", lambda fields: json.dumps(fields).encode()),
        ("application/json; charset=utf-8", lambda fields: json.dumps(fields).encode()),
    ],
    ids=["form", "json", "json-charset"],
)
@pytest.mark.parametrize("text_field", ["payload", "body"])
def test_post_form_and_json_with_payload_or_body(
    hook_app: Flask,
    client: FlaskClient,
    content_type: str,
    encode: t.Callable[[dict[str, str]], bytes],
    text_field: str,
) -> None:
    fields = {"originator": "+12015550123", "recipient": "+13125550100", text_field: "STOP", "id": "mb-post"}
    response = signed_post(client, INBOUND, encode(fields), content_type)
    assert response.status_code == 200, response.json
    assert status_of(hook_app) == "opted_out"
    assert len(outbound(hook_app)) == 1


def test_json_numbers_for_ids_and_numbers_are_read_as_text(hook_app: Flask, client: FlaskClient) -> None:
    body = json.dumps({"originator": 12015550123, "recipient": 13125550100, "payload": "STOP", "id": 42}).encode()
    assert signed_post(client, INBOUND, body, "application/json").status_code == 200
    assert status_of(hook_app) == "opted_out"


def test_retry_with_the_same_id_has_no_second_effect(hook_app: Flask, client: FlaskClient) -> None:
    first = signed_get(client, INBOUND, stop())
    retry = signed_get(client, INBOUND, stop())  # MessageBird signs each delivery anew
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.json == {"result": "duplicate"}
    assert len(events(hook_app)) == 1
    assert len(outbound(hook_app)) == 1
    assert rows(hook_app)["itms_message"] == 2  # the STOP and its one confirmation


def test_replayed_token_has_no_second_effect(hook_app: Flask, client: FlaskClient) -> None:
    query = stop(id=None, payload="HELP")  # no id: only the jti can tell the copies apart
    url = f"http://localhost{INBOUND}?{query}"
    headers = SIGNER.headers(url)
    first = client.get(INBOUND, query_string=query, headers=headers)
    replay = client.get(INBOUND, query_string=query, headers=headers)
    assert (first.json, replay.json) == ({"result": "stored"}, {"result": "duplicate"})
    assert len(outbound(hook_app)) == 1  # one HELP answer
    assert rows(hook_app)["itms_webhook_replay"] == 1


def test_expired_replay_keys_are_pruned(hook_app: Flask, client: FlaskClient) -> None:
    state = hook_app.extensions["itms"]
    now = datetime.now(UTC)
    with hook_app.app_context():
        state.session.add_all(
            [
                state.models.WebhookReplay(jti="jwt:old", expires_at=now - timedelta(minutes=5)),
                state.models.WebhookReplay(jti="jwt:live", expires_at=now + timedelta(minutes=5)),
            ]
        )
        state.session.commit()
    assert signed_get(client, INBOUND, stop()).status_code == 200
    with hook_app.app_context():
        keys = set(state.session.scalars(sa.select(state.models.WebhookReplay.jti)))
    assert "jwt:old" not in keys
    assert "jwt:live" in keys
    assert len(keys) == 2  # the live one and this request's


def test_non_phone_originator_is_stored_without_consent_change(hook_app: Flask, client: FlaskClient) -> None:
    received: list[tuple[str, str]] = []

    def on_received(sender: Flask, message: t.Any, **extra: t.Any) -> None:
        received.append((message.phone, message.body))

    with signals.message_received.connected_to(on_received, hook_app):
        response = signed_get(client, INBOUND, stop(originator="AcmeBank"))
    assert response.status_code == 200
    counts = rows(hook_app)
    assert (counts["itms_consent"], counts["itms_consent_event"], counts["itms_message"]) == (0, 0, 1)
    assert received == [("AcmeBank", "STOP")]
    assert hook_app.extensions["itms"].provider.sent == []


def test_msisdn_without_plus_is_read_internationally(hook_app: Flask, client: FlaskClient) -> None:
    response = signed_get(client, INBOUND, stop(originator="31612345678"))
    assert response.status_code == 200
    assert status_of(hook_app, "+31612345678") == "opted_out"


def test_start_after_stop_opts_back_in(hook_app: Flask, client: FlaskClient) -> None:
    assert signed_get(client, INBOUND, stop()).status_code == 200
    assert signed_get(client, INBOUND, stop(payload="START", id="mb-2")).status_code == 200
    assert status_of(hook_app) == "opted_in"
    assert [event.to_status for event in events(hook_app)] == ["opted_out", "opted_in"]


class DownCarrier:
    """A provider whose carrier is down; it notes what the database held when it was called."""

    name = "down"

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.consent_at_call: list[str | None] = []

    def send(self, text: OutboundText) -> str:
        with self.engine.connect() as connection:  # a separate connection sees only committed rows
            status = connection.execute(
                sa.text("SELECT status FROM itms_consent WHERE phone = :phone"), {"phone": text.phone}
            ).scalar()
        self.consent_at_call.append(status)
        raise SendError("carrier unreachable")


def test_opt_out_is_committed_before_the_provider_is_called(hook_app: Flask, client: FlaskClient) -> None:
    """DESIGN invariant 2: a provider outage cannot lose the opt-out or double the confirmation."""
    state = hook_app.extensions["itms"]
    with hook_app.app_context():
        carrier = DownCarrier(state.db.engine)
    state.provider = carrier
    assert signed_get(client, INBOUND, stop()).status_code == 200
    assert carrier.consent_at_call == ["opted_out"]
    assert status_of(hook_app) == "opted_out"
    [confirmation] = outbound(hook_app)
    assert (confirmation.status, confirmation.error) == ("queued", "carrier unreachable")  # kept for a retry
    assert signed_get(client, INBOUND, stop()).json == {"result": "duplicate"}  # the carrier retries the STOP
    assert len(outbound(hook_app)) == 1
    assert len(events(hook_app)) == 1


# -- bad input changes nothing (DESIGN invariant 5) ------------------------------------------


def _unsigned(client: FlaskClient, query: str, **headers: str) -> t.Any:
    return client.get(INBOUND, query_string=query, headers=headers)


BAD_SIGNATURES: dict[str, t.Callable[[str], dict[str, str]]] = {
    "missing": lambda url: {},
    "empty": lambda url: {"MessageBird-Signature-JWT": ""},
    "garbage": lambda url: {"MessageBird-Signature-JWT": "garbage"},
    "other-key": lambda url: MessageBirdSigner("z" * 64).headers(url),
    "other-url": lambda url: SIGNER.headers(url.replace("inbound", "status")),
    "decoded-url": lambda url: SIGNER.headers(url.replace("%3A", ":").replace("%2B", "+")),
    "expired": lambda url: SIGNER.headers(url, issued=int(datetime.now(UTC).timestamp()) - 600),
    "not-yet-valid": lambda url: SIGNER.headers(url, issued=int(datetime.now(UTC).timestamp()) + 600),
    "payload-hash-without-body": lambda url: SIGNER.headers(url, b"payload=STOP"),
    "no-url-hash": lambda url: {
        "MessageBird-Signature-JWT": SIGNER.encode(
            {key: value for key, value in SIGNER.claims(url).items() if key != "url_hash"}
        )
    },
    "hs384-wrong-key": lambda url: MessageBirdSigner("z" * 64, algorithm="HS384").headers(url),
}


@pytest.mark.parametrize("make_headers", BAD_SIGNATURES.values(), ids=BAD_SIGNATURES.keys())
def test_bad_signature_is_401_and_stores_nothing(
    hook_app: Flask, client: FlaskClient, make_headers: t.Callable[[str], dict[str, str]]
) -> None:
    query = stop()
    response = _unsigned(client, query, **make_headers(f"http://localhost{INBOUND}?{query}"))
    assert response.status_code == 401
    assert response.is_json
    assert "signature" in response.json["error"]
    assert rows(hook_app) == NOTHING
    assert status_of(hook_app) == "none"
    assert hook_app.extensions["itms"].provider.sent == []


def test_signature_errors_never_log_the_token_or_key(
    hook_app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    query = stop()
    url = f"http://localhost{INBOUND}?{query}"
    tokens = [
        MessageBirdSigner("z" * 64).token(url),
        SIGNER.token(url, issued=int(datetime.now(UTC).timestamp()) - 600),
        SIGNER.token(url),
    ]
    with caplog.at_level(logging.DEBUG):
        responses = [_unsigned(client, query, **{"MessageBird-Signature-JWT": token}) for token in tokens]
    assert [response.status_code for response in responses] == [401, 401, 200]
    assert "refused (401)" in caplog.text
    for secret in (*tokens, KEY, "z" * 64):
        assert secret not in caplog.text
        assert all(secret not in response.get_data(as_text=True) for response in responses)


MALFORMED: list[tuple[str, bytes, str, str | None]] = [
    ("missing-originator", b"recipient=1&payload=STOP", FORM, "originator"),
    ("missing-recipient", b"originator=12015550123&payload=STOP", FORM, "recipient"),
    ("missing-text", b"originator=12015550123&recipient=1", FORM, "payload"),
    (
        "bad-created-time",
        b"originator=12015550123&recipient=1&payload=STOP&createdDatetime=soon",
        FORM,
        "createdDatetime",
    ),
    ("id-too-long", b"originator=12015550123&recipient=1&payload=STOP&id=" + b"x" * 65, FORM, "id"),
    ("given-twice", b"originator=12015550123&originator=12015550124&recipient=1&payload=STOP", FORM, "originator"),
    ("not-utf8-form", b"originator=12015550123&recipient=1&payload=\xff", FORM, None),
    ("bad-json", b"{not json", "application/json", None),
    ("json-array", b'["STOP"]', "application/json", None),
    (
        "json-bool-text",
        b'{"originator": "12015550123", "recipient": "1", "payload": true}',
        "application/json",
        "payload",
    ),
]


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_fields_are_400_naming_the_field(
    hook_app: Flask, client: FlaskClient, body: bytes, content_type: str, field: str | None
) -> None:
    response = signed_post(client, INBOUND, body, content_type)
    assert response.status_code == 400
    assert response.is_json
    assert response.json["error"]
    assert response.json.get("field") == field
    if field is not None:
        assert field in response.json["fields"]
    assert rows(hook_app) == NOTHING


def test_query_field_given_twice_is_400(hook_app: Flask, client: FlaskClient) -> None:
    response = signed_get(client, INBOUND, stop() + "&payload=START")
    assert (response.status_code, response.json["field"]) == (400, "payload")
    assert rows(hook_app) == NOTHING


def test_status_report_with_unknown_status_is_400(hook_app: Flask, client: FlaskClient) -> None:
    query = "id=x&recipient=12015550123&status=teleported&statusDatetime=2026-06-02T16%3A00%3A00%2B00%3A00"
    response = signed_get(client, STATUS, query)
    assert (response.status_code, response.json["field"]) == (400, "status")
    assert rows(hook_app) == NOTHING


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", None])
def test_unsupported_content_type_is_415(hook_app: Flask, client: FlaskClient, content_type: str | None) -> None:
    body = b"originator=12015550123&recipient=1&payload=STOP"
    signed = SIGNER.headers(f"http://localhost{INBOUND}", body)
    response = client.post(
        INBOUND, data=body, headers={**signed, **({"Content-Type": content_type} if content_type else {})}
    )
    assert response.status_code == 415
    assert response.is_json
    assert rows(hook_app) == NOTHING


@pytest.mark.parametrize("signed", [True, False])
def test_oversized_body_is_413_before_anything_else(make_app: t.Callable[..., Flask], signed: bool) -> None:
    app = make_app(ITMS_MESSAGEBIRD_SIGNING_KEY=KEY, ITMS_MAX_WEBHOOK_BYTES=256)
    body = urlencode({"originator": "12015550123", "recipient": "1", "payload": "STOP " * 60}).encode()
    headers = SIGNER.headers(f"http://localhost{INBOUND}", body) if signed else {}
    response = app.test_client().post(INBOUND, data=body, content_type=FORM, headers=headers)
    assert response.status_code == 413
    assert "ITMS_MAX_WEBHOOK_BYTES" in response.json["error"]
    assert rows(app) == NOTHING
    small = urlencode({"originator": "12015550123", "recipient": "1", "payload": "STOP"}).encode()
    assert signed_post(app.test_client(), INBOUND, small, FORM).status_code == 200


def test_oversized_body_without_content_length_is_413(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_MESSAGEBIRD_SIGNING_KEY=KEY, ITMS_MAX_WEBHOOK_BYTES=64)
    body = b"payload=" + b"S" * 200
    environ = {"wsgi.input_terminated": True}  # chunked: the server says where the body ends
    response = app.test_client().post(
        INBOUND, data=body, content_type=FORM, headers={"Content-Length": ""}, environ_overrides=environ
    )
    assert response.status_code == 413
    assert rows(app) == NOTHING


def test_errors_stay_json_when_the_host_renders_html_errors(hook_app: Flask, client: FlaskClient) -> None:
    @hook_app.errorhandler(400)
    @hook_app.errorhandler(401)
    def html_error(error: Exception) -> tuple[str, int]:
        return "<h1>host error page</h1>", 418

    assert client.get(INBOUND, query_string=stop()).json["error"].startswith("Invalid webhook signature")
    assert signed_post(client, INBOUND, b"recipient=1", FORM).json["field"] == "originator"


def test_no_signing_key_configured_refuses_everything(
    make_app: t.Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    with caplog.at_level(logging.ERROR, logger="flask_itms.webhooks"):
        response = signed_get(app.test_client(), INBOUND, stop())
    assert response.status_code == 401
    assert "ITMS_MESSAGEBIRD_SIGNING_KEY" in caplog.text
    assert rows(app) == NOTHING


# -- status reports --------------------------------------------------------------------------


def confirmation_sent(app: Flask) -> tuple[int, str]:
    """Opt the consumer out by hand: its confirmation is an outbound text with a provider id."""
    with app.app_context():
        state = app.extensions["itms"]
        state.itms.opt_out(CONSUMER)
        state.session.commit()
    [message] = outbound(app)
    assert message.status == "sent"
    return message.id, message.provider_message_id


def report(
    message_id: int | None, provider_id: str, status: str, *, recipient: str = "%2B12015550123", **extra: str
) -> str:
    """A status report query as MessageBird sends it: ":" and "+" percent-escaped."""
    parts = [f"id={provider_id}", f"recipient={recipient}", f"status={status}"]
    if message_id is not None:
        parts.append(f"reference={message_id}")
    parts.append("statusDatetime=2026-06-02T16%3A00%3A05%2B00%3A00")
    parts.extend(f"{key}={value}" for key, value in extra.items())
    return "&".join(parts)


def test_percent_escaped_status_report_updates_the_message(hook_app: Flask, client: FlaskClient) -> None:
    message_id, provider_id = confirmation_sent(hook_app)
    changed: list[tuple[Flask, str, int, str]] = []

    def on_changed(sender: Flask, message: t.Any, status: str, **extra: t.Any) -> None:
        changed.append((sender, status, message.id, message.status))

    query = report(message_id, provider_id, "delivered", statusReason="successfully+delivered", statusErrorCode="0")
    assert "%3A" in query and "%2B" in query
    with signals.delivery_status_changed.connected_to(on_changed, hook_app):
        response = signed_get(client, STATUS, query)
    assert response.status_code == 200
    assert response.json == {"result": "stored"}
    [message] = outbound(hook_app)
    assert message.status == "delivered"
    assert message.status_reason == "successfully delivered"
    assert message.status_error_code == "0"
    assert message.status_at == datetime(2026, 6, 2, 16, 0, 5, tzinfo=UTC)
    assert changed == [(hook_app, "delivered", message_id, "delivered")]


def test_status_report_found_by_provider_id_and_recipient(hook_app: Flask, client: FlaskClient) -> None:
    _message_id, provider_id = confirmation_sent(hook_app)
    assert signed_get(client, STATUS, report(None, provider_id, "buffered", recipient="12015550123")).json == {
        "result": "stored"
    }
    assert outbound(hook_app)[0].status == "buffered"


@pytest.mark.parametrize(
    ("sequence", "final"),
    [
        (["delivered", "buffered"], "delivered"),
        (["delivered", "sent"], "delivered"),
        (["delivered", "delivery_failed"], "delivered"),
        (["expired", "delivered"], "expired"),
        (["buffered", "scheduled"], "buffered"),
        (["scheduled", "buffered", "delivered"], "delivered"),
    ],
)
def test_a_late_report_never_moves_a_message_back(
    hook_app: Flask, client: FlaskClient, sequence: list[str], final: str
) -> None:
    message_id, provider_id = confirmation_sent(hook_app)
    changed = Recorder()
    with signals.delivery_status_changed.connected_to(changed, hook_app):
        answers = [signed_get(client, STATUS, report(message_id, provider_id, status)) for status in sequence]
    assert [answer.status_code for answer in answers] == [200] * len(sequence)
    assert answers[-1].json == {"result": "stored" if sequence[-1] == final else "unchanged"}
    assert outbound(hook_app)[0].status == final
    assert changed.calls[-1]["status"] == final
    assert len(changed.calls) == len({call["status"] for call in changed.calls})


@pytest.mark.parametrize(
    ("reference", "provider_id", "recipient"),
    [
        ("999999", "console-999999", "%2B12015550123"),
        ("own", "someone-else", "%2B12015550123"),
        ("own", "own", "%2B12025550143"),
    ],
    ids=["unknown-reference", "reference-with-foreign-provider-id", "wrong-recipient"],
)
def test_unknown_message_is_200_logged_and_stores_nothing(
    hook_app: Flask,
    client: FlaskClient,
    caplog: pytest.LogCaptureFixture,
    reference: str,
    provider_id: str,
    recipient: str,
) -> None:
    message_id, own_provider_id = confirmation_sent(hook_app)
    before = rows(hook_app)
    query = report(
        message_id if reference == "own" else int(reference),
        own_provider_id if provider_id == "own" else provider_id,
        "delivered",
        recipient=recipient,
    )
    with caplog.at_level(logging.INFO, logger="flask_itms.webhooks"):
        response = signed_get(client, STATUS, query)
    assert (response.status_code, response.json) == (200, {"result": "ignored"})
    assert "matches no outbound message" in caplog.text
    assert rows(hook_app) == before
    assert outbound(hook_app)[0].status == "sent"


def test_status_report_by_form_post(hook_app: Flask, client: FlaskClient) -> None:
    message_id, provider_id = confirmation_sent(hook_app)
    body = urlencode(
        {
            "id": provider_id,
            "reference": str(message_id),
            "recipient": "12015550123",
            "status": "delivery_failed",
            "statusDatetime": "2026-06-02T16:00:05+00:00",
            "statusErrorCode": "104",
            "statusReason": "unknown subscriber",
            "price[amount]": "0.07",  # extra MessageBird fields are ignored, not refused
            "mccmnc": "20408",
        }
    ).encode()
    assert signed_post(client, STATUS, body, FORM).status_code == 200
    [message] = outbound(hook_app)
    assert (message.status, message.status_error_code, message.status_reason) == (
        "delivery_failed",
        "104",
        "unknown subscriber",
    )


# -- URLs behind proxies ---------------------------------------------------------------------


def test_public_url_is_the_signed_base(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_MESSAGEBIRD_SIGNING_KEY=KEY, ITMS_PUBLIC_URL="https://crm.example.com/collections/")
    client = app.test_client()
    query = stop()
    public = f"https://crm.example.com/collections{INBOUND}?{query}"
    assert signed_get(client, INBOUND, query, url=f"http://localhost{INBOUND}?{query}").status_code == 401
    assert signed_get(client, INBOUND, query, url=public).status_code == 200


def test_proxyfix_gives_the_public_scheme_and_host(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_MESSAGEBIRD_SIGNING_KEY=KEY)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]
    query = stop()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "crm.example.com"}
    url = f"https://crm.example.com{INBOUND}?{query}"
    assert signed_get(app.test_client(), INBOUND, query, url=url, **forwarded).status_code == 200


# -- Bird's signature ------------------------------------------------------------------------


@pytest.fixture
def bird_app(make_app: t.Callable[..., Flask]) -> Flask:
    return make_app(ITMS_BIRD_SIGNING_KEY=KEY)


def test_bird_signed_request_is_accepted_once(bird_app: Flask) -> None:
    client = bird_app.test_client()
    body = json.dumps({"originator": "+12015550123", "recipient": OUR_NUMBER, "payload": "STOP"}).encode()
    headers = bird_headers(KEY, f"http://localhost{INBOUND}", body)
    first = client.post(INBOUND, data=body, content_type="application/json", headers=headers)
    again = client.post(INBOUND, data=body, content_type="application/json", headers=headers)
    assert (first.json, again.json) == ({"result": "stored"}, {"result": "duplicate"})
    assert status_of(bird_app) == "opted_out"
    assert len(outbound(bird_app)) == 1


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda url, body: bird_headers("z" * 64, url, body),
        lambda url, body: bird_headers(KEY, url + "?x=1", body),
        lambda url, body: bird_headers(KEY, url, body, timestamp=int(datetime.now(UTC).timestamp()) - 2 * 86400),
        lambda url, body: {"messagebird-signature": bird_headers(KEY, url, body)["messagebird-signature"]},
        lambda url, body: SIGNER.headers(url, body),  # a classic JWT when only Bird's key is set
    ],
    ids=["other-key", "other-url", "stale", "no-timestamp", "classic-jwt"],
)
def test_bad_bird_signature_is_401(bird_app: Flask, make_headers: t.Callable[[str, bytes], dict[str, str]]) -> None:
    body = json.dumps({"originator": "+12015550123", "recipient": OUR_NUMBER, "payload": "STOP"}).encode()
    headers = make_headers(f"http://localhost{INBOUND}", body)
    response = bird_app.test_client().post(INBOUND, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert rows(bird_app) == NOTHING


def test_both_schemes_when_both_keys_are_set(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_MESSAGEBIRD_SIGNING_KEY=KEY, ITMS_BIRD_SIGNING_KEY="B" * 64)
    client = app.test_client()
    body = b"originator=12015550123&recipient=13125550100&payload=HELP"
    url = f"http://localhost{INBOUND}"
    for headers in (SIGNER.headers(url, body), bird_headers("B" * 64, url, body)):
        assert client.post(INBOUND, data=body, content_type=FORM, headers=headers).status_code == 200
    assert len(outbound(app)) == 2


# -- CSRF and SQLite ---------------------------------------------------------------------------


def standalone_app(tmp_path: t.Any, *, before_itms: t.Callable[[Flask], None] | None = None, **config: t.Any) -> Flask:
    """An app on its own SQLite file, for what does not depend on the database backend."""
    app = Flask("itms_standalone")
    app.config.update(
        SECRET_KEY="s",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'standalone.db'}",
        ITMS_CUSTOMER={"companyName": "Acme", "phone": "+18005550100"},
        ITMS_MESSAGEBIRD_SIGNING_KEY=KEY,
        **config,
    )
    db = SQLAlchemy()
    itms = ITMS(db=db)
    db.init_app(app)
    if before_itms is not None:
        before_itms(app)
    itms.init_app(app)
    with app.app_context():
        db.create_all()
    return app


def dispose(app: Flask) -> None:
    with app.app_context():
        app.extensions["itms"].db.engine.dispose()


@pytest.mark.parametrize("csrf_first", [True, False], ids=["csrf-before-itms", "csrf-after-itms"])
def test_webhooks_are_exempt_from_flask_wtf_csrf(tmp_path: t.Any, csrf_first: bool) -> None:
    csrf = CSRFProtect()
    app = standalone_app(tmp_path, before_itms=csrf.init_app if csrf_first else None)
    if not csrf_first:
        csrf.init_app(app)

    @app.post("/host-form")
    def host_form() -> str:
        return "ok"

    client = app.test_client()
    try:
        assert client.post("/host-form").status_code == 400  # CSRF is on for the host
        body = b"originator=12015550123&recipient=13125550100&payload=STOP"
        assert signed_post(client, INBOUND, body, FORM).status_code == 200
    finally:
        dispose(app)


@pytest.mark.parametrize(
    ("config", "journal_mode", "busy_timeout"),
    [
        ({}, "wal", 10_000),
        ({"ITMS_SQLITE_WAL": False, "ITMS_SQLITE_BUSY_TIMEOUT": 2.5}, "delete", 2_500),
    ],
    ids=["defaults", "configured"],
)
def test_sqlite_connections_get_wal_and_a_busy_timeout(
    tmp_path: t.Any, config: dict[str, t.Any], journal_mode: str, busy_timeout: int
) -> None:
    app = standalone_app(tmp_path, **config)
    try:
        with app.app_context(), app.extensions["itms"].db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == journal_mode
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == busy_timeout
    finally:
        dispose(app)
