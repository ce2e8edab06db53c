"""The Text Msg Profile through the ITMS API: system template rules, placeholders, rendering."""

from __future__ import annotations

import threading
import time
import typing as t

import pytest
import sqlalchemy as sa
from conftest import text_in
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS, ConsentRequired, SystemTemplateError, TemplateError
from flask_itms.messages import AUTH_CODE, HELP, OPT_IN, OPTED_IN, OPTED_OUT

PHONE = "+12125550123"
SYSTEM = [OPT_IN, OPTED_IN, AUTH_CODE, OPTED_OUT, HELP]
MMS = "https://cdn.example.com/acme-logo.png"


def template_rows(db: SQLAlchemy, itms: ITMS) -> list[tuple[str, bool]]:
    """Every stored template as (identifier, system), read through a fresh connection."""
    Template = itms.models.Template
    with db.engine.connect() as connection:
        query = sa.select(Template.identifier, Template.system).order_by(Template.identifier)
        return [(row.identifier, row.system) for row in connection.execute(query)]


# -- created when first needed, never duplicated ------------------------------------------


def test_system_templates_appear_when_first_needed_and_only_once(itms: ITMS, db: SQLAlchemy) -> None:
    assert template_rows(db, itms) == []
    itms.request_opt_in(PHONE)
    db.session.commit()
    assert sorted(template_rows(db, itms)) == sorted((identifier, True) for identifier in SYSTEM)
    for _ in range(3):
        itms.templates()
        itms.template(HELP)
        text_in(itms, PHONE, "HELP")
        db.session.commit()
    assert len(template_rows(db, itms)) == len(SYSTEM)


def test_looking_one_up_creates_them(itms: ITMS, db: SQLAlchemy) -> None:
    template = itms.template(OPTED_OUT)
    assert template.system is True
    db.session.commit()
    assert len(template_rows(db, itms)) == len(SYSTEM)


def test_system_templates_created_concurrently_are_never_duplicated(app: Flask, itms: ITMS, db: SQLAlchemy) -> None:
    """Each thread reads "none yet", inserts, and holds its transaction open a moment."""
    workers = 4
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                itms.template(HELP)
                time.sleep(0.2)
                db.session.commit()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=first_use) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(template_rows(db, itms)) == sorted((identifier, True) for identifier in SYSTEM)


def test_stored_system_templates_carry_the_seed_wording(itms: ITMS) -> None:
    opt_in, opted_in = itms.template(OPT_IN), itms.template(OPTED_IN)
    assert (opt_in.label, opt_in.body) == (
        "Ace System Msg Opt In",
        "Reply YES to receive msgs from ${customer.companyName}. Reply HELP for help, STOP to cancel."
        " Std. msg&data rates apply.",
    )
    assert (opted_in.label, opted_in.body) == (
        "Ace System Msg Opted In",
        "Thank you for agreeing to receive msgs from ${customer.companyName}. Reply HELP for help, STOP to"
        " opt out. Std. msg&data rates apply.",
    )
    labels = {identifier: itms.template(identifier).label for identifier in SYSTEM}
    assert labels[AUTH_CODE] == "Ace System Msg Auth Code"
    assert labels[OPTED_OUT] == "Ace System Msg Opted Out"
    assert labels[HELP] == "Ace System Msg Help"
    for identifier in SYSTEM:
        template = itms.template(identifier)
        assert template.system is True
        assert template.use_case
        assert template.allow_as_payment_source is True
    assert "${authCode}" in itms.template(AUTH_CODE).body


def test_system_templates_come_first_and_agents_see_only_their_own(itms: ITMS) -> None:
    itms.create_template("AAA_FIRST", label="Alphabetically first", body="Hi")
    identifiers = [template.identifier for template in itms.templates()]
    assert identifiers[: len(SYSTEM)] == sorted(SYSTEM)
    assert identifiers[len(SYSTEM) :] == ["AAA_FIRST"]
    assert [template.identifier for template in itms.selectable_templates()] == ["AAA_FIRST"]


# -- what cannot be done to a system template ------------------------------------------------


def test_a_system_template_cannot_be_deleted_cloned_or_picked(itms: ITMS, db: SQLAlchemy) -> None:
    for identifier in SYSTEM:
        with pytest.raises(SystemTemplateError, match="deleted"):
            itms.delete_template(identifier)
        with pytest.raises(SystemTemplateError, match="cloned"):
            itms.clone_template(identifier, "MY_COPY")
        db.session.commit()
        assert (identifier, True) in template_rows(db, itms)
        assert ("MY_COPY", False) not in template_rows(db, itms)
        assert identifier not in [template.identifier for template in itms.selectable_templates()]


def test_the_system_namespace_is_reserved(itms: ITMS, db: SQLAlchemy) -> None:
    itms.create_template("MINE", label="Mine", body="Hi")
    for identifier in ("ACE_SYSTEM_MSG_MINE", "ace_system_msg_opt_in", "Ace_System_Msg_X"):
        with pytest.raises(SystemTemplateError):
            itms.create_template(identifier, label="Sneaky", body="Hi")
        with pytest.raises(SystemTemplateError):
            itms.clone_template("MINE", identifier)


def test_a_system_template_mms_is_the_editors_alone(itms: ITMS, db: SQLAlchemy) -> None:
    roles = {"erin": {"agent", "editor"}, "alice": {"agent"}}
    with pytest.raises(SystemTemplateError, match="editor"):
        itms.update_template(OPTED_IN, mms_url=MMS, actor="erin")  # no role checker: nobody is an editor
    itms.role_checker(lambda actor, role: role in roles.get(actor, set()))
    with pytest.raises(SystemTemplateError, match="editor"):
        itms.update_template(OPTED_IN, mms_url=MMS, actor="alice")
    db.session.commit()
    assert itms.template(OPTED_IN).mms_url is None
    itms.update_template(OPTED_IN, mms_url=MMS, actor="erin")
    db.session.commit()
    assert itms.template(OPTED_IN).mms_url == MMS
    # Other edits by a non-editor leave the attachment alone.
    itms.update_template(OPTED_IN, label="Opted in (with logo)", actor="alice")
    db.session.commit()
    assert itms.template(OPTED_IN).mms_url == MMS
    with pytest.raises(SystemTemplateError):
        itms.update_template(OPTED_IN, mms_url=None, actor="alice")


def test_the_system_templates_mms_goes_out_with_its_text(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    itms.role_checker(lambda actor, role: role == "editor")
    itms.update_template(OPTED_IN, mms_url=MMS, actor="erin")
    itms.quick_opt_in(PHONE)
    db.session.commit()
    text_in(itms, PHONE, "YES")
    db.session.commit()
    assert [(text.body.startswith("Thank you"), text.mms_url) for text in sent.sent] == [(False, None), (True, MMS)]


def test_an_agent_template_is_ordinary(itms: ITMS, db: SQLAlchemy) -> None:
    created = itms.create_template("PAYMENT_DUE", label="Payment due", body="${customer.companyName}: payment due.")
    assert created.allow_as_payment_source is True
    assert created.system is False
    itms.update_template("PAYMENT_DUE", mms_url=MMS)  # no editor needed for an agent template
    copy = itms.clone_template("PAYMENT_DUE", "PAYMENT_DUE_2")
    assert (copy.body, copy.allow_as_payment_source, copy.system) == (created.body, True, False)
    itms.delete_template("PAYMENT_DUE")
    db.session.commit()
    assert ("PAYMENT_DUE", False) not in template_rows(db, itms)
    assert ("PAYMENT_DUE_2", False) in template_rows(db, itms)
    not_for_payments = itms.create_template("NEWS", label="News", body="Hi", use_case="promotions")
    itms.update_template("NEWS", allow_as_payment_source=False)
    assert not_for_payments.allow_as_payment_source is False


def test_a_template_needs_a_usable_identifier(itms: ITMS) -> None:
    for identifier in ("", "has space", "dash-ed", "x" * 65):
        with pytest.raises(TemplateError):
            itms.create_template(identifier, label="Bad", body="Hi")


def test_identifiers_are_unique(itms: ITMS) -> None:
    itms.create_template("MINE", label="Mine", body="Hi")
    with pytest.raises(TemplateError, match="already exists"):
        itms.create_template("MINE", label="Mine again", body="Hi")


# -- placeholders ----------------------------------------------------------------------------


BAD_BODIES = [
    "Your balance is ${account.balance}",
    "Hi ${customer.name}",
    "Code ${authCode}",  # only the auth code text carries the PIN
    "Broken ${customer.}",
    "Broken ${customer.companyName",
    "No evaluation: ${customer.__class__}",
    "No evaluation: ${1+1}",
]


def test_an_unknown_or_malformed_placeholder_is_refused_on_save(itms: ITMS, db: SQLAlchemy) -> None:
    for body in BAD_BODIES:
        with pytest.raises(TemplateError):
            itms.create_template("BAD_ONE", label="Bad", body=body)
        with pytest.raises(TemplateError):
            itms.update_template(OPTED_IN, body=body)
        db.session.commit()
        assert ("BAD_ONE", False) not in template_rows(db, itms), body
        assert itms.template(OPTED_IN).body.startswith("Thank you for agreeing"), body


def test_placeholders_the_context_provides_are_accepted(itms: ITMS, db: SQLAlchemy) -> None:
    itms.update_template(AUTH_CODE, body="${customer.companyName} PIN ${authCode}. Reply STOP to cancel.")
    itms.update_template(HELP, body="${customer.companyName}: call ${customer.phone}. Reply STOP to cancel.")
    db.session.commit()
    assert itms.render(AUTH_CODE, PHONE, authCode="123456") == "Acme Recovery PIN 123456. Reply STOP to cancel."


def test_a_host_context_placeholder_the_host_cannot_fill_raises_on_render(
    itms: ITMS, db: SQLAlchemy, sent: t.Any
) -> None:
    balances = {PHONE: "$120.00"}

    @itms.template_context
    def account_context(phone: str | None) -> dict[str, t.Any]:
        if phone is None:  # asked on save: which names exist
            return {"account": {"balance": ""}}
        return {"account": {"balance": balances[phone]}} if phone in balances else {}

    itms.create_template("BALANCE", label="Balance", body="Your balance is ${account.balance}.")
    other = "+12125550124"
    for phone in (PHONE, other):
        itms.quick_opt_in(phone)
        db.session.commit()
        text_in(itms, phone, "YES")
        db.session.commit()
    assert itms.render("BALANCE", PHONE) == "Your balance is $120.00."
    with pytest.raises(TemplateError, match=r"account\.balance"):
        itms.render("BALANCE", other)
    texts_before = len(sent.sent)
    with pytest.raises(TemplateError):
        itms.send(other, template="BALANCE")
    db.session.commit()
    assert len(sent.sent) == texts_before
    itms.send(PHONE, template="BALANCE")
    db.session.commit()
    assert sent.texts_to(PHONE)[-1] == "Your balance is $120.00. Reply STOP to opt out."


def test_rendering_never_evaluates_values(itms: ITMS) -> None:
    sneaky = {"companyName": "${customer.phone} {{ 7*7 }}", "phone": "+18005550100"}
    assert itms.render(OPT_IN, PHONE, customer=sneaky).startswith(
        "Reply YES to receive msgs from ${customer.phone} {{ 7*7 }}. Reply HELP"
    )


def test_send_of_a_template_still_needs_consent(itms: ITMS) -> None:
    itms.create_template("HELLO", label="Hello", body="Hello")
    with pytest.raises(ConsentRequired):
        itms.send(PHONE, template="HELLO")


@pytest.mark.parametrize(
    ("identifier", "body", "missing"),
    [
        (AUTH_CODE, "${customer.companyName}: welcome. Reply STOP to cancel.", "authCode"),
        (OPT_IN, "Reply YES to receive msgs from ${customer.companyName}.", "opt out"),
        (HELP, "${customer.companyName}: call ${customer.phone}.", "opt out"),
    ],
)
def test_a_system_template_keeps_what_its_job_needs(itms: ITMS, identifier: str, body: str, missing: str) -> None:
    before = itms.template(identifier).body
    with pytest.raises(TemplateError, match=missing):
        itms.update_template(identifier, body=body)
    assert itms.template(identifier).body == before


def test_the_opt_out_confirmation_needs_no_stop_instructions(itms: ITMS) -> None:
    body = "${customer.companyName}: you will get no more msgs from us."
    assert itms.update_template(OPTED_OUT, body=body).body == body
