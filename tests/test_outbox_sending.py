"""What goes into a text: the Reg F opt-out notice, and no second opt-out confirmation."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from flask_itms import ITMS
from flask_itms.messages import segments
from flask_itms.sending import with_opt_out_notice

PHONE = "+12015550123"
OUR_NUMBER = "+18005550199"
NOTICE = "Reply STOP to opt out."
BIRD_KEYWORDS = ("stop", "stopall", "end", "quit", "cancel", "unsubscribe")


def opt_in(itms: ITMS, db: t.Any) -> None:
    itms.quick_opt_in(PHONE, account="ACCT-1")
    db.session.commit()
    itms.handle_inbound(PHONE, OUR_NUMBER, "YES", provider_message_id="in-yes")
    db.session.commit()


# -- Reg F 1006.6(e) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "Your payment is due on the 1st.",
        "Please stop by our office on Monday.",  # "stop" is not an instruction
        "Don't stop paying: your plan is on track!",
        "STOP",
    ],
)
def test_the_notice_is_appended_when_missing(body: str) -> None:
    assert with_opt_out_notice(body, NOTICE) == f"{body} {NOTICE}"


@pytest.mark.parametrize(
    "body",
    [
        "Your payment is due. Reply STOP to opt out.",
        "Your payment is due. reply stop to opt out",
        "Your payment is due. Text STOP to end texts to this number.",
        'Your payment is due. Reply "STOP" to cancel.',
        "Your payment is due. Reply HELP for help, STOP to cancel.",
    ],
)
def test_the_notice_is_not_doubled(body: str) -> None:
    assert with_opt_out_notice(body, NOTICE) == body


def test_a_custom_notice_is_recognised_in_its_own_words() -> None:
    notice = "Para no recibir más, responda BAJA."
    body = f"Su pago vence el día 1. {notice}"
    assert with_opt_out_notice(body, notice) == body


def test_sent_texts_carry_the_notice_and_it_counts_in_segments(app: Flask, itms: ITMS, db: t.Any, sent: t.Any) -> None:
    opt_in(itms, db)
    body = "Balance update: " + "x" * (160 - len("Balance update: "))  # exactly one GSM-7 segment
    assert segments(body).segments == 1

    message = itms.send(PHONE, body, actor="agent:alice")
    db.session.commit()

    assert message.body == f"{body} {NOTICE}"
    assert sent.texts_to(PHONE)[-1] == message.body  # what the provider got
    counted = segments(message.body)
    assert (counted.encoding, counted.characters, counted.segments) == ("GSM-7", 160 + 1 + len(NOTICE), 2)


def test_agent_templates_get_the_notice_too(app: Flask, itms: ITMS, db: t.Any, sent: t.Any) -> None:
    opt_in(itms, db)
    itms.create_template("REMINDER", label="Reminder", body="${customer.companyName}: a payment is due soon.")
    message = itms.send(PHONE, template="REMINDER", actor="agent:alice")
    db.session.commit()
    assert message.body == f"Acme Recovery: a payment is due soon. {NOTICE}"


def test_the_notice_follows_configuration(make_app: t.Callable[..., Flask]) -> None:
    notice = "Text STOP to stop texts to this number."
    app = make_app(ITMS_OPT_OUT_NOTICE=notice)
    with app.app_context():
        state = app.extensions["itms"]
        opt_in(state.itms, state.db)
        message = state.itms.send(PHONE, "Your plan is set up.")
        assert message.body == f"Your plan is set up. {notice}"


# -- ITMS_PROVIDER_CONFIRMS_KEYWORDS ------------------------------------------------------------


@pytest.fixture
def bird_app(make_app: t.Callable[..., Flask]) -> t.Iterator[Flask]:
    app = make_app(ITMS_PROVIDER_CONFIRMS_KEYWORDS=BIRD_KEYWORDS)
    with app.app_context():
        yield app


def confirmations(itms: ITMS) -> list[t.Any]:
    return [m for m in itms.messages(PHONE) if m.template == "ACE_SYSTEM_MSG_OPTED_OUT"]


@pytest.mark.parametrize("text", ["STOP", " Stop ", "unsubscribe", "QUIT", "stopall"])
def test_no_second_confirmation_for_the_providers_keywords(bird_app: Flask, text: str) -> None:
    state = bird_app.extensions["itms"]
    itms, db = state.itms, state.db
    opt_in(itms, db)
    before = len(state.provider.sent)

    itms.handle_inbound(PHONE, OUR_NUMBER, text, provider_message_id="in-stop")
    db.session.commit()

    assert itms.status(PHONE) == "opted_out"
    assert len(state.provider.sent) == before  # nothing handed to the provider
    (record,) = confirmations(itms)
    assert record.status == "sent_by_provider"  # the evidence says who confirmed
    assert record.sent_at is not None


@pytest.mark.parametrize("text", ["⛔️", "revoke", "opt out", "parar", "Stop.", "STOP STOP", "stop all"])
def test_itms_confirms_what_the_provider_does_not(bird_app: Flask, text: str) -> None:
    state = bird_app.extensions["itms"]
    itms, db = state.itms, state.db
    opt_in(itms, db)

    itms.handle_inbound(PHONE, OUR_NUMBER, text, provider_message_id="in-stop")
    db.session.commit()

    (confirmation,) = confirmations(itms)
    assert confirmation.status == "sent"
    assert state.provider.texts_to(PHONE)[-1] == confirmation.body


def test_an_agent_opt_out_is_confirmed_by_itms(bird_app: Flask) -> None:
    state = bird_app.extensions["itms"]
    itms, db = state.itms, state.db
    opt_in(itms, db)
    itms.opt_out(PHONE, actor="agent:alice")
    db.session.commit()
    assert [m.status for m in confirmations(itms)] == ["sent"]


def test_without_the_setting_itms_confirms_stop(app: Flask, itms: ITMS, db: t.Any, sent: t.Any) -> None:
    opt_in(itms, db)
    itms.handle_inbound(PHONE, OUR_NUMBER, "STOP", provider_message_id="in-stop")
    db.session.commit()
    itms.handle_inbound(PHONE, OUR_NUMBER, "STOP", provider_message_id="in-stop-again")
    db.session.commit()
    assert [m.status for m in confirmations(itms)] == ["sent"]  # once, not per STOP
