"""The supervisor queue: unknown numbers, account search, and linking (which sends the opt-in request)."""

from __future__ import annotations

import itertools
import typing as t
from html import unescape

import pytest
from browser.host import csrf_token, install_host
from flask import Flask
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS, ConsentStatus

OUR_NUMBER = "+18005550100"
KNOWN = "+12015550123"
UNKNOWN = "+12015550188"
OTHER = "+12015550199"


@pytest.fixture
def client(app: Flask, itms: ITMS) -> FlaskClient:
    install_host(app, itms)
    client = app.test_client()
    client.get("/login/sam")
    return client


_ids = itertools.count()


def texts(itms: ITMS, db: SQLAlchemy, phone: str, *bodies: str) -> None:
    for body in bodies:
        itms.handle_inbound(phone, OUR_NUMBER, body, provider_message_id=f"in-{next(_ids)}")
    db.session.commit()


def token(client: FlaskClient) -> str:
    """The session's CSRF token, from the host page's meta tag."""
    return csrf_token(client.get(f"/accounts/ACCT-1001/phones/{KNOWN}").text)


def csrf_token_of_form(html: str) -> str:
    start = html.index('name="csrf_token" value="') + len('name="csrf_token" value="')
    return html[start : html.index('"', start)]


def test_queue_lists_unknown_numbers_with_their_texts(
    client: FlaskClient, itms: ITMS, db: SQLAlchemy, clock: t.Any
) -> None:
    texts(itms, db, UNKNOWN, "hello who is this")
    clock.advance(minutes=90)
    texts(itms, db, UNKNOWN, "I got a letter")
    texts(itms, db, KNOWN, "hi, it's Dana")  # the host knows this number

    page = unescape(client.get("/itms/queue").text)

    assert "+1 201-555-0188" in page
    assert "2 texts" in page
    assert "First seen <time" in page and "Jun 2, 2026 16:00 UTC" in page and "Jun 2, 2026 17:30 UTC" in page
    assert "hello who is this" in page and "I got a letter" in page
    assert "+1 201-555-0123" not in page and "Dana" not in page


def test_empty_queue_says_so(client: FlaskClient) -> None:
    assert "Nothing to link" in client.get("/itms/queue").text


def test_search_offers_the_hosts_accounts(client: FlaskClient, itms: ITMS, db: SQLAlchemy) -> None:
    texts(itms, db, UNKNOWN, "hello")

    page = unescape(client.get(f"/itms/queue?phone={UNKNOWN}&q=ortega").text)

    assert "Accounts matching “ortega”" in page
    assert 'value="ACCT-2002"' in page and "Luis Ortega" in page
    assert 'value="ACCT-3003"' in page and "Marta Ortega" in page
    assert "Dana Whitfield" not in page
    assert ">Link and send opt-in request<" in page

    nothing = unescape(client.get(f"/itms/queue?phone={UNKNOWN}&q=zzz").text)
    assert "No account matches “zzz”" in nothing


def test_linking_sends_the_opt_in_request_and_leaves_the_queue(
    client: FlaskClient, itms: ITMS, db: SQLAlchemy, sent: t.Any
) -> None:
    texts(itms, db, UNKNOWN, "hello")
    page = client.get(f"/itms/queue?phone={UNKNOWN}&q=luis").text
    assert 'name="csrf_token"' in page

    response = client.post(
        "/itms/queue/link", data={"csrf_token": token(client), "phone": UNKNOWN, "account": "ACCT-2002"}
    )

    assert response.status_code == 303 and response.headers["Location"] == "/itms/queue"
    consent = itms.consent(UNKNOWN)
    assert (consent.status, consent.method, consent.account) == ("pending", "supervisor", "ACCT-2002")
    event = itms.events(UNKNOWN)[-1]
    assert (event.source, event.actor) == ("supervisor", "sam")
    assert sent.texts_to(UNKNOWN)[0].startswith("Reply YES to receive msgs from Acme Recovery.")
    after = unescape(client.get("/itms/queue").text)
    assert "+1 201-555-0188 is linked to Luis Ortega (ACCT-2002) and was sent the opt-in request." in after
    assert "Find the account for +1 201-555-0188" not in after

    texts(itms, db, UNKNOWN, "Yes")
    assert itms.status(UNKNOWN) is ConsentStatus.OPTED_IN


def test_an_account_the_search_cannot_find_is_refused(
    client: FlaskClient, itms: ITMS, db: SQLAlchemy, sent: t.Any
) -> None:
    texts(itms, db, UNKNOWN, "hello")
    client.post("/itms/queue/link", data={"csrf_token": token(client), "phone": UNKNOWN, "account": "ACCT-9999"})

    assert itms.status(UNKNOWN) is ConsentStatus.NONE and sent.sent == []
    assert "No account 'ACCT-9999' was found" in unescape(client.get("/itms/queue").text)


def test_linking_a_number_that_opted_out_is_a_friendly_refusal(
    client: FlaskClient, itms: ITMS, db: SQLAlchemy, sent: t.Any
) -> None:
    texts(itms, db, UNKNOWN, "STOP")
    before = len(sent.sent)

    response = client.post(
        "/itms/queue/link", data={"csrf_token": token(client), "phone": UNKNOWN, "account": "ACCT-2002"}
    )

    assert response.status_code == 303
    assert itms.status(UNKNOWN) is ConsentStatus.OPTED_OUT
    assert itms.consent(UNKNOWN).account is None
    assert len(sent.sent) == before
    assert "has opted out" in client.get("/itms/queue").text


def test_linking_needs_a_csrf_token(client: FlaskClient, itms: ITMS, db: SQLAlchemy) -> None:
    texts(itms, db, UNKNOWN, "hello")
    client.post("/itms/queue/link", data={"phone": UNKNOWN, "account": "ACCT-2002"})
    assert itms.status(UNKNOWN) is ConsentStatus.NONE
    assert "reload the page" in client.get("/itms/queue").text


@pytest.mark.parametrize("user", ["alice", "eddie", "vic"])
def test_the_queue_is_for_supervisors(client: FlaskClient, itms: ITMS, db: SQLAlchemy, user: str) -> None:
    texts(itms, db, UNKNOWN, "hello")
    client.get(f"/login/{user}")

    assert client.get("/itms/queue").status_code == 403
    response = client.post(
        "/itms/queue/link", data={"csrf_token": token(client), "phone": UNKNOWN, "account": "ACCT-2002"}
    )
    assert response.status_code == 403
    assert '"supervisor" role' in unescape(response.text)
    assert itms.status(UNKNOWN) is ConsentStatus.NONE


def test_without_account_search_the_supervisor_types_the_reference(
    client: FlaskClient, itms: ITMS, db: SQLAlchemy
) -> None:
    itms._account_search = None
    texts(itms, db, OTHER, "hello")
    page = client.get("/itms/queue").text
    assert "Account reference for +1 201-555-0199" in page

    client.post(
        "/itms/queue/link", data={"csrf_token": csrf_token_of_form(page), "phone": OTHER, "account": " REF-77 "}
    )

    assert itms.consent(OTHER).account == "REF-77"
