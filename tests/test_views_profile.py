"""The Text Msg Profile page: agents view, editors change, and the system-template rules hold."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from browser.host import csrf_token, install_host
from flask import Flask
from flask.testing import FlaskClient

from flask_itms import ITMS
from flask_itms.messages import SYSTEM_TEMPLATES

OPT_IN = "ACE_SYSTEM_MSG_OPT_IN"
OPT_IN_BODY = SYSTEM_TEMPLATES[OPT_IN].body


@pytest.fixture
def client(app: Flask, itms: ITMS) -> FlaskClient:
    install_host(app, itms)
    return app.test_client()


def sign_in(client: FlaskClient, user: str) -> str:
    """Sign in and return the session's CSRF token."""
    client.get(f"/login/{user}")
    return csrf_token(client.get("/accounts/ACCT-1001/phones/+12015550123").text)


def page(client: FlaskClient, path: str = "/itms/templates") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return unescape(response.text)


def card(html: str, identifier: str) -> str:
    start = html.index(f'id="itms-template-{identifier}"')
    return html[start : html.index("</article>", start)]


def save(client: FlaskClient, token: str, identifier: str, **fields: str) -> tuple[int, str]:
    data = {"csrf_token": token, "allow_as_payment_source": "y", **fields}
    response = client.post(f"/itms/templates/{identifier}", data=data)
    return response.status_code, unescape(response.text)


def test_agents_see_every_system_template_with_its_facts(client: FlaskClient) -> None:
    sign_in(client, "alice")
    html = page(client)

    for identifier, definition in SYSTEM_TEMPLATES.items():
        shown = card(html, identifier)
        assert identifier in shown and definition.label in shown and definition.use_case in shown
        assert definition.body in shown
        assert "Allow as payment source</dt><dd>Yes" in shown
        assert "Encoding</dt><dd>GSM-7" in shown
    # The opt-in request as sent to Acme Recovery: 109 GSM-7 characters, one segment.
    assert "Segments</dt><dd>1 (109 characters as sent)" in card(html, OPT_IN)
    assert (
        html.index("ACE_SYSTEM_MSG_OPT_IN") < html.index("ACE_SYSTEM_MSG_OPTED_IN") < html.index("ACE_SYSTEM_MSG_HELP")
    )
    assert "Rules for system templates" in html
    assert "cannot be picked by an agent, cloned or deleted" in html


def test_agents_only_view(client: FlaskClient, itms: ITMS) -> None:
    itms.update_template(OPT_IN, mms_url="https://cdn.example/logo.png", actor="eddie")
    itms.db.session.commit()
    sign_in(client, "alice")

    listing = page(client)
    one = page(client, f"/itms/templates/{OPT_IN}")

    for html in (listing, one):
        assert "<form" not in html and "<textarea" not in html
        assert "MMS attachment</dt>" not in html and "MMS attachment URL" not in html
        assert "cdn.example" not in html
    assert ">View<" in listing and ">Edit<" not in listing and "New agent template" not in listing
    assert "changing them needs the editor role" in listing


def test_editors_see_the_mms_attachment(client: FlaskClient, itms: ITMS) -> None:
    itms.update_template(OPT_IN, mms_url="https://cdn.example/logo.png", actor="eddie")
    itms.db.session.commit()
    sign_in(client, "eddie")
    assert "https://cdn.example/logo.png" in card(page(client), OPT_IN)
    assert 'value="https://cdn.example/logo.png"' in page(client, f"/itms/templates/{OPT_IN}")


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/itms/templates/new-template", {}),
        ("post", "/itms/templates/new-template", {"identifier": "PAY_LINK", "body": "Pay here"}),
        ("post", f"/itms/templates/{OPT_IN}", {"body": "Reply YES. STOP to cancel."}),
        ("post", f"/itms/templates/{OPT_IN}", {"body": OPT_IN_BODY, "mms_url": "https://evil.example/x.png"}),
        ("post", "/itms/templates/REMINDER/clone", {"new_identifier": "REMINDER_2"}),
        ("post", "/itms/templates/REMINDER/delete", {"confirm": "yes"}),
    ],
)
def test_agents_are_refused_what_only_editors_may_do(
    client: FlaskClient, itms: ITMS, method: str, path: str, data: dict[str, str]
) -> None:
    itms.create_template("REMINDER", label="Reminder", body="Your payment is due. Reply STOP to opt out.")
    itms.db.session.commit()
    token = sign_in(client, "alice")

    response = getattr(client, method)(path, data={"csrf_token": token, **data})

    assert response.status_code == 403
    assert 'This needs the "editor" role' in unescape(response.text)
    assert itms.template(OPT_IN).body == OPT_IN_BODY and itms.template(OPT_IN).mms_url is None
    assert [t.identifier for t in itms.selectable_templates()] == ["REMINDER"]


def test_profile_without_a_role_checker_names_the_fix(app: Flask) -> None:
    response = app.test_client().get("/itms/templates")
    assert response.status_code == 403
    assert "@itms.role_checker" in response.text


def test_editor_changes_a_system_body(client: FlaskClient, itms: ITMS) -> None:
    token = sign_in(client, "eddie")
    body = "Reply YES for texts from ${customer.companyName} about your account. HELP for help, STOP to cancel."

    status, _ = save(client, token, OPT_IN, body=body, label="Hijacked label")

    assert status == 303
    template = itms.template(OPT_IN)
    assert template.body == body
    assert template.label == "Ace System Msg Opt In"  # a system template keeps its label
    assert f"{OPT_IN} saved." in page(client)


def test_unknown_placeholder_is_refused_with_the_editors_text_kept(client: FlaskClient, itms: ITMS) -> None:
    token = sign_in(client, "eddie")

    status, html = save(client, token, OPT_IN, body="Hi ${customer.firstName}, reply YES. STOP to cancel.")

    assert status == 400
    assert "Unknown placeholder ${customer.firstName}." in html
    assert "Hi ${customer.firstName}, reply YES." in html  # still in the textarea
    assert 'aria-invalid="true"' in html
    assert itms.template(OPT_IN).body == OPT_IN_BODY


def test_editor_sets_a_system_templates_mms(client: FlaskClient, itms: ITMS) -> None:
    token = sign_in(client, "eddie")
    save(client, token, OPT_IN, body=OPT_IN_BODY, mms_url="https://cdn.example/card.png")
    assert itms.template(OPT_IN).mms_url == "https://cdn.example/card.png"

    status, html = save(client, token, OPT_IN, body=OPT_IN_BODY, mms_url="not a url")
    assert status == 400 and "full http(s) address" in html
    assert itms.template(OPT_IN).mms_url == "https://cdn.example/card.png"


def test_segment_counts_follow_the_encoding(client: FlaskClient, itms: ITMS) -> None:
    itms.create_template("EMOJI", label="Emoji", body="Thanks for your payment 🙏 Reply STOP to opt out.")
    itms.create_template("LONG", label="Long", body="${customer.companyName} " + "x" * 150)
    itms.db.session.commit()
    sign_in(client, "alice")
    html = page(client)

    assert "Encoding</dt><dd>UCS-2" in card(html, "EMOJI")
    # The emoji takes two UTF-16 code units: 49 in all.
    assert "Segments</dt><dd>1 (49 characters as sent)" in card(html, "EMOJI")
    # "Acme Recovery " is 14 characters: 164 in all, past one GSM-7 segment.
    assert "Segments</dt><dd>2 (164 characters as sent)" in card(html, "LONG")


def test_the_editor_page_carries_what_the_live_count_needs(client: FlaskClient) -> None:
    sign_in(client, "eddie")
    html = client.get("/itms/templates/ACE_SYSTEM_MSG_AUTH_CODE").text

    samples = json.loads(unescape(re.search(r'data-itms-samples="([^"]*)"', html).group(1)))  # type: ignore[union-attr]
    assert samples["customer.companyName"] == "Acme Recovery"
    assert samples["authCode"] == "000000"
    assert (
        '<output id="itms-body-count" for="itms-body" aria-live="polite">GSM-7 · 1 segment · 96 characters</output>'
        in html
    )
    assert '<label class="itms-label" for="itms-body">Body</label>' in html


def test_editor_creates_clones_and_deletes_agent_templates(client: FlaskClient, itms: ITMS) -> None:
    token = sign_in(client, "eddie")
    assert "New agent template" in page(client)

    response = client.post(
        "/itms/templates/new-template",
        data={
            "csrf_token": token,
            "identifier": "PAY_REMINDER",
            "label": "Payment reminder",
            "use_case": "A friendly nudge before the due date.",
            "body": "${customer.companyName}: your payment is due Friday.",
            "mms_url": "",
        },
    )
    assert response.status_code == 303
    created = itms.template("PAY_REMINDER")
    assert (created.label, created.system, created.allow_as_payment_source) == ("Payment reminder", False, False)

    response = client.post(
        "/itms/templates/PAY_REMINDER/clone", data={"csrf_token": token, "new_identifier": "PAY_REMINDER_2"}
    )
    assert response.headers["Location"] == "/itms/templates/PAY_REMINDER_2"
    assert itms.template("PAY_REMINDER_2").body == created.body

    client.post("/itms/templates/PAY_REMINDER/delete", data={"csrf_token": token})
    assert "Confirm the deletion first." in page(client)
    client.post("/itms/templates/PAY_REMINDER/delete", data={"csrf_token": token, "confirm": "yes"})
    assert [t.identifier for t in itms.selectable_templates()] == ["PAY_REMINDER_2"]
    assert "PAY_REMINDER deleted." in page(client)


def test_system_template_rules_hold_against_crafted_requests(client: FlaskClient, itms: ITMS) -> None:
    token = sign_in(client, "eddie")
    html = page(client)
    assert "/itms/templates/ACE_SYSTEM_MSG_OPT_IN/clone" not in html
    assert "/itms/templates/ACE_SYSTEM_MSG_OPT_IN/delete" not in html

    client.post(f"/itms/templates/{OPT_IN}/delete", data={"csrf_token": token, "confirm": "yes"})
    client.post(f"/itms/templates/{OPT_IN}/clone", data={"csrf_token": token, "new_identifier": "MY_OPT_IN"})
    response = client.post(
        "/itms/templates/new-template",
        data={"csrf_token": token, "identifier": "ACE_SYSTEM_MSG_EXTRA", "body": "Hello. STOP to cancel."},
    )

    assert response.status_code == 400
    assert "reserved for system templates" in unescape(response.text)
    notices = page(client)
    assert "system templates cannot be deleted" in notices
    assert "system templates cannot be cloned" in notices
    assert itms.template(OPT_IN).body == OPT_IN_BODY
    assert itms.selectable_templates() == []


def test_unknown_template_is_not_found(client: FlaskClient) -> None:
    sign_in(client, "alice")
    assert client.get("/itms/templates/NOPE").status_code == 404


def test_profile_forms_need_csrf(client: FlaskClient, itms: ITMS) -> None:
    sign_in(client, "eddie")
    status, html = save(client, "", OPT_IN, body="Changed. STOP to cancel.")
    assert status == 400 and "reload the page" in html
    assert itms.template(OPT_IN).body == OPT_IN_BODY
