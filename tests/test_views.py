"""The phone panel and its actions, through the Flask test client with CSRF on."""

from __future__ import annotations

import re
import typing as t
from html import unescape

import jinja2
import pytest
from browser.host import csrf_token, install_host
from flask import Flask, get_flashed_messages, render_template_string
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS, ConsentStatus

PHONE = "+12015550123"
OUR_NUMBER = "+18005550100"
HOST_PAGE = f"/accounts/ACCT-1001/phones/{PHONE}"
ACTION = f"/itms/phones/{PHONE}"


@pytest.fixture
def client(app: Flask, itms: ITMS) -> FlaskClient:
    install_host(app, itms)
    return app.test_client()


def sign_in(client: FlaskClient, user: str) -> None:
    client.get(f"/login/{user}")


def host_page(client: FlaskClient) -> str:
    response = client.get(HOST_PAGE)
    assert response.status_code == 200
    return response.text


def panel_of(html: str) -> str:
    """The first panel's HTML, nested sections and all."""
    start = html.index('<section class="itms-panel')
    depth = 0
    for tag in re.finditer(r"<(/?)section\b", html[start:]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return unescape(html[start : start + tag.end()])
    raise AssertionError("the panel is not closed")


def post(client: FlaskClient, action: str, **data: str) -> t.Any:
    token = csrf_token(host_page(client))
    return client.post(f"{ACTION}/{action}", data={"csrf_token": token, "next": HOST_PAGE, **data})


def consumer_texts(itms: ITMS, db: SQLAlchemy, text: str, message_id: str) -> None:
    itms.handle_inbound(PHONE, OUR_NUMBER, text, provider_message_id=message_id)
    db.session.commit()


def pin_from(sent: t.Any) -> str:
    match = re.search(r"\b(\d{6})\b", sent.texts_to(PHONE)[-1])
    assert match is not None
    return match.group(1)


# -- what the panel shows ----------------------------------------------------------------


def test_panel_offers_the_source_documents_controls_to_an_agent(client: FlaskClient) -> None:
    sign_in(client, "alice")
    panel = panel_of(host_page(client))

    assert "Not opted in" in panel
    for label in ("Send Opt In Request", "Quick Opt In", "Opt Out", "Confirm Opt Out"):
        assert f">{label}<" in panel
    assert "Txt Msg Auth Code" not in panel  # no PIN is awaited yet
    forms = re.findall(r"<form [^>]*>", panel)
    assert forms and all('method="post"' in form for form in forms)
    assert panel.count('name="csrf_token"') == len(forms)
    assert f'name="next" value="{HOST_PAGE}"' in panel


def test_panel_shows_status_method_actor_time_and_both_directions(
    client: FlaskClient, itms: ITMS, db: SQLAlchemy
) -> None:
    sign_in(client, "alice")
    assert post(client, "opt-in-request").status_code == 303
    consumer_texts(itms, db, "YES", "in-1")

    panel = panel_of(host_page(client))

    assert "Awaiting auth code" in panel
    assert "Method: Send Opt In Request" in panel
    assert "by the consumer" in panel
    assert 'datetime="2026-06-02T16:00:00+00:00"' in panel
    assert "Jun 2, 2026 16:00 UTC" in panel
    assert "From consumer" in panel and "To consumer" in panel
    assert ">Received<" in panel and ">Sent<" in panel
    assert "Txt Msg Auth Code" in panel and ">Submit<" in panel


def test_panel_masks_the_pin_it_sent(client: FlaskClient, itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    sign_in(client, "alice")
    post(client, "opt-in-request")
    consumer_texts(itms, db, "YES", "in-1")

    html = host_page(client)

    assert pin_from(sent) not in html
    assert "your opt-in PIN is ••••••" in html


def test_panel_masks_a_pin_still_waiting_in_the_outbox(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_SEND_MODE="worker")
    state = app.extensions["itms"]
    install_host(app, state.itms)
    client = app.test_client()
    sign_in(client, "alice")
    post(client, "opt-in-request")
    with app.app_context():
        consumer_texts(state.itms, state.db, "YES", "in-1")
        queued = state.itms.messages(PHONE)[-1]
        pin = re.search(r"\b\d{6}\b", queued.body).group()  # type: ignore[union-attr]

    html = host_page(client)

    assert pin not in html
    assert "your opt-in PIN is ••••••" in html


def test_panel_with_no_role_checker_names_the_fix(app: Flask, db: SQLAlchemy) -> None:
    with app.test_request_context("/"):
        html = render_template_string("{{ itms_phone_panel(phone) }}", phone=PHONE)
    assert "@itms.role_checker" in html
    assert "<form" not in html


def test_panel_for_someone_without_a_role_shows_nothing_of_the_number(
    client: FlaskClient, itms: ITMS, db: SQLAlchemy
) -> None:
    consumer_texts(itms, db, "hello", "in-1")
    sign_in(client, "vic")
    panel = panel_of(host_page(client))
    assert "no texting role" in panel
    assert "hello" not in panel and "<form" not in panel


def test_panel_for_an_invalid_number_does_not_break_the_host_page(client: FlaskClient) -> None:
    sign_in(client, "alice")
    response = client.get("/accounts/ACCT-1001/phones/12")
    assert response.status_code == 200
    assert "is not a" in panel_of(response.text)


def test_supervisor_without_agent_role_sees_the_panel_but_no_agent_controls(client: FlaskClient) -> None:
    sign_in(client, "sam")
    panel = panel_of(host_page(client))
    assert "Not opted in" in panel
    assert "Send Opt In Request" not in panel and "<form" not in panel
    assert "itms-controls" not in panel


def test_assets_come_once_for_two_panels(app: Flask, client: FlaskClient) -> None:
    sign_in(client, "alice")
    with app.test_request_context("/"):
        from flask import session

        session["user"] = "alice"
        html = render_template_string(
            "{{ itms_assets() }}{{ itms_phone_panel(a) }}{{ itms_phone_panel(b) }}", a=PHONE, b="+12015550124"
        )
    assert html.count("itms.css") == 1 and html.count("itms.js") == 1
    assert 'id="itms-panel-12015550123"' in html and 'id="itms-panel-12015550124"' in html


def test_macro_renders_the_same_panel(app: Flask, client: FlaskClient) -> None:
    with app.test_request_context("/"):
        from flask import session

        session["user"] = "alice"
        html = render_template_string(
            '{% from "itms/macros.html" import phone_panel %}{{ phone_panel(phone, "ACCT-9") }}', phone=PHONE
        )
    assert "Send Opt In Request" in html and "Account ACCT-9" in html


def test_host_can_override_the_panel_template(app: Flask, client: FlaskClient) -> None:
    app.jinja_loader = jinja2.DictLoader({"itms/_panel.html": "<div id=custom>{{ view.status_label }}</div>"})
    sign_in(client, "alice")
    assert "<div id=custom>Not opted in</div>" in host_page(client)


# -- the actions: POST, commit, redirect back ---------------------------------------------


def test_send_opt_in_request_redirects_back_and_records_the_actor(client: FlaskClient, itms: ITMS, sent: t.Any) -> None:
    sign_in(client, "alice")
    response = post(client, "opt-in-request", account="ACCT-1001")

    assert response.status_code == 303
    assert response.headers["Location"] == HOST_PAGE
    assert itms.status(PHONE) is ConsentStatus.PENDING
    consent = itms.consent(PHONE)
    assert (consent.method, consent.account, consent.updated_by) == ("agent", "ACCT-1001", "alice")
    assert itms.events(PHONE)[-1].actor == "alice"
    assert sent.texts_to(PHONE) == [
        "Reply YES to receive msgs from Acme Recovery. Reply HELP for help, STOP to cancel. Std. msg&data rates apply."
    ]


def test_the_notice_shows_once_inside_the_panel_and_not_in_the_hosts_flashes(app: Flask, client: FlaskClient) -> None:
    sign_in(client, "alice")
    post(client, "opt-in-request")

    first = panel_of(host_page(client))
    assert "Opt-in request sent." in first
    assert "Opt-in request sent." not in panel_of(host_page(client))
    with client.session_transaction() as session:
        assert "_flashes" not in session
    with app.test_request_context("/"):
        assert get_flashed_messages() == []


def test_quick_opt_in_then_yes_opts_in(client: FlaskClient, itms: ITMS, db: SQLAlchemy) -> None:
    sign_in(client, "alice")
    post(client, "quick-opt-in")
    assert itms.consent(PHONE).method == "quick"
    consumer_texts(itms, db, "yes", "in-1")
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN
    assert "Opted in" in panel_of(host_page(client))


def test_wrong_pin_is_a_friendly_notice_and_the_attempt_stays_counted(
    client: FlaskClient, itms: ITMS, db: SQLAlchemy, sent: t.Any
) -> None:
    sign_in(client, "alice")
    post(client, "opt-in-request")
    consumer_texts(itms, db, "YES", "in-1")
    wrong = "000000" if pin_from(sent) != "000000" else "111111"

    response = post(client, "auth-code", code=wrong)

    assert response.status_code == 303
    db.session.expire_all()
    assert itms.consent(PHONE).auth_code_attempts == 1
    assert itms.status(PHONE) is ConsentStatus.AWAITING_CODE
    assert "That is not the auth code" in panel_of(host_page(client))


def test_right_pin_opts_in_with_the_agent_on_the_event(
    client: FlaskClient, itms: ITMS, db: SQLAlchemy, sent: t.Any
) -> None:
    sign_in(client, "alice")
    post(client, "opt-in-request")
    consumer_texts(itms, db, "YES", "in-1")

    post(client, "auth-code", code=f" {pin_from(sent)} ")

    assert itms.status(PHONE) is ConsentStatus.OPTED_IN
    event = itms.events(PHONE)[-1]
    assert (event.action, event.actor) == ("auth_code_entered", "alice")
    assert "Auth code accepted" in panel_of(host_page(client))


def test_a_pin_that_is_not_digits_is_refused_without_counting(client: FlaskClient, itms: ITMS, db: SQLAlchemy) -> None:
    sign_in(client, "alice")
    post(client, "opt-in-request")
    consumer_texts(itms, db, "YES", "in-1")

    post(client, "auth-code", code="12ab56")

    db.session.expire_all()
    assert itms.consent(PHONE).auth_code_attempts == 0
    assert "digits only" in panel_of(host_page(client))


def test_opt_out_needs_its_confirmation(client: FlaskClient, itms: ITMS, sent: t.Any) -> None:
    sign_in(client, "alice")
    post(client, "opt-out")
    assert itms.status(PHONE) is ConsentStatus.NONE
    assert "Confirm the opt-out first." in panel_of(host_page(client))

    post(client, "opt-out", confirm="yes")

    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
    assert sent.texts_to(PHONE) == ["Acme Recovery: You are opted out and will receive no more msgs from us."]
    panel = panel_of(host_page(client))
    assert "Method: Agent Opt Out. Last change by alice" in panel
    assert "Only the consumer can opt back in, by texting START." in panel
    assert "<form" not in panel


def test_service_refusals_are_notices_not_errors(client: FlaskClient, itms: ITMS, sent: t.Any) -> None:
    sign_in(client, "alice")
    post(client, "opt-out", confirm="yes")

    response = post(client, "opt-in-request")

    assert response.status_code == 303
    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
    assert "has opted out" in panel_of(host_page(client))
    assert len(sent.texts_to(PHONE)) == 1  # the opt-out confirmation only


def test_a_review_hold_shows_the_text_and_its_two_choices(client: FlaskClient, itms: ITMS, db: SQLAlchemy) -> None:
    sign_in(client, "alice")
    post(client, "quick-opt-in")
    consumer_texts(itms, db, "YES", "in-1")
    consumer_texts(itms, db, "Please stop texting me at work", "in-2")

    panel = panel_of(host_page(client))

    assert "On hold" in panel
    assert "Review the consumer's reply" in panel
    assert "Please stop texting me at work" in panel
    assert ">Opt Out<" in panel and ">Clear hold<" in panel
    assert "Send Opt In Request" not in panel


def test_a_hold_blocks_texting_actions_until_decided(
    client: FlaskClient, itms: ITMS, db: SQLAlchemy, sent: t.Any
) -> None:
    sign_in(client, "alice")
    post(client, "opt-in-request")
    consumer_texts(itms, db, "can you stop calling my mother", "in-1")
    before = len(sent.sent)

    post(client, "opt-in-request")

    assert itms.consent(PHONE).on_hold
    assert len(sent.sent) == before
    assert "This number is on hold" in panel_of(host_page(client))

    post(client, "clear-hold")
    assert not itms.consent(PHONE).on_hold
    assert itms.events(PHONE)[-1].actor == "alice"


# -- CSRF, redirects, roles ---------------------------------------------------------------


def test_a_post_without_csrf_token_changes_nothing(client: FlaskClient, itms: ITMS, sent: t.Any) -> None:
    sign_in(client, "alice")
    response = client.post(f"{ACTION}/opt-in-request", data={"next": HOST_PAGE})

    assert response.status_code == 303
    assert itms.status(PHONE) is ConsentStatus.NONE
    assert sent.sent == []
    assert "reload the page" in panel_of(host_page(client))


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example",
        "javascript:alert(1)",
        "http://localhost.evil.example/",
        "\t//evil.example",
        "evil.example/relative",
    ],
)
def test_open_redirects_are_refused(client: FlaskClient, target: str) -> None:
    sign_in(client, "alice")
    token = csrf_token(host_page(client))
    response = client.post(f"{ACTION}/quick-opt-in", data={"csrf_token": token, "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/itms/phones/{PHONE}"


def test_same_origin_next_and_referrer_are_followed(client: FlaskClient) -> None:
    sign_in(client, "alice")
    token = csrf_token(host_page(client))
    absolute = f"http://localhost{HOST_PAGE}?tab=phones"
    response = client.post(f"{ACTION}/quick-opt-in", data={"csrf_token": token, "next": absolute})
    assert response.headers["Location"] == absolute

    response = client.post(
        f"{ACTION}/quick-opt-in", data={"csrf_token": token}, headers={"Referer": f"http://localhost{HOST_PAGE}"}
    )
    assert response.headers["Location"] == f"http://localhost{HOST_PAGE}"

    response = client.post(
        f"{ACTION}/quick-opt-in", data={"csrf_token": token}, headers={"Referer": "https://evil.example/"}
    )
    assert response.headers["Location"] == f"/itms/phones/{PHONE}"


@pytest.mark.parametrize("action", ["opt-in-request", "quick-opt-in", "auth-code", "opt-out", "clear-hold"])
def test_every_action_is_refused_without_a_role_checker(app: Flask, itms: ITMS, action: str) -> None:
    client = app.test_client()
    response = client.post(f"{ACTION}/{action}", data={"confirm": "yes", "code": "123456"})
    assert response.status_code == 403
    assert "@itms.role_checker" in response.text
    assert itms.status(PHONE) is ConsentStatus.NONE


@pytest.mark.parametrize("user", ["vic", "sam", "eddie"])
def test_agent_actions_need_the_agent_role(client: FlaskClient, itms: ITMS, user: str) -> None:
    sign_in(client, "alice")
    token = csrf_token(host_page(client))
    sign_in(client, user)
    response = client.post(f"{ACTION}/opt-in-request", data={"csrf_token": token})
    assert response.status_code == 403
    assert '"agent" role' in unescape(response.text)
    assert itms.status(PHONE) is ConsentStatus.NONE


def test_the_panels_own_page(client: FlaskClient) -> None:
    sign_in(client, "alice")
    response = client.get(f"/itms/phones/{PHONE}")
    assert response.status_code == 200
    assert "<title>Text messaging · +12015550123</title>" in response.text
    assert "Send Opt In Request" in response.text

    assert client.get("/itms/phones/not-a-number").status_code == 400
    sign_in(client, "vic")
    assert client.get(f"/itms/phones/{PHONE}").status_code == 403


# -- the script's path: the panel comes back in place of a redirect --------------------------


def test_partial_answer_is_the_refreshed_panel(client: FlaskClient, itms: ITMS) -> None:
    sign_in(client, "alice")
    token = csrf_token(host_page(client))
    response = client.post(
        f"{ACTION}/quick-opt-in",
        data={"csrf_token": token, "next": HOST_PAGE},
        headers={"X-ITMS-Partial": "panel"},
    )
    assert response.status_code == 200
    assert response.headers["X-ITMS-Fragment"] == "panel"
    assert "Opt-in requested" in response.text and "Quick Opt In sent." in response.text
    assert "itms.css" not in response.text  # the page already has the assets
    assert f'name="next" value="{HOST_PAGE}"' in response.text
    # Shown in the answer, so not kept for the next page.
    assert "Quick Opt In sent." not in host_page(client)


def test_partial_answer_for_a_refusal_keeps_its_status(client: FlaskClient, itms: ITMS) -> None:
    sign_in(client, "alice")
    post(client, "opt-out", confirm="yes")
    token = csrf_token(host_page(client))
    response = client.post(f"{ACTION}/quick-opt-in", data={"csrf_token": token}, headers={"X-ITMS-Partial": "panel"})
    assert response.status_code == 409
    assert response.headers["X-ITMS-Fragment"] == "panel"
    assert "has opted out" in response.text

    sign_in(client, "vic")
    response = client.post(f"{ACTION}/quick-opt-in", data={"csrf_token": token}, headers={"X-ITMS-Partial": "panel"})
    assert response.status_code == 403
    assert '"agent" role' in unescape(response.text)


def test_panel_and_api_work_under_an_app_wide_csrf_protect(make_app: t.Callable[..., Flask]) -> None:
    from flask_wtf.csrf import CSRFProtect

    app = make_app()
    CSRFProtect(app)
    itms = app.extensions["itms"].itms
    install_host(app, itms)
    client = app.test_client()
    sign_in(client, "alice")
    token = csrf_token(host_page(client))

    response = client.post(f"{ACTION}/quick-opt-in", data={"csrf_token": token, "next": HOST_PAGE})
    assert response.status_code == 303
    response = client.post(f"/itms/api/phones/{PHONE}/opt-out", json={}, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert client.post(f"{ACTION}/clear-hold", data={}).status_code == 400  # CSRFProtect's own refusal
    with app.app_context():
        assert itms.status(PHONE) is ConsentStatus.OPTED_OUT


def test_the_readmes_layout_override_puts_the_pages_in_the_hosts_layout(app: Flask, client: FlaskClient) -> None:
    app.jinja_loader = jinja2.DictLoader(
        {
            "base.html": (
                "<html><head><title>CRM · {% block title %}{% endblock %}</title>{% block head %}{% endblock %}"
                "</head><body><nav>CRM menu</nav>{% block content %}{% endblock %}</body></html>"
            ),
            "itms/layout.html": (
                '{% extends "base.html" %}'
                "{% block title %}{% block itms_title %}{% endblock %}{% endblock %}"
                "{% block head %}{{ super() }}{{ itms_assets() }}{% endblock %}"
                "{% block content %}{% block itms_content %}{% endblock %}{% endblock %}"
            ),
        }
    )
    sign_in(client, "alice")
    html = client.get("/itms/templates").text
    assert "<title>CRM · Text Msg Profile · Text messaging</title>" in html
    assert "<nav>CRM menu</nav>" in html and "ACE_SYSTEM_MSG_OPT_IN" in html
    assert html.count("itms.css") == 1
