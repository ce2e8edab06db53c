"""The JSON API: the panel's data and actions for host front-ends, with roles and CSRF."""

from __future__ import annotations

import itertools
import re
import typing as t

import pytest
from browser.host import csrf_token, install_host
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS, ConsentStatus

PHONE = "+12015550123"
API = f"/itms/api/phones/{PHONE}"
OUR_NUMBER = "+18005550100"
_ids = itertools.count()


@pytest.fixture
def client(app: Flask, itms: ITMS) -> FlaskClient:
    install_host(app, itms)
    return app.test_client()


def sign_in(client: FlaskClient, user: str) -> str:
    """Sign in and return the session's CSRF token, as a host page would expose it."""
    client.get(f"/login/{user}")
    return csrf_token(client.get(f"/accounts/ACCT-1001/phones/{PHONE}").text)


def call(client: FlaskClient, action: str, token: str | None, body: t.Any = None, phone: str = PHONE) -> t.Any:
    headers = {"X-CSRFToken": token} if token else {}
    return client.post(f"/itms/api/phones/{phone}/{action}", json=body, headers=headers)


def consumer_texts(itms: ITMS, db: SQLAlchemy, text: str, phone: str = PHONE) -> None:
    itms.handle_inbound(phone, OUR_NUMBER, text, provider_message_id=f"in-{next(_ids)}")
    db.session.commit()


def test_get_answers_consent_texts_events_and_allowed_actions(client: FlaskClient, itms: ITMS, db: SQLAlchemy) -> None:
    token = sign_in(client, "alice")
    call(client, "opt-in-request", token, {"account": "ACCT-1001"})
    consumer_texts(itms, db, "YES")

    response = client.get(API)

    assert response.status_code == 200
    data = response.get_json()
    assert data["phone"] == PHONE
    assert (data["status"], data["method"], data["account"]) == ("awaiting_code", "agent", "ACCT-1001")
    assert data["on_hold"] is False and data["can_text"] is False
    assert data["updated_at"] == "2026-06-02T16:00:00+00:00"
    assert [m["direction"] for m in data["messages"]] == ["outbound", "inbound", "outbound"]
    assert data["messages"][0]["status"] == "sent"
    assert [e["action"] for e in data["events"]] == ["agent_opt_in_request", "yes"]
    assert data["events"][0]["actor"] == "alice"
    assert data["actions"] == ["auth-code", "opt-in-request", "opt-out", "quick-opt-in"]


def test_the_pin_never_leaves_the_server(client: FlaskClient, itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    token = sign_in(client, "alice")
    call(client, "opt-in-request", token)
    consumer_texts(itms, db, "YES")
    pin = re.search(r"\b\d{6}\b", sent.texts_to(PHONE)[-1]).group()  # type: ignore[union-attr]

    body = client.get(API).get_data(as_text=True)

    assert pin not in body
    assert "your opt-in PIN is ••••••" in client.get(API).get_json()["messages"][-1]["body"]


def test_a_queued_pin_is_masked_too(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_SEND_MODE="worker")
    state = app.extensions["itms"]
    install_host(app, state.itms)
    client = app.test_client()
    token = sign_in(client, "alice")
    call(client, "opt-in-request", token)
    with app.app_context():
        consumer_texts(state.itms, state.db, "YES")
        pin = re.search(r"\b\d{6}\b", state.itms.messages(PHONE)[-1].body).group()  # type: ignore[union-attr]

    assert pin not in client.get(API).get_data(as_text=True)


def test_post_without_csrf_header_is_refused_and_changes_nothing(client: FlaskClient, itms: ITMS) -> None:
    sign_in(client, "alice")
    response = call(client, "quick-opt-in", None)
    assert response.status_code == 400
    assert "X-CSRFToken" in response.get_json()["error"]
    assert call(client, "quick-opt-in", "not-a-token").status_code == 400
    assert itms.status(PHONE) is ConsentStatus.NONE


def test_bearer_clients_carry_no_ambient_credentials_and_skip_csrf(client: FlaskClient, itms: ITMS) -> None:
    sign_in(client, "alice")  # the role checker still decides, from the session here
    response = client.post(f"{API}/quick-opt-in", json={}, headers={"Authorization": "Bearer abc"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "pending"


def test_csrf_can_be_switched_off_with_flask_wtf_setting(app: Flask, client: FlaskClient, itms: ITMS) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    sign_in(client, "alice")
    assert call(client, "opt-in-request", None).status_code == 200


def test_actions_mirror_the_panel(client: FlaskClient, itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    token = sign_in(client, "alice")

    assert call(client, "opt-in-request", token).get_json()["status"] == "pending"
    consumer_texts(itms, db, "YES")
    pin = re.search(r"\b\d{6}\b", sent.texts_to(PHONE)[-1]).group()  # type: ignore[union-attr]
    answer = call(client, "auth-code", token, {"code": pin}).get_json()
    assert (answer["status"], answer["can_text"]) == ("opted_in", True)
    consumer_texts(itms, db, "please stop texting me")
    assert client.get(API).get_json()["actions"] == ["clear-hold", "opt-out"]
    assert call(client, "clear-hold", token).get_json()["on_hold"] is False
    answer = call(client, "opt-out", token, {"reason": "asked on the phone"}).get_json()
    assert answer["status"] == "opted_out" and answer["actions"] == []
    assert itms.events(PHONE)[-1].reason == "asked on the phone"
    assert all(event.actor == "alice" for event in itms.events(PHONE) if event.source == "agent")


def test_wrong_pin_is_400_and_the_attempt_stays_counted(
    client: FlaskClient, itms: ITMS, db: SQLAlchemy, sent: t.Any
) -> None:
    token = sign_in(client, "alice")
    call(client, "opt-in-request", token)
    consumer_texts(itms, db, "YES")
    pin = re.search(r"\b\d{6}\b", sent.texts_to(PHONE)[-1]).group()  # type: ignore[union-attr]

    response = call(client, "auth-code", token, {"code": "000000" if pin != "000000" else "111111"})

    assert response.status_code == 400
    assert "4 tries left" in response.get_json()["error"]
    db.session.expire_all()
    assert itms.consent(PHONE).auth_code_attempts == 1


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("auth-code", {}, "code"),
        ("auth-code", {"code": "12ab"}, "code"),
        ("opt-in-request", {"account": "A", "admin": True}, "admin"),
        ("clear-hold", {"force": 1}, "force"),
        ("opt-out", {"reason": "x" * 501}, "reason"),
    ],
)
def test_invalid_or_unknown_fields_are_400(
    client: FlaskClient, itms: ITMS, action: str, body: dict[str, t.Any], field: str
) -> None:
    token = sign_in(client, "alice")
    response = call(client, action, token, body)
    assert response.status_code == 400
    assert field in response.get_json()["fields"]
    assert itms.status(PHONE) is ConsentStatus.NONE


def test_a_body_that_is_not_a_json_object_is_400(client: FlaskClient) -> None:
    token = sign_in(client, "alice")
    response = client.post(f"{API}/opt-out", data="reason=x", headers={"X-CSRFToken": token})
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]
    assert call(client, "opt-out", token, ["x"]).status_code == 400


def test_state_refusals_are_409_with_the_services_message(client: FlaskClient, itms: ITMS, sent: t.Any) -> None:
    token = sign_in(client, "alice")
    call(client, "opt-out", token)

    response = call(client, "opt-in-request", token)

    assert response.status_code == 409
    assert "has opted out" in response.get_json()["error"]
    assert call(client, "opt-out", token).status_code == 409
    assert len(sent.texts_to(PHONE)) == 1


def test_a_hold_blocks_texting_actions(client: FlaskClient, itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    token = sign_in(client, "alice")
    call(client, "opt-in-request", token)
    consumer_texts(itms, db, "don't text me")
    before = len(sent.sent)

    response = call(client, "quick-opt-in", token)

    assert response.status_code == 409 and "on hold" in response.get_json()["error"]
    assert len(sent.sent) == before


def test_invalid_phone_is_400(client: FlaskClient) -> None:
    sign_in(client, "alice")
    response = client.get("/itms/api/phones/12")
    assert response.status_code == 400
    assert "not a" in response.get_json()["error"]


def test_no_role_checker_refuses_everything_with_the_fix(app: Flask, itms: ITMS) -> None:
    client = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False
    for response in (client.get(API), client.post(f"{API}/quick-opt-in", json={})):
        assert response.status_code == 403
        assert "@itms.role_checker" in response.get_json()["error"]
    assert itms.status(PHONE) is ConsentStatus.NONE


@pytest.mark.parametrize(("user", "status"), [("vic", 403), ("sam", 200), ("eddie", 200)])
def test_reading_needs_any_role(client: FlaskClient, user: str, status: int) -> None:
    sign_in(client, user)
    assert client.get(API).status_code == status


def test_actions_need_the_agent_role(client: FlaskClient, itms: ITMS) -> None:
    token = sign_in(client, "sam")
    response = call(client, "quick-opt-in", token)
    assert response.status_code == 403
    assert response.get_json() == {"error": 'This needs the "agent" role. Ask an administrator to grant it to you.'}
    assert client.get(API).get_json()["actions"] == ["link"]


def test_supervisor_links_through_the_api(client: FlaskClient, itms: ITMS, db: SQLAlchemy) -> None:
    unknown = "+12015550188"
    consumer_texts(itms, db, "hello", phone=unknown)
    token = sign_in(client, "sam")

    assert call(client, "link", token, {"account": "ACCT-9999"}, phone=unknown).status_code == 409
    response = call(client, "link", token, {"account": "ACCT-2002"}, phone=unknown)

    assert response.status_code == 200
    data = response.get_json()
    assert (data["status"], data["method"], data["account"]) == ("pending", "supervisor", "ACCT-2002")
    token = sign_in(client, "alice")
    assert call(client, "link", token, {"account": "ACCT-2002"}, phone="+12015550199").status_code == 403
