"""The agent panel in a real browser, embedded in a host page: with the script and without it."""

from __future__ import annotations

import typing as t

import pytest
from playwright.sync_api import expect

from .conftest import PHONE, LiveHost, sign_in

OPT_IN_TEXT = (
    "Reply YES to receive msgs from Acme Recovery. Reply HELP for help, STOP to cancel. Std. msg&data rates apply."
)
OPTED_OUT_TEXT = "Acme Recovery: You are opted out and will receive no more msgs from us."


def panel_parts(page: t.Any) -> tuple[t.Any, t.Any, t.Any]:
    panel = page.locator("[data-itms-panel]")
    return panel, panel.locator(".itms-badge").first, panel.locator("[data-itms-notices]")


def test_agent_pin_flow_end_to_end(page: t.Any, live: LiveHost) -> None:
    sign_in(page, "alice")
    panel, badge, notices = panel_parts(page)
    expect(badge).to_have_text("Not opted in")
    page.evaluate("window.itmsSamePage = true")

    panel.get_by_role("button", name="Send Opt In Request").click()

    expect(notices).to_contain_text("Opt-in request sent.")
    expect(badge).to_have_text("Opt-in requested")
    assert page.evaluate("window.itmsSamePage") is True  # swapped in place, no reload
    assert page.evaluate("document.activeElement.hasAttribute('data-itms-notices')")
    assert live.texts_to() == [OPT_IN_TEXT]

    # The consumer replies YES and receives a PIN.
    live.consumer_texts("YES", message_id="in-yes")
    page.reload()
    expect(badge).to_have_text("Awaiting auth code")
    pin = live.pin_sent_to()
    assert pin not in page.content()
    expect(panel.locator(".itms-text--outbound").last).to_contain_text("your opt-in PIN is ••••••")
    page.evaluate("window.itmsSamePage = true")

    wrong = "000000" if pin != "000000" else "111111"
    panel.get_by_label("Txt Msg Auth Code").fill(wrong)
    panel.get_by_role("button", name="Submit").click()
    expect(notices).to_contain_text("That is not the auth code sent to +12015550123. 4 tries left.")
    expect(badge).to_have_text("Awaiting auth code")

    code = panel.get_by_label("Txt Msg Auth Code")
    code.fill(pin)
    code.press("Enter")

    expect(badge).to_have_text("Opted in")
    expect(notices).to_contain_text("Auth code accepted")
    expect(panel.locator(".itms-status__meta")).to_contain_text("Method: Send Opt In Request. Last change by alice")
    assert live.status() == "opted_in"
    assert live.texts_to()[-1].startswith("Thank you for agreeing to receive msgs from Acme Recovery.")
    assert page.evaluate("window.itmsSamePage") is True


def test_quick_opt_in_without_javascript(browser: t.Any, live: LiveHost) -> None:
    context = browser.new_context(java_script_enabled=False, base_url=live.url, timezone_id="America/New_York")
    context.set_default_timeout(5000)
    page = context.new_page()
    try:
        sign_in(page, "alice")
        panel, badge, notices = panel_parts(page)

        panel.get_by_role("button", name="Quick Opt In").click()

        page.wait_for_url(live.page_url())  # a full POST, then back to the host page
        expect(notices).to_contain_text("Quick Opt In sent. The consumer's YES completes the opt-in.")
        expect(badge).to_have_text("Opt-in requested")
        expect(panel).to_contain_text("Method: Quick Opt In.")
        expect(panel).not_to_contain_text("Txt Msg Auth Code")

        live.consumer_texts("Yes", message_id="in-yes")
        page.reload()
        expect(badge).to_have_text("Opted in")
        assert live.status() == "opted_in"
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_opt_out_with_its_confirmation(browser: t.Any, live: LiveHost, javascript: bool) -> None:
    context = browser.new_context(java_script_enabled=javascript, base_url=live.url)
    context.set_default_timeout(5000)
    page = context.new_page()
    try:
        sign_in(page, "alice")
        panel, badge, notices = panel_parts(page)
        confirm = panel.get_by_role("button", name="Confirm Opt Out")
        expect(confirm).to_be_hidden()

        panel.get_by_text("Opt Out", exact=True).click()

        expect(confirm).to_be_visible()
        expect(panel).to_contain_text("Opt out +1 201-555-0123? The consumer gets one final confirmation text")
        assert live.status() == "none"  # nothing happens before the confirmation
        confirm.click()

        expect(badge).to_have_text("Opted out")
        expect(notices).to_contain_text("Opted out. The consumer was sent one final confirmation")
        expect(panel).to_contain_text("Only the consumer can opt back in, by texting START.")
        expect(panel.get_by_role("button")).to_have_count(0)
        assert live.status() == "opted_out"
        assert live.texts_to() == [OPTED_OUT_TEXT]
    finally:
        context.close()


def test_review_hold_decided_in_the_panel(page: t.Any, live: LiveHost) -> None:
    with live.app.app_context():
        live.state.itms.quick_opt_in(PHONE, actor="alice")
        live.state.db.session.commit()
    live.consumer_texts("YES", message_id="in-yes")
    live.consumer_texts("Can you stop calling my work number", message_id="in-hold")
    sign_in(page, "alice")
    panel, _, notices = panel_parts(page)
    hold = panel.get_by_role("group", name="Review the consumer's reply")

    expect(hold).to_contain_text("Can you stop calling my work number")
    expect(panel.locator(".itms-badge--hold")).to_have_text("On hold")
    expect(panel.get_by_role("button", name="Send Opt In Request")).to_have_count(0)

    hold.get_by_role("button", name="Clear hold").click()

    expect(notices).to_contain_text("Hold cleared: texting this number is allowed again.")
    expect(panel.locator(".itms-badge--hold")).to_have_count(0)
    with live.app.app_context():
        assert live.state.itms.can_text(PHONE)


def test_the_panel_keeps_its_look_in_a_hostile_host_page(page: t.Any, live: LiveHost) -> None:
    sign_in(page, "alice")
    button = page.get_by_role("button", name="Send Opt In Request")
    # The host styles every <button> uppercase and orange; the panel's buttons stay its own.
    assert button.evaluate("b => getComputedStyle(b).textTransform") == "none"
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(29, 78, 216)"
    title = page.get_by_role("heading", name="Text Messaging")
    assert title.evaluate("h => getComputedStyle(h).fontSize") == "12px"


def test_narrow_screen_stacks_the_controls(page: t.Any, live: LiveHost) -> None:
    page.set_viewport_size({"width": 320, "height": 800})
    sign_in(page, "alice")
    panel = page.locator("[data-itms-panel]")
    assert panel.evaluate("p => p.scrollWidth <= p.clientWidth")  # nothing overflows
    first = panel.get_by_role("button", name="Send Opt In Request").bounding_box()
    second = panel.get_by_role("button", name="Quick Opt In").bounding_box()
    assert second["y"] > first["y"] and abs(second["width"] - first["width"]) < 1
