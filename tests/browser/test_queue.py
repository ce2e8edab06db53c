"""The supervisor queue in a real browser: find the account of an unknown number and link it."""

from __future__ import annotations

import typing as t

from playwright.sync_api import expect

from .conftest import UNKNOWN_PHONE, LiveHost, sign_in


def test_supervisor_links_an_unknown_number(page: t.Any, live: LiveHost) -> None:
    live.consumer_texts("hi, who is this?", phone=UNKNOWN_PHONE, message_id="in-1")
    live.consumer_texts("I got a letter about my account", phone=UNKNOWN_PHONE, message_id="in-2")
    sign_in(page, "sam")
    page.goto("/itms/queue")
    number = page.locator(".itms-queue__item", has=page.get_by_role("heading", name="+1 201-555-0188"))
    expect(number).to_contain_text("2 texts")
    expect(number).to_contain_text("I got a letter about my account")

    number.get_by_label("Find the account for +1 201-555-0188").fill("ortega")
    number.get_by_role("button", name="Search").click()
    choices = number.get_by_role("group", name="Accounts matching “ortega”")
    expect(choices.get_by_role("radio")).to_have_count(2)
    choices.get_by_label("Luis Ortega").check()
    number.get_by_role("button", name="Link and send opt-in request").click()

    expect(page.get_by_role("status")).to_contain_text(
        "+1 201-555-0188 is linked to Luis Ortega (ACCT-2002) and was sent the opt-in request."
    )
    expect(page.get_by_role("heading", name="+1 201-555-0188")).to_have_count(0)
    expect(page.get_by_text("Nothing to link")).to_be_visible()
    assert live.status(UNKNOWN_PHONE) == "pending"
    assert live.texts_to(UNKNOWN_PHONE)[0].startswith("Reply YES to receive msgs from Acme Recovery.")

    live.consumer_texts("YES", phone=UNKNOWN_PHONE, message_id="in-3")
    assert live.status(UNKNOWN_PHONE) == "opted_in"
    page.goto(live.page_url(UNKNOWN_PHONE, "ACCT-2002"))
    panel = page.locator("[data-itms-panel]")
    expect(panel.locator(".itms-badge").first).to_have_text("Opted in")
    expect(panel.locator(".itms-status__meta")).to_contain_text("Method: Supervisor link.")
