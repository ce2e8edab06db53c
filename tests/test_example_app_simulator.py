"""The consumer phone simulator: development only, real PINs, properly signed replies."""

from __future__ import annotations

import hashlib
import re
import typing as t
from datetime import UTC, datetime
from urllib.parse import parse_qs

import jwt
import pytest
import requests
from conftest import Clock
from crm_support import SIGNING_KEY, build_crm, dispose
from flask import Flask
from messagebird.error import ValidationError
from messagebird.request_validator import RequestValidator

from example_app import create_app
from example_app.extensions import db, itms
from example_app.simulator import conversation, messagebird_signature, simulator_enabled

DANA_MOBILE = "+12015550123"
SIMULATOR_PAGES = ["/dev/phones/", f"/dev/phones/{DANA_MOBILE}", f"/dev/phones/{DANA_MOBILE}/messages"]


@pytest.fixture
def crm(database_url: str) -> t.Iterator[Flask]:
    app = build_crm(database_url, WTF_CSRF_ENABLED=False)
    yield app
    dispose(app)


# -- only in development -------------------------------------------------------------------


def test_unreachable_in_production_config(database_url: str) -> None:
    app = create_app(
        {
            "SECRET_KEY": "production-secret",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "ITMS_MESSAGEBIRD_SIGNING_KEY": "production-signing-key",
        }
    )
    try:
        assert not app.debug and not app.config["CRM_DEMO"]
        assert "simulator" not in app.blueprints
        assert not [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/dev")]
        client = app.test_client()
        for page in SIMULATOR_PAGES:
            assert client.get(page).status_code == 404
        assert client.post(f"/dev/phones/{DANA_MOBILE}/reply", data={"text": "STOP"}).status_code == 404
    finally:
        dispose(app)


def test_unreachable_with_a_real_carrier_even_in_debug_and_demo_mode(database_url: str) -> None:
    app = build_crm(
        database_url,
        DEBUG=True,
        ITMS_PROVIDER="messagebird",
        ITMS_MESSAGEBIRD_ACCESS_KEY="live_example-access-key",
        ITMS_ORIGINATOR="+18005550100",
    )
    try:
        assert app.debug and app.config["CRM_DEMO"]
        assert "simulator" not in app.blueprints
        client = app.test_client()
        for page in SIMULATOR_PAGES:
            assert client.get(page).status_code == 404
    finally:
        dispose(app)


def test_reachable_in_debug_and_demo_mode(crm: Flask) -> None:
    client = crm.test_client()
    for page in SIMULATOR_PAGES:
        assert client.get(page).status_code == 200, page


def test_switching_debug_off_closes_it(database_url: str) -> None:
    app = build_crm(database_url, CRM_DEMO=False, DEBUG=True)
    try:
        client = app.test_client()
        assert client.get("/dev/phones/").status_code == 200
        app.debug = False
        assert client.get("/dev/phones/").status_code == 404
    finally:
        dispose(app)


@pytest.mark.parametrize(
    ("provider", "debug", "demo", "enabled"),
    [
        ("console", True, False, True),
        ("console", False, True, True),
        ("console", False, False, False),
        ("messagebird", True, True, False),
        ("messagebird", False, True, False),
    ],
)
def test_only_the_console_provider_in_debug_or_demo_mode(provider: str, debug: bool, demo: bool, enabled: bool) -> None:
    app = Flask(__name__)
    app.config.update(ITMS_PROVIDER=provider, CRM_DEMO=demo)
    app.debug = debug
    assert simulator_enabled(app) is enabled


def test_an_unknown_or_malformed_number_is_404(crm: Flask) -> None:
    client = crm.test_client()
    assert client.get("/dev/phones/not-a-number").status_code == 404
    assert client.get("/dev/phones/2015550123").status_code == 404  # not E.164


# -- the signature -------------------------------------------------------------------------

URL = "http://127.0.0.1:5000/itms/messagebird/inbound"
BODY = b"originator=12015550123&recipient=18005550100&body=%F0%9F%9B%91"


def test_the_signature_passes_the_messagebird_sdk_validator() -> None:
    token = messagebird_signature(SIGNING_KEY, URL, BODY)
    claims = RequestValidator(SIGNING_KEY).validate_signature(token, URL, BODY)
    assert claims["iss"] == "MessageBird"
    assert claims["payload_hash"] == hashlib.sha256(BODY).hexdigest()
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


@pytest.mark.parametrize(
    ("key", "url", "body"),
    [
        ("another-signing-key-at-least-32-bytes", URL, BODY),
        (SIGNING_KEY, URL.replace("5000", "5001"), BODY),
        (SIGNING_KEY, URL, BODY.replace(b"%F0%9F%9B%91", b"YES")),
    ],
    ids=["wrong key", "other url", "changed body"],
)
def test_the_sdk_refuses_a_signature_for_anything_else(key: str, url: str, body: bytes) -> None:
    token = messagebird_signature(SIGNING_KEY, URL, BODY)
    with pytest.raises(ValidationError):
        RequestValidator(key).validate_signature(token, url, body)


def test_without_a_body_there_is_no_payload_hash_and_tokens_are_unique() -> None:
    first, second = (messagebird_signature(SIGNING_KEY, URL, b"", now=1_800_000_000) for _ in range(2))
    claims = jwt.decode(first, SIGNING_KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_nbf": False})
    assert "payload_hash" not in claims
    assert claims["exp"] - claims["nbf"] == 300
    assert claims["jti"] != jwt.decode(second, options={"verify_signature": False})["jti"]


# -- what the phone shows ------------------------------------------------------------------


def test_the_phone_shows_the_real_pin_that_the_database_masks(crm: Flask) -> None:
    with crm.app_context():
        itms.request_opt_in(DANA_MOBILE, account="ACCT-1001", actor="user:alice")
        db.session.commit()
        itms.handle_inbound(DANA_MOBILE, "+18005550100", "YES", provider_message_id="in-1")
        db.session.commit()
        stored = itms.messages(DANA_MOBILE)[-1]
        assert stored.template == "ACE_SYSTEM_MSG_AUTH_CODE"
        assert not re.search(r"\d{6}", stored.display_body)
        shown = conversation(DANA_MOBILE)
        pin = re.search(r"\b(\d{6})\b", shown[-1].body)
        assert pin is not None, shown[-1].body
        assert [bubble.received for bubble in shown] == [True, False, True]
        itms.enter_auth_code(DANA_MOBILE, pin.group(1), actor="user:alice")
        db.session.commit()
        assert itms.status(DANA_MOBILE) == "opted_in"
    page = crm.test_client().get(f"/dev/phones/{DANA_MOBILE}").get_data(as_text=True)
    assert pin.group(1) in page


def test_texts_waiting_for_quiet_hours_are_not_on_the_phone(database_url: str) -> None:
    three_am_eastern = Clock(datetime(2026, 6, 2, 7, 0, tzinfo=UTC))
    app = build_crm(database_url, ITMS_QUIET_HOURS=(8, 21), ITMS_CLOCK=three_am_eastern)
    try:
        with app.app_context():
            itms.request_opt_in(DANA_MOBILE, account="ACCT-1001", actor="user:alice")
            db.session.commit()
            assert [message.status for message in itms.messages(DANA_MOBILE)] == ["queued"]
            assert conversation(DANA_MOBILE) == []
    finally:
        dispose(app)


# -- sending a reply -----------------------------------------------------------------------


class Captured:
    def __init__(self, status: int = 200, text: str = '{"result": "stored"}') -> None:
        self.calls: list[dict[str, t.Any]] = []
        self.status, self.text = status, text

    def __call__(self, url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> requests.Response:
        self.calls.append({"url": url, "data": data, "headers": headers, "timeout": timeout})
        response = requests.Response()
        response.status_code = self.status
        response._content = self.text.encode()
        return response


def test_a_reply_is_a_signed_messagebird_form_post(crm: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    captured = Captured()
    monkeypatch.setattr("example_app.simulator.requests.post", captured)
    response = crm.test_client().post(f"/dev/phones/{DANA_MOBILE}/reply", data={"text": "🛑"})
    assert response.status_code == 302
    assert response.location == f"/dev/phones/{DANA_MOBILE}"
    [call] = captured.calls
    assert call["url"] == "http://localhost/itms/messagebird/inbound"
    assert call["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    RequestValidator(SIGNING_KEY).validate_signature(
        call["headers"]["MessageBird-Signature-JWT"], call["url"], call["data"]
    )
    fields = {name: values[0] for name, values in parse_qs(call["data"].decode()).items()}
    assert fields["originator"] == "12015550123"
    assert fields["recipient"] == "18005550100"
    assert fields["body"] == "🛑"
    assert re.fullmatch(r"[0-9a-f]{32}", fields["id"])
    assert datetime.fromisoformat(fields["createdDatetime"]).tzinfo is not None


def test_a_reply_signs_the_public_url_when_one_is_set(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = build_crm(database_url, WTF_CSRF_ENABLED=False, ITMS_PUBLIC_URL="https://crm.example.com/")
    try:
        captured = Captured()
        monkeypatch.setattr("example_app.simulator.requests.post", captured)
        app.test_client().post(f"/dev/phones/{DANA_MOBILE}/reply", data={"text": "HELP"})
        [call] = captured.calls
        assert call["url"] == "http://localhost/itms/messagebird/inbound"
        token = call["headers"]["MessageBird-Signature-JWT"]
        public = "https://crm.example.com/itms/messagebird/inbound"
        RequestValidator(SIGNING_KEY).validate_signature(token, public, call["data"])
    finally:
        dispose(app)


def test_a_refused_reply_is_shown_on_the_phone(crm: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("example_app.simulator.requests.post", Captured(401, '{"error": "bad signature"}'))
    client = crm.test_client()
    client.post(f"/dev/phones/{DANA_MOBILE}/reply", data={"text": "YES"})
    page = client.get(f"/dev/phones/{DANA_MOBILE}").get_data(as_text=True)
    assert "The inbound webhook answered 401: bad signature" in page


def test_an_empty_reply_is_not_sent(crm: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    captured = Captured()
    monkeypatch.setattr("example_app.simulator.requests.post", captured)
    crm.test_client().post(f"/dev/phones/{DANA_MOBILE}/reply", data={"text": "   "})
    assert captured.calls == []


def test_without_a_signing_key_the_phone_says_what_to_set(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = build_crm(database_url, WTF_CSRF_ENABLED=False, ITMS_MESSAGEBIRD_SIGNING_KEY="")
    try:
        captured = Captured()
        monkeypatch.setattr("example_app.simulator.requests.post", captured)
        client = app.test_client()
        client.post(f"/dev/phones/{DANA_MOBILE}/reply", data={"text": "YES"})
        assert "Set ITMS_MESSAGEBIRD_SIGNING_KEY" in client.get(f"/dev/phones/{DANA_MOBILE}").get_data(as_text=True)
        assert captured.calls == []
    finally:
        dispose(app)


def test_the_index_lists_account_numbers_and_unknown_numbers_that_texted_in(crm: Flask) -> None:
    with crm.app_context():
        itms.handle_inbound("+14155550199", "+18005550100", "Hello?", provider_message_id="in-1")
        db.session.commit()
    page = crm.test_client().get("/dev/phones/").get_data(as_text=True)
    listed = re.findall(r'href="/dev/phones/(\+\d+)"', page)
    assert listed == ["+12015550123", "+12015550147", "+13125550188", "+14155550199"]


def test_open_any_number(crm: Flask) -> None:
    client = crm.test_client()
    response = client.post("/dev/phones/", data={"number": "(415) 555-0199"})
    assert response.location == "/dev/phones/+14155550199"
    client.post("/dev/phones/", data={"number": "12"})
    assert "is not a valid phone number" in client.get("/dev/phones/").get_data(as_text=True)
