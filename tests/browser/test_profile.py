"""The Text Msg Profile in a real browser: the live segment count, saving, and what agents may not do."""

from __future__ import annotations

import typing as t

from playwright.sync_api import expect

from flask_itms import messages

from .conftest import LiveHost, sign_in

OPT_IN = "ACE_SYSTEM_MSG_OPT_IN"


def described(body: str) -> str:
    """What the page says about ``body`` once Acme Recovery is filled in, counted by Python."""
    counted = messages.segments(messages.render(body, {"customer": {"companyName": "Acme Recovery"}}))
    plural = "" if counted.segments == 1 else "s"
    return f"{counted.encoding} · {counted.segments} segment{plural} · {counted.characters} characters"


def test_editor_changes_a_template_and_sees_the_segment_count_follow(page: t.Any, live: LiveHost) -> None:
    sign_in(page, "eddie")
    page.goto("/itms/templates")
    page.get_by_role("link", name="Edit Ace System Msg Opt In").click()
    body = page.get_by_label("Body")
    count = page.locator("#itms-body-count")
    original = messages.SYSTEM_TEMPLATES[OPT_IN].body
    expect(count).to_have_text(described(original))
    expect(count).to_have_text("GSM-7 · 1 segment · 109 characters")

    longer = original + " Pay online any time at acme.example/pay, or call us Mon-Fri 8am-8pm."
    body.fill(longer)
    expect(count).to_have_text(described(longer))
    expect(count).to_contain_text("GSM-7 · 2 segments")
    expect(page.locator("#itms-body-preview")).to_contain_text("Reply YES to receive msgs from Acme Recovery.")

    body.press("Control+End")
    body.press_sequentially(" 🙏")
    expect(count).to_have_text(described(longer + " 🙏"))
    expect(count).to_contain_text("UCS-2 · 3 segments")

    body.fill(longer + " Hi ${customer.firstName}")
    expect(page.locator("#itms-body-placeholders")).to_have_text(
        "Unknown placeholder ${customer.firstName}: it will be refused when you save."
    )

    body.fill(longer)
    page.get_by_role("button", name="Save template").click()

    expect(page.get_by_role("status")).to_contain_text("ACE_SYSTEM_MSG_OPT_IN saved.")
    card = page.locator(f"#itms-template-{OPT_IN}")
    expect(card).to_contain_text("Pay online any time at acme.example/pay")
    expect(card).to_contain_text("Segments2 (")
    with live.app.app_context():
        assert live.state.itms.template(OPT_IN).body == longer


def test_an_unknown_placeholder_is_refused_on_save(page: t.Any, live: LiveHost) -> None:
    sign_in(page, "eddie")
    page.goto(f"/itms/templates/{OPT_IN}")
    page.get_by_label("Body").fill("Hi ${customer.firstName}, reply YES. STOP to cancel.")
    page.get_by_role("button", name="Save template").click()

    expect(page.get_by_role("alert")).to_contain_text("Unknown placeholder ${customer.firstName}.")
    expect(page.get_by_label("Body")).to_have_value("Hi ${customer.firstName}, reply YES. STOP to cancel.")
    expect(page.get_by_label("Body")).to_have_attribute("aria-invalid", "true")


#: Edge cases of the count: the segment limits, the GSM-7 extension table, surrogate pairs.
TRICKY_BODIES = [
    "",
    "a" * 160,
    "a" * 161,
    "€" * 80,
    "€" * 81,
    "[x] {y} ~z~ |w| \\ ^",
    "Ça va? ç",
    "😀" * 35,
    "😀" * 36,
    "a" * 66 + "😀" + "b" * 70,
    "a" * 306,
    "a" * 307,
    "ç" * 134,
    "ç" * 135,
    "€" * 76 + "a" + "€",
    "Δ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ ¡¿ §",
    "line one\nline two\r\n",
]


def test_the_scripts_count_matches_python(page: t.Any, live: LiveHost) -> None:
    sign_in(page, "eddie")
    page.goto(f"/itms/templates/{OPT_IN}")
    counted = page.evaluate("texts => texts.map(text => window.itmsSegments(text))", TRICKY_BODIES)
    expected = [messages.segments(text) for text in TRICKY_BODIES]
    assert counted == [{"encoding": e.encoding, "characters": e.characters, "segments": e.segments} for e in expected]


def test_an_agent_is_refused_what_only_an_editor_may_do(page: t.Any, live: LiveHost) -> None:
    sign_in(page, "alice")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    page.goto("/itms/templates")
    expect(page.get_by_role("link", name="View Ace System Msg Opt In")).to_be_visible()
    expect(page.get_by_role("link", name="New agent template")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit Ace System Msg Opt In")).to_have_count(0)

    page.get_by_role("link", name="View Ace System Msg Opt In").click()
    expect(page.get_by_label("Body")).to_have_count(0)
    expect(page.get_by_text("changing them needs the editor role")).to_be_visible()

    response = page.goto("/itms/templates/new-template")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(
        'This needs the "editor" role. Ask an administrator to grant it to you.'
    )

    status = page.evaluate(
        """async ([url, token]) => (await fetch(url, {
               method: "POST",
               body: new URLSearchParams({csrf_token: token, body: "Changed by an agent. STOP to cancel."}),
           })).status""",
        [f"/itms/templates/{OPT_IN}", token],
    )
    assert status == 403
    with live.app.app_context():
        assert live.state.itms.template(OPT_IN).body == messages.SYSTEM_TEMPLATES[OPT_IN].body
