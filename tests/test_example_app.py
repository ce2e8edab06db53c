"""The example CRM embeds flask-itms the way a host would: sign-in, roles, accounts, policy."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa
from crm_support import build_crm, dispose
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user

from example_app.extensions import db, itms
from example_app.integration import search_accounts
from example_app.models import Account, Client, Phone, User
from example_app.seed import AUTO_OPT_IN_NUMBER, UNKNOWN_NUMBER, seed

DANA_MOBILE = "+12015550123"


@pytest.fixture
def crm(database_url: str) -> t.Iterator[Flask]:
    app = build_crm(database_url, WTF_CSRF_ENABLED=False)
    yield app
    dispose(app)


@pytest.fixture
def client(crm: Flask) -> FlaskClient:
    return crm.test_client()


def sign_in(client: FlaskClient, username: str, password: str = "demo") -> t.Any:
    return client.post("/sign-in", data={"username": username, "password": password})


def user(username: str) -> User:
    return db.session.scalars(sa.select(User).where(User.username == username)).one()


# -- sign-in -----------------------------------------------------------------------------


def test_pages_need_a_signed_in_user(client: FlaskClient) -> None:
    response = client.get("/accounts/ACCT-1001")
    assert response.status_code == 302
    assert response.location.startswith("/sign-in?next=")


def test_a_wrong_password_is_refused(client: FlaskClient) -> None:
    response = sign_in(client, "alice", "not-the-password")
    assert response.status_code == 200
    assert b"Unknown username or wrong password." in response.data
    assert client.get("/accounts").status_code == 302


def test_sign_in_and_out(client: FlaskClient) -> None:
    assert sign_in(client, "alice").location == "/accounts"
    page = client.get("/accounts")
    assert page.status_code == 200
    assert b"Alice Agent" in page.data
    client.post("/sign-out")
    assert client.get("/accounts").status_code == 302


def test_sign_in_only_follows_local_next(client: FlaskClient) -> None:
    response = client.post("/sign-in?next=//evil.example/", data={"username": "alice", "password": "demo"})
    assert response.location == "/accounts"
    client.post("/sign-out")
    response = client.post("/sign-in?next=/accounts/ACCT-1002", data={"username": "alice", "password": "demo"})
    assert response.location == "/accounts/ACCT-1002"


def test_passwords_are_stored_hashed(crm: Flask) -> None:
    with crm.app_context():
        alice = user("alice")
        assert "demo" not in alice.password_hash
        assert alice.check_password("demo")
        assert not alice.check_password("Demo")


# -- the host callbacks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "granted"),
    [
        ("alice", {"agent"}),
        ("sam", {"agent", "supervisor"}),
        ("erin", {"agent", "editor"}),
    ],
)
def test_role_checker_follows_the_user_roles(crm: Flask, username: str, granted: set[str]) -> None:
    with crm.test_request_context():
        login_user(user(username))
        assert {role for role in ("agent", "supervisor", "editor") if itms.has_role(role)} == granted


def test_nobody_signed_in_has_no_role(crm: Flask) -> None:
    with crm.test_request_context():
        assert itms.current_actor() is None
        assert not itms.has_role("agent")


def test_the_signed_in_user_is_the_audit_actor(crm: Flask) -> None:
    with crm.test_request_context():
        login_user(user("alice"))
        itms.request_opt_in(DANA_MOBILE, account="ACCT-1001")
        db.session.commit()
        assert [event.actor for event in itms.events(DANA_MOBILE)] == ["user:alice"]


def test_an_inbound_text_is_filed_on_the_account_that_holds_the_number(crm: Flask) -> None:
    with crm.app_context():
        known = itms.handle_inbound(DANA_MOBILE, "+18005550100", "Hello", provider_message_id="in-1")
        unknown = itms.handle_inbound(UNKNOWN_NUMBER, "+18005550100", "Who is this?", provider_message_id="in-2")
        db.session.commit()
        # Dana's mobile is on ACCT-1001 and ACCT-1005; the oldest account wins.
        assert known.account == "ACCT-1001"
        assert unknown.account is None
        assert [message.phone for message in itms.unlinked()] == [UNKNOWN_NUMBER]


def test_account_search_matches_name_number_and_phone(crm: Flask) -> None:
    with crm.app_context():
        assert [ref for ref, _ in search_accounts("jordan")] == ["ACCT-1004"]
        assert [ref for ref, _ in search_accounts("acct-1002")] == ["ACCT-1002"]
        assert [ref for ref, _ in search_accounts("(312) 555-0188")] == ["ACCT-1002"]
        assert [ref for ref, _ in search_accounts("whitfield")] == ["ACCT-1001", "ACCT-1005"]
        assert search_accounts("nobody by that name") == []
        label = search_accounts("jordan")[0][1]
        assert "Jordan Lee" in label and "Summit Auto Finance" in label


def test_a_supervisor_link_files_the_number_on_the_account(crm: Flask) -> None:
    with crm.app_context():
        itms.link_number(UNKNOWN_NUMBER, "ACCT-1004", actor="user:sam")
        db.session.commit()
        jordan = db.session.scalars(sa.select(Account).where(Account.number == "ACCT-1004")).one()
        assert [phone.number for phone in jordan.phones] == [UNKNOWN_NUMBER]
        assert itms.status(UNKNOWN_NUMBER) == "pending"


def test_a_failed_link_files_nothing(crm: Flask) -> None:
    """The receiver's row rides in the link's transaction: a rollback takes it away too."""
    with crm.app_context():
        itms.link_number(UNKNOWN_NUMBER, "ACCT-1004", actor="user:sam")
        db.session.rollback()
        jordan = db.session.scalars(sa.select(Account).where(Account.number == "ACCT-1004")).one()
        assert jordan.phones == []


def test_agent_templates_can_use_account_placeholders(crm: Flask) -> None:
    with crm.app_context():
        itms.create_template(
            "BALANCE_REMINDER", label="Balance reminder", body="Hi ${account.debtorName}, you owe ${account.balance}."
        )
        assert itms.render("BALANCE_REMINDER", DANA_MOBILE) == "Hi Dana Whitfield, you owe $1,284.50."


# -- pages -------------------------------------------------------------------------------


def test_account_summary_lists_the_phone_numbers_with_links_to_their_records(client: FlaskClient) -> None:
    sign_in(client, "alice")
    page = client.get("/accounts/ACCT-1001").get_data(as_text=True)
    assert "Summary" in page
    assert "$1,284.50" in page and "Riverside Medical Group" in page and "healthcare" in page
    assert "(201) 555-0123" in page and "(201) 555-0147" in page
    with client.application.app_context():
        account = db.session.scalars(sa.select(Account).where(Account.number == "ACCT-1001")).one()
        links = [f'href="/accounts/ACCT-1001/phones/{phone.id}"' for phone in account.phones]
    assert all(link in page for link in links)


def test_the_phone_record_page_shows_the_number(client: FlaskClient, crm: Flask) -> None:
    sign_in(client, "alice")
    with crm.app_context():
        account = db.session.scalars(sa.select(Account).where(Account.number == "ACCT-1001")).one()
        phone_id = account.phones[0].id
    page = client.get(f"/accounts/ACCT-1001/phones/{phone_id}").get_data(as_text=True)
    assert "Phone demographic record" in page and "Text Messaging" in page
    assert DANA_MOBILE in page
    # A phone record is only reachable under its own account.
    assert client.get(f"/accounts/ACCT-1002/phones/{phone_id}").status_code == 404
    assert client.get("/accounts/ACCT-9999").status_code == 404


def test_the_text_message_vendor_page_shows_the_profile_and_webhooks(client: FlaskClient) -> None:
    sign_in(client, "erin")
    page = client.get("/text-message-vendor").get_data(as_text=True)
    assert "Text Msg Profile" in page
    for identifier in ("OPT_IN", "OPTED_IN", "AUTH_CODE", "OPTED_OUT", "HELP"):
        assert f"ACE_SYSTEM_MSG_{identifier}" in page
    assert "http://localhost/itms/messagebird/inbound" in page
    assert "http://localhost/itms/messagebird/status" in page


def test_account_search_page(client: FlaskClient) -> None:
    sign_in(client, "alice")
    page = client.get("/accounts?q=reyes").get_data(as_text=True)
    assert "ACCT-1002" in page and "ACCT-1001" not in page


# -- adding phones and the auto opt-in policy ----------------------------------------------


def test_a_number_added_to_a_utility_account_is_auto_opted_in(client: FlaskClient, crm: Flask) -> None:
    sign_in(client, "alice")
    response = client.post("/accounts/ACCT-1003/phones", data={"number": "(646) 555-0175", "kind": "mobile"})
    assert response.location == "/accounts/ACCT-1003"
    page = client.get("/accounts/ACCT-1003").get_data(as_text=True)
    assert "qualifies for auto opt-in" in page
    with crm.app_context():
        assert itms.status(AUTO_OPT_IN_NUMBER) == "opted_in"
        assert [event.method for event in itms.events(AUTO_OPT_IN_NUMBER)] == ["auto"]
        assert [message.template for message in itms.messages(AUTO_OPT_IN_NUMBER)] == ["ACE_SYSTEM_MSG_OPTED_IN"]
        assert itms.provider.texts_to(AUTO_OPT_IN_NUMBER)[0].startswith("Thank you for agreeing")  # type: ignore[attr-defined]


def test_a_number_added_to_other_accounts_waits_for_an_opt_in(client: FlaskClient, crm: Flask) -> None:
    sign_in(client, "alice")
    client.post("/accounts/ACCT-1004/phones", data={"number": "646-555-0175", "kind": "home"})
    with crm.app_context():
        jordan = db.session.scalars(sa.select(Account).where(Account.number == "ACCT-1004")).one()
        assert [(phone.number, phone.kind) for phone in jordan.phones] == [(AUTO_OPT_IN_NUMBER, "home")]
        assert itms.status(AUTO_OPT_IN_NUMBER) == "none"
        assert itms.messages(AUTO_OPT_IN_NUMBER) == []


def test_auto_opt_in_never_overrides_an_opt_out(client: FlaskClient, crm: Flask) -> None:
    with crm.app_context():
        itms.opt_out(AUTO_OPT_IN_NUMBER, actor="user:alice")
        db.session.commit()
    sign_in(client, "alice")
    client.post("/accounts/ACCT-1003/phones", data={"number": AUTO_OPT_IN_NUMBER, "kind": "mobile"})
    page = client.get("/accounts/ACCT-1003").get_data(as_text=True)
    assert "only the consumer can opt back in" in page
    with crm.app_context():
        assert itms.status(AUTO_OPT_IN_NUMBER) == "opted_out"


def test_a_bad_or_duplicate_number_is_refused(client: FlaskClient, crm: Flask) -> None:
    sign_in(client, "alice")
    client.post("/accounts/ACCT-1002/phones", data={"number": "555-12", "kind": "mobile"})
    assert "is not a valid phone number" in client.get("/accounts/ACCT-1002").get_data(as_text=True)
    client.post("/accounts/ACCT-1002/phones", data={"number": "312.555.0188", "kind": "home"})
    assert "is already on this account" in client.get("/accounts/ACCT-1002").get_data(as_text=True)
    with crm.app_context():
        marcus = db.session.scalars(sa.select(Account).where(Account.number == "ACCT-1002")).one()
        assert len(marcus.phones) == 1


def test_only_agents_add_phones(client: FlaskClient, crm: Flask) -> None:
    with crm.app_context():
        viewer = User(username="viewer", name="Viewer", roles="")
        viewer.set_password("demo")
        db.session.add(viewer)
        db.session.commit()
    sign_in(client, "viewer")
    response = client.post("/accounts/ACCT-1003/phones", data={"number": AUTO_OPT_IN_NUMBER, "kind": "mobile"})
    assert response.status_code == 403
    with crm.app_context():
        assert itms.status(AUTO_OPT_IN_NUMBER) == "none"


def test_forms_need_a_csrf_token(database_url: str) -> None:
    app = build_crm(database_url)
    try:
        client = app.test_client()
        assert client.post("/sign-in", data={"username": "alice", "password": "demo"}).status_code == 200
        assert client.get("/accounts").status_code == 302  # not signed in: the token was missing
    finally:
        dispose(app)


# -- seed data ---------------------------------------------------------------------------


def test_seeding_twice_adds_nothing_the_second_time(crm: Flask) -> None:
    with crm.app_context():
        counts = row_counts()
        assert seed() == {"users": 0, "clients": 0, "accounts": 0, "phones": 0}
        assert row_counts() == counts == {"crm_user": 3, "crm_client": 3, "crm_account": 5, "crm_phone": 4}


def row_counts() -> dict[str, int]:
    models = (User, Client, Account, Phone)
    return {model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in models}
