"""Inbound texts: the classifier (a pure function) and ``itms.handle_inbound`` (the service)."""

from __future__ import annotations

import typing as t
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import OUR_NUMBER, Recorder, text_in
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from flask_itms import ITMS, ConsentStatus, signals
from flask_itms.keywords import (
    DEFAULT_OPT_OUT_KEYWORDS,
    OPT_OUT_EMOTICONS,
    REVOCATION_PHRASES,
    Classifier,
    Intent,
    classify,
    normalize,
)
from flask_itms.messages import HELP, OPTED_OUT

PHONE = "+12125550123"
OTHER = "+12125550124"
NO_DATABASE = settings(database=None, deadline=None)

#: The source document's keywords, written out here rather than read from the module.
SEED_KEYWORDS = [
    "stop",
    "unsubscribe",
    "cancel",
    "opt-out",
    "opt out",
    "end",
    "optout",
    "quit",
    "delete",
    "go away",
    "leave",
    "cease",
    "block",
    "halt",
    "stopall",
    "f*** off",
    "f*** you",
    "revoke",
]
EXTRA_OPT_OUTS = ["stop all", "fuck off", "fuck you", "parar", "detener", "cancelar", "alto", "no más", "no mas"]
SEED_EMOTICONS = ["🛑", "🚫", "❌", "⛔", "🔕", "📴", "🖕"]
SKIN_TONES = ["\U0001f3fb", "\U0001f3fc", "\U0001f3fd", "\U0001f3fe", "\U0001f3ff"]
ZWSP, VS15, VS16 = "\u200b", "\ufe0e", "\ufe0f"


def full_width(text: str) -> str:
    """ＳＴＯＰ: the full-width forms of ASCII letters and punctuation."""
    return "".join(
        chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else "\u3000" if char == " " else char for char in text
    )


def variants(keyword: str) -> list[str]:
    return [
        keyword,
        keyword.upper(),
        keyword.title(),
        f"  {keyword}  ",
        f"\t{keyword.upper()}\n",
        f"{keyword}.",
        f"{keyword}!!",
        f"¡{keyword}!",
        f'"{keyword}"',
        f"({keyword})",
        f"{keyword} ...",
        full_width(keyword.upper()),
        keyword[:1] + ZWSP + keyword[1:],
        ZWSP + keyword + "\u2060",
        keyword.replace(" ", "   "),
        f"{keyword} {keyword}",
        f"{keyword.upper()}, {keyword}!",
    ]


# -- the classifier ----------------------------------------------------------------------


def test_the_seed_lists_are_all_configured() -> None:
    assert set(SEED_KEYWORDS) <= set(DEFAULT_OPT_OUT_KEYWORDS)
    assert set(EXTRA_OPT_OUTS) <= set(DEFAULT_OPT_OUT_KEYWORDS)
    assert set(SEED_EMOTICONS) == set(OPT_OUT_EMOTICONS)
    assert len(SEED_KEYWORDS) == 18
    assert len(SEED_EMOTICONS) == 7


@pytest.mark.parametrize("keyword", SEED_KEYWORDS + EXTRA_OPT_OUTS)
def test_every_opt_out_keyword_in_every_variant_is_an_opt_out(keyword: str) -> None:
    for text in variants(keyword):
        result = classify(text)
        assert result.intent is Intent.OPT_OUT, repr(text)
        assert result.keyword == normalize(keyword), repr(text)


@pytest.mark.parametrize("emoticon", SEED_EMOTICONS)
def test_every_seed_emoticon_in_every_variant_is_an_opt_out(emoticon: str) -> None:
    texts = [
        emoticon,
        emoticon + VS16,
        emoticon + VS15,
        f"  {emoticon} ",
        emoticon * 2,
        emoticon + VS16 + emoticon,
        f"{emoticon} {emoticon} {emoticon}",
        f"{emoticon}!",
        ZWSP + emoticon,
        f"STOP {emoticon}",
        f"{emoticon} stop",
        *(emoticon + tone for tone in SKIN_TONES),
        *(emoticon + tone + VS16 for tone in SKIN_TONES),
    ]
    for text in texts:
        assert classify(text).intent is Intent.OPT_OUT, repr(text)


def test_emoticons_mixed_together_are_an_opt_out() -> None:
    assert classify("🛑🚫❌⛔🔕📴🖕").intent is Intent.OPT_OUT
    assert classify("⛔️ 🖕🏽").intent is Intent.OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "Please stop texting me",
        "Can you stop by tomorrow?",
        "Please cancel my payment plan",
        "I will pay at the end of the month",
        "stop texting me",
        "Take me off your list",
        "take me off the list please",
        "Don't text me",
        "Don’t text me again",  # a phone's curly apostrophe
        "do not text me",
        "Remove me",
        "please remove me from this",
        "I want to opt out of these messages",
        "🛑 why are you texting?",
        "STOP! I already paid",
        "leave me alone",
        "quit it",
        "No more texts!",
    ],
)
def test_a_keyword_or_revocation_phrase_inside_longer_text_goes_to_review(text: str) -> None:
    result = classify(text)
    assert result.intent is Intent.REVIEW, text
    assert result.keyword


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Hello",
        "I'll pay at the weekend",
        "The payment stopped going through",
        "My card was blocked",
        "unstoppable",
        "Thanks!",
        "y",
        "yes please",
        "ok",
        "😀",
        "✅",
        "stops",
        "endless",
    ],
)
def test_ordinary_texts_are_other(text: str) -> None:
    assert classify(text).intent is Intent.OTHER, text


@pytest.mark.parametrize(
    ("text", "intent", "keyword"),
    [
        ("YES", Intent.YES, "yes"),
        (" yes. ", Intent.YES, "yes"),
        ("Yes!", Intent.YES, "yes"),
        ("ＹＥＳ", Intent.YES, "yes"),
        ("START", Intent.OPT_IN, "start"),
        ("unstop", Intent.OPT_IN, "unstop"),
        ("Resume!", Intent.OPT_IN, "resume"),
        ("HELP", Intent.HELP, "help"),
        ("info?", Intent.HELP, "info"),
        ("  Help  ", Intent.HELP, "help"),
    ],
)
def test_yes_start_and_help(text: str, intent: Intent, keyword: str) -> None:
    result = classify(text)
    assert (result.intent, result.keyword) == (intent, keyword)


def test_the_keyword_lists_are_configurable() -> None:
    classifier = Classifier(opt_out=("basta", "ya no"), opt_in=("alta",), help=("ayuda",))
    assert classifier.classify("BASTA!").intent is Intent.OPT_OUT
    assert classifier.classify("ya   no").intent is Intent.OPT_OUT
    assert classifier.classify("Alta").intent is Intent.OPT_IN
    assert classifier.classify("ayuda").intent is Intent.HELP
    assert classifier.classify("🛑").intent is Intent.OPT_OUT  # the seed emoticons always count
    assert classifier.classify("no basta con eso").intent is Intent.REVIEW


_EDGES = " \t\n.,!?;:'\"()[]-*…¡¿\u3000"
_OPT_OUTS = [*SEED_KEYWORDS, *EXTRA_OPT_OUTS]


@st.composite
def disguised_keywords(draw: st.DrawFn) -> tuple[str, str]:
    keyword = draw(st.sampled_from(_OPT_OUTS))
    cased = "".join(draw(st.sampled_from([char.lower(), char.upper()])) for char in keyword)
    spaced = cased.replace(" ", draw(st.sampled_from([" ", "  ", "\t", " \u00a0 "])))
    invisible = draw(st.sampled_from(["", ZWSP, "\u2060", "\ufeff", VS16]))
    position = draw(st.integers(0, len(spaced)))
    spaced = spaced[:position] + invisible + spaced[position:]
    before = draw(st.text(alphabet=_EDGES, max_size=4))
    after = draw(st.text(alphabet=_EDGES, max_size=4))
    if draw(st.booleans()):
        spaced = full_width(spaced)
    return keyword, before + spaced + after


@NO_DATABASE
@given(disguised_keywords())
def test_any_keyword_wrapped_in_case_whitespace_or_punctuation_is_an_opt_out(case: tuple[str, str]) -> None:
    keyword, text = case
    result = classify(text)
    assert result.intent is Intent.OPT_OUT
    assert result.keyword == normalize(keyword)


_TRIGGERS = [normalize(word) for word in (*_OPT_OUTS, *OPT_OUT_EMOTICONS, *REVOCATION_PHRASES)]


def _mentions_a_trigger(text: str) -> bool:
    squeezed = normalize(text)
    return any(trigger in squeezed for trigger in _TRIGGERS) or any(e in text for e in OPT_OUT_EMOTICONS)


@NO_DATABASE
@given(st.text(max_size=60))
def test_text_without_any_keyword_emoticon_or_phrase_is_never_an_opt_out_or_a_hold(text: str) -> None:
    assume(not _mentions_a_trigger(text))
    assert classify(text).intent not in (Intent.OPT_OUT, Intent.REVIEW)


#: Words that contain a keyword without being one: none may trigger anything.
_HARMLESS_WORDS = [
    "weekend",
    "stopped",
    "blocked",
    "quitting",
    "leaves",
    "halted",
    "legend",
    "deleted",
    "cancelled",
    "ending",
    "calendar",
    "unstoppable",
    "payment",
    "tomorrow",
    "please",
    "call",
    "balance",
    "thanks",
    "hello",
    "when",
    "can",
    "I",
    "you",
    "my",
    "is",
    "the",
    "altogether",
    "revoked",
]


@NO_DATABASE
@given(
    st.lists(st.sampled_from(_HARMLESS_WORDS), min_size=1, max_size=10),
    st.lists(st.sampled_from([" ", ", ", ". ", "! ", "? "]), min_size=10, max_size=10),
)
def test_words_that_merely_contain_a_keyword_are_never_an_opt_out_or_a_hold(
    words: list[str], separators: list[str]
) -> None:
    text = "".join(word + separator for word, separator in zip(words, separators, strict=False))
    assert classify(text).intent not in (Intent.OPT_OUT, Intent.REVIEW), text


@NO_DATABASE
@given(st.text())
def test_the_classifier_never_raises_and_normalising_twice_changes_nothing(text: str) -> None:
    result = classify(text)
    assert isinstance(result.intent, Intent)
    assert normalize(normalize(text)) == normalize(text)
    assert unicodedata.is_normalized("NFKC", normalize(text))


# -- handle_inbound ------------------------------------------------------------------------


def test_an_inbound_text_is_stored_and_announced(
    app: Flask, itms: ITMS, db: SQLAlchemy, clock: t.Any, record_signal: t.Callable[[t.Any], Recorder]
) -> None:
    received = record_signal(signals.message_received)
    message = itms.handle_inbound("(212) 555-0123", OUR_NUMBER, "  Hello there  ", provider_message_id="mb-1")
    assert received.calls == [{"sender": app, "message": message}]
    db.session.commit()
    (stored,) = itms.messages(PHONE)
    assert stored is message
    assert (stored.direction, stored.phone, stored.our_number, stored.body, stored.provider_message_id) == (
        "inbound",
        PHONE,
        OUR_NUMBER,
        "  Hello there  ",
        "mb-1",
    )
    assert stored.intent == "other"
    assert stored.created_at == clock.now
    assert stored.created_at.utcoffset() == timedelta(0)
    assert itms.status(PHONE) is ConsentStatus.NONE


def test_received_at_is_kept_as_the_message_time(itms: ITMS, db: SQLAlchemy) -> None:
    when = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
    message = itms.handle_inbound(PHONE, OUR_NUMBER, "Hi", provider_message_id="mb-2", received_at=when)
    db.session.commit()
    assert message.created_at == when


def test_the_same_provider_id_twice_has_one_effect(
    itms: ITMS, db: SQLAlchemy, sent: t.Any, record_signal: t.Callable[[t.Any], Recorder]
) -> None:
    itms.quick_opt_in(PHONE)
    db.session.commit()
    text_in(itms, PHONE, "YES")
    db.session.commit()
    received = record_signal(signals.message_received)
    opted_out = record_signal(signals.opted_out)
    first = itms.handle_inbound(PHONE, OUR_NUMBER, "STOP", provider_message_id="mb-stop")
    db.session.commit()
    again = itms.handle_inbound(PHONE, OUR_NUMBER, "STOP", provider_message_id="mb-stop")
    db.session.commit()
    assert again.id == first.id
    assert len(received.calls) == 1
    assert len(opted_out.calls) == 1
    assert len([m for m in itms.messages(PHONE) if m.provider_message_id == "mb-stop"]) == 1
    assert sent.texts_to(PHONE).count(itms.render(OPTED_OUT, PHONE)) == 1


def test_the_same_provider_id_from_another_direction_is_not_a_duplicate(itms: ITMS, db: SQLAlchemy) -> None:
    """Outbound and inbound ids come from different sequences; only (direction, id) is unique."""
    itms.quick_opt_in(PHONE)
    db.session.commit()
    outbound_id = itms.messages(PHONE)[0].provider_message_id
    message = itms.handle_inbound(PHONE, OUR_NUMBER, "Hello", provider_message_id=outbound_id)
    db.session.commit()
    assert message.direction == "inbound"
    assert len(itms.messages(PHONE)) == 2


def test_texts_without_a_provider_id_are_each_kept(itms: ITMS, db: SQLAlchemy) -> None:
    itms.handle_inbound(PHONE, OUR_NUMBER, "one")
    itms.handle_inbound(PHONE, OUR_NUMBER, "two")
    db.session.commit()
    assert [message.body for message in itms.messages(PHONE)] == ["one", "two"]


@pytest.mark.parametrize("text", ["STOP", "Stop.", "ＳＴＯＰ", "opt out", "⛔️", "🖕🏽", "🛑🛑", "no más", "F*** OFF"])
def test_an_opt_out_keyword_through_the_service_opts_out(itms: ITMS, db: SQLAlchemy, sent: t.Any, text: str) -> None:
    itms.quick_opt_in(PHONE)
    db.session.commit()
    text_in(itms, PHONE, "YES")
    db.session.commit()
    message = text_in(itms, PHONE, text)
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
    assert message.intent == "opt_out"
    assert itms.events(PHONE)[-1].keyword == message.keyword
    assert sent.texts_to(PHONE)[-1] == itms.render(OPTED_OUT, PHONE)


def test_configured_keywords_reach_the_service(make_app: t.Callable[..., Flask]) -> None:
    app = make_app(ITMS_OPT_OUT_KEYWORDS=(*DEFAULT_OPT_OUT_KEYWORDS, "basta"), ITMS_HELP_KEYWORDS=("help", "ayuda"))
    state = app.extensions["itms"]
    with app.app_context():
        text_in(state.itms, PHONE, "Basta!")
        text_in(state.itms, OTHER, "AYUDA")
        state.db.session.commit()
        assert state.itms.status(PHONE) is ConsentStatus.OPTED_OUT
        assert state.provider.texts_to(OTHER) == [state.itms.render(HELP, OTHER)]


def test_an_unknown_number_lands_in_the_unlinked_queue(
    app: Flask, itms: ITMS, db: SQLAlchemy, record_signal: t.Callable[[t.Any], Recorder]
) -> None:
    looked_up: list[str] = []

    @itms.account_lookup
    def lookup(phone: str) -> str | None:
        looked_up.append(phone)
        return "ACCT-KNOWN" if phone == OTHER else None

    unlinked = record_signal(signals.unlinked_message_received)
    first = text_in(itms, PHONE, "Who is this?")
    known = text_in(itms, OTHER, "Hi, it's Jordan")
    second = text_in(itms, PHONE, "Hello?")
    db.session.commit()

    assert unlinked.calls == [
        {"sender": app, "phone": PHONE, "message": first},
        {"sender": app, "phone": PHONE, "message": second},
    ]
    assert PHONE in looked_up
    assert itms.unlinked() == [first, second]
    assert known.account == "ACCT-KNOWN"
    assert first.account is None


def test_without_an_account_lookup_only_the_consent_account_links_a_number(
    itms: ITMS, db: SQLAlchemy, record_signal: t.Callable[[t.Any], Recorder]
) -> None:
    itms.request_opt_in(OTHER, account="ACCT-3")
    db.session.commit()
    unlinked = record_signal(signals.unlinked_message_received)
    stranger = text_in(itms, PHONE, "hello")
    client = text_in(itms, OTHER, "hello")
    db.session.commit()
    assert [call["phone"] for call in unlinked.calls] == [PHONE]
    assert itms.unlinked() == [stranger]
    assert client.account == "ACCT-3"


def test_linking_a_number_takes_its_texts_off_the_queue(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    text_in(itms, PHONE, "Who is this?")
    text_in(itms, OTHER, "Hello")
    db.session.commit()
    assert {message.phone for message in itms.unlinked()} == {PHONE, OTHER}
    itms.link_number(PHONE, "ACCT-8", actor="supervisor:sam")
    db.session.commit()
    assert {message.phone for message in itms.unlinked()} == {OTHER}
    assert itms.status(PHONE) is ConsentStatus.PENDING
    text_in(itms, PHONE, "YES")
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_IN


def test_a_host_that_files_the_number_later_takes_it_off_the_queue(itms: ITMS, db: SQLAlchemy) -> None:
    accounts: dict[str, str] = {}
    itms.account_lookup(accounts.get)
    text_in(itms, PHONE, "Who is this?")
    db.session.commit()
    assert len(itms.unlinked()) == 1
    accounts[PHONE] = "ACCT-4"
    assert itms.unlinked() == []


def test_an_unknown_number_can_still_opt_out(itms: ITMS, db: SQLAlchemy, sent: t.Any) -> None:
    message = text_in(itms, PHONE, "STOP")
    db.session.commit()
    assert itms.status(PHONE) is ConsentStatus.OPTED_OUT
    assert itms.unlinked() == [message]
    assert sent.texts_to(PHONE) == [itms.render(OPTED_OUT, PHONE)]


@pytest.mark.parametrize("originator", ["AcmeBank", "InfoSMS", "12345"])
def test_an_alphanumeric_originator_is_stored_without_consent_change(
    app: Flask,
    itms: ITMS,
    db: SQLAlchemy,
    sent: t.Any,
    record_signal: t.Callable[[t.Any], Recorder],
    originator: str,
) -> None:
    received = record_signal(signals.message_received)
    unlinked = record_signal(signals.unlinked_message_received)
    recorders = [record_signal(s) for s in (signals.opted_out, signals.opted_in, signals.help_requested)]
    for text in ("STOP", "START", "HELP", "YES", "Please stop texting me"):
        received.calls.clear()
        message = text_in(itms, originator, text)
        db.session.commit()
        assert received.calls == [{"sender": app, "message": message}]
        assert (message.phone, message.body, message.direction) == (originator, text, "inbound")
    assert unlinked.calls == []
    assert [recorder.calls for recorder in recorders] == [[], [], []]
    assert sent.sent == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(itms.models.Consent)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(itms.models.ConsentEvent)) == 0
    assert itms.unlinked() == []
