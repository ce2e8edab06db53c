"""The inbound-text classifier: exact opt-outs, opt-ins, YES, HELP, review and the rest."""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_itms.keywords import (
    DEFAULT_HELP_KEYWORDS,
    DEFAULT_OPT_IN_KEYWORDS,
    DEFAULT_OPT_OUT_KEYWORDS,
    OPT_OUT_EMOTICONS,
    REVOCATION_PHRASES,
    YES_KEYWORDS,
    Classification,
    Classifier,
    Intent,
    classify,
    normalize,
)

#: The keyword column of the source document, verbatim.
SEED_KEYWORDS = (
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
)
MIDDLE_FINGER = "\N{REVERSED HAND WITH MIDDLE FINGER EXTENDED}"
#: The emoticon column of the source document, by Unicode name.
SEED_EMOTICONS = {
    "stop sign": "\N{OCTAGONAL SIGN}",
    "no entry sign": "\N{NO ENTRY SIGN}",
    "cross mark": "\N{CROSS MARK}",
    "no entry": "\N{NO ENTRY}",
    "bell with slash": "\N{BELL WITH CANCELLATION STROKE}",
    "mobile phone off": "\N{MOBILE PHONE OFF}",
    "middle finger": MIDDLE_FINGER,
}
EXTRA_OPT_OUT_KEYWORDS = ("stop all", "fuck off", "fuck you", "parar", "detener", "cancelar", "alto", "no más")

ZWSP = "\u200b"
VS15 = "\ufe0e"
VS16 = "\ufe0f"
SKIN_TONES = tuple(chr(code) for code in range(0x1F3FB, 0x1F400))


def full_width(text: str) -> str:
    """Spell ASCII letters and punctuation in their full-width forms, as some phones do."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


def opted_out(keyword: str) -> Classification:
    return Classification(Intent.OPT_OUT, keyword)


# -- the lists ------------------------------------------------------------------------


def test_defaults_hold_every_seed_keyword_and_the_design_extras() -> None:
    assert set(SEED_KEYWORDS) <= set(DEFAULT_OPT_OUT_KEYWORDS)
    assert set(EXTRA_OPT_OUT_KEYWORDS) <= set(DEFAULT_OPT_OUT_KEYWORDS)
    assert len(SEED_KEYWORDS) == 18


def test_emoticons_are_the_seven_base_code_points() -> None:
    assert set(OPT_OUT_EMOTICONS) == set(SEED_EMOTICONS.values())
    assert len(OPT_OUT_EMOTICONS) == 7
    assert all(len(emoticon) == 1 for emoticon in OPT_OUT_EMOTICONS)


def test_other_default_lists() -> None:
    assert DEFAULT_OPT_IN_KEYWORDS == ("start", "unstop", "resume")
    assert DEFAULT_HELP_KEYWORDS == ("help", "info")
    assert YES_KEYWORDS == ("yes",)
    for phrase in ("stop texting me", "take me off your list", "don't text me", "do not text me", "remove me"):
        assert phrase in REVOCATION_PHRASES


def test_intent_is_a_str_enum_with_the_design_values() -> None:
    assert [intent.value for intent in Intent] == ["opt_out", "opt_in", "yes", "help", "review", "other"]
    assert Intent("review") is Intent.REVIEW
    assert isinstance(Intent.OPT_OUT, str)
    assert str(Intent.OPT_OUT) == f"{Intent.OPT_OUT}" == "opt_out"


def test_classification_is_frozen() -> None:
    result = classify("STOP")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.intent = Intent.OTHER  # type: ignore[misc]


# -- normalisation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "stop"),
        (" Stop. ", "stop"),
        ("STOP!!", "stop"),
        ("ＳＴＯＰ", "stop"),
        ("\u3000ＳＴＯＰ！\u3000", "stop"),
        (f"{ZWSP}st{ZWSP}op{ZWSP}", "stop"),
        ("\u00a0stop\u2060", "stop"),
        ("\ufeffstop", "stop"),
        ("Opt   Out", "opt out"),
        ("opt\t\nout", "opt out"),
        ("ＯＰＴ\u3000\u3000ＯＵＴ", "opt out"),
        ("No\u00a0 más", "no más"),
        ("“Stop”", "stop"),
        ("«stop»", "stop"),
        ("¡Alto!", "alto"),
        ("¿No más?", "no más"),
        ("Don’t text me", "don't text me"),
        ("(opt-out)", "opt-out"),
        (f"\N{NO ENTRY}{VS16}", "\N{NO ENTRY}"),
        (f"{MIDDLE_FINGER}{SKIN_TONES[2]}", MIDDLE_FINGER),
        ("", ""),
        (" \t\n ", ""),
        ("?!...", ""),
        ("I can pay $50 on Friday.", "i can pay $50 on friday"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


# -- exact opt-outs -------------------------------------------------------------------


@pytest.mark.parametrize("keyword", SEED_KEYWORDS + EXTRA_OPT_OUT_KEYWORDS)
@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda k: k, id="plain"),
        pytest.param(str.upper, id="upper"),
        pytest.param(str.title, id="title"),
        pytest.param(lambda k: f"  {k.upper()}  \n", id="whitespace"),
        pytest.param(lambda k: f"{k}.", id="period"),
        pytest.param(lambda k: f"{k.upper()}!!", id="bangs"),
        pytest.param(lambda k: f"“{k}”", id="curly-quotes"),
        pytest.param(lambda k: f"¡{k}!", id="spanish-bangs"),
        pytest.param(lambda k: full_width(k.upper()), id="full-width"),
        pytest.param(lambda k: f"{ZWSP}{k[0]}{ZWSP}{k[1:]}{ZWSP}", id="zero-width-space"),
        pytest.param(lambda k: f"{k} {k}", id="repeated"),
        pytest.param(lambda k: f"{k.upper()}, {k}!", id="repeated-punctuated"),
        pytest.param(lambda k: f"{k}\n{k}\n{k}", id="repeated-lines"),
        pytest.param(lambda k: f"\N{OCTAGONAL SIGN} {k}", id="with-emoticon"),
    ],
)
def test_keyword_alone_opts_out(keyword: str, variant: Callable[[str], str]) -> None:
    text = variant(keyword)
    result = classify(text)
    assert result.intent is Intent.OPT_OUT, text
    if not text.startswith("\N{OCTAGONAL SIGN}"):
        assert result.keyword == keyword


@pytest.mark.parametrize("emoticon", SEED_EMOTICONS.values(), ids=SEED_EMOTICONS.keys())
@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda e: e, id="plain"),
        pytest.param(lambda e: e + VS16, id="emoji-presentation"),
        pytest.param(lambda e: e + VS15, id="text-presentation"),
        pytest.param(lambda e: e + SKIN_TONES[0], id="light-skin-tone"),
        pytest.param(lambda e: e + SKIN_TONES[4], id="dark-skin-tone"),
        pytest.param(lambda e: e * 2, id="repeated"),
        pytest.param(lambda e: f" {e}{VS16} {e}{VS16} ", id="repeated-spaced"),
        pytest.param(lambda e: f"{e}!!!", id="punctuated"),
        pytest.param(lambda e: f"{ZWSP}{e}{ZWSP}", id="zero-width-space"),
        pytest.param(lambda e: f"{e}\N{ZERO WIDTH JOINER}{e}", id="zero-width-joiner"),
    ],
)
def test_emoticon_alone_opts_out(emoticon: str, variant: Callable[[str], str]) -> None:
    assert classify(variant(emoticon)) == opted_out(emoticon)


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "stop"),
        (" Stop. ", "stop"),
        ("STOP!!", "stop"),
        ("ＳＴＯＰ", "stop"),
        ("opt out", "opt out"),
        ("\N{NO ENTRY}\ufe0f", "\N{NO ENTRY}"),
        (f"{MIDDLE_FINGER}\N{EMOJI MODIFIER FITZPATRICK TYPE-4}", MIDDLE_FINGER),
        ("\N{OCTAGONAL SIGN}\N{OCTAGONAL SIGN}", "\N{OCTAGONAL SIGN}"),
        ("stop stop", "stop"),
        ("Opt-Out", "opt-out"),
        ("OPTOUT", "optout"),
        ("Stop All", "stop all"),
        ("F*** YOU", "f*** you"),
        ("no mas", "no mas"),
        ("\N{NO ENTRY SIGN}\N{CROSS MARK}", "\N{NO ENTRY SIGN}"),
        ("Stop \N{OCTAGONAL SIGN}", "stop"),
        ("stop. unsubscribe.", "stop"),
    ],
)
def test_design_opt_out_examples(text: str, keyword: str) -> None:
    assert classify(text) == opted_out(keyword)


# -- opt-in, YES, HELP and priority -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent", "keyword"),
    [
        ("START", Intent.OPT_IN, "start"),
        (" Unstop. ", Intent.OPT_IN, "unstop"),
        ("resume!", Intent.OPT_IN, "resume"),
        ("ＳＴＡＲＴ", Intent.OPT_IN, "start"),
        ("YES", Intent.YES, "yes"),
        ("Yes.", Intent.YES, "yes"),
        (f"{ZWSP}yes{ZWSP}", Intent.YES, "yes"),
        ("HELP", Intent.HELP, "help"),
        ("help?", Intent.HELP, "help"),
        ("Info", Intent.HELP, "info"),
    ],
)
def test_exact_opt_in_yes_and_help(text: str, intent: Intent, keyword: str) -> None:
    assert classify(text) == Classification(intent, keyword)


@pytest.mark.parametrize(
    "text", ["y", "yeah", "yes please", "yes yes", "start over please", "I need help", "more info"]
)
def test_only_the_whole_message_counts_for_opt_in_yes_and_help(text: str) -> None:
    assert classify(text) == Classification(Intent.OTHER, None)


def test_priority_opt_out_then_opt_in_then_yes_then_help() -> None:
    both = Classifier(opt_out=["stop"], opt_in=["stop", "yes"], help=["yes", "stop", "hola"])
    assert both.classify("stop").intent is Intent.OPT_OUT
    assert both.classify("yes").intent is Intent.OPT_IN
    assert both.classify("hola").intent is Intent.HELP
    assert Classifier(help=["yes"]).classify("yes").intent is Intent.YES


# -- review ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("Please stop texting me", "stop texting me"),
        ("Can you stop by tomorrow?", "stop"),
        ("Please cancel my payment plan", "cancel"),
        ("I will pay at the end of the month", "end"),
        ("Stop texting me", "stop texting me"),
        ("Take me off your list!", "take me off your list"),
        ("Don’t text me again", "don't text me"),
        ("DO NOT TEXT ME", "do not text me"),
        ("please remove me", "remove me"),
        ("Opt me out", "opt me out"),
        ("leave me alone", "leave me alone"),
        ("I want to stop. Don't text me.", "don't text me"),
        ("STOP!!! NOW", "stop"),
        ("stop please", "stop"),
        ('"stop" is what I said', "stop"),
        ("I'll leave the money order at the office", "leave"),
        (f"hello {MIDDLE_FINGER}\N{EMOJI MODIFIER FITZPATRICK TYPE-5}", MIDDLE_FINGER),
        ("I \N{CROSS MARK}\ufe0f can't pay", "\N{CROSS MARK}"),
        ("ok\N{OCTAGONAL SIGN}", "\N{OCTAGONAL SIGN}"),
        ("stop start", "stop"),
        ("no más mensajes por favor", "no más"),
    ],
)
def test_keyword_or_phrase_inside_longer_text_is_held_for_review(text: str, keyword: str) -> None:
    assert classify(text) == Classification(Intent.REVIEW, keyword)


@pytest.mark.parametrize("phrase", REVOCATION_PHRASES)
def test_every_revocation_phrase_is_held_for_review(phrase: str) -> None:
    assert classify(f"Hi, please {phrase.upper()}. Thanks") == Classification(Intent.REVIEW, normalize(phrase))


# -- other ----------------------------------------------------------------------------

ORDINARY = (
    "I can pay $50 on Friday",
    "Can I call you tomorrow?",
    "ok thanks",
    "Who is this?",
    "What is my balance?",
    "I already paid this last week",
    "Please call me after 5pm",
    "Is there a way to set up a payment plan",
    "I get paid on the 15th, can we do a payment then",
    "I'll pay $100 now and the rest next month",
    "¿Cuánto debo?",
    "Thanks 🙏",
    "👍",
    "y",
    "no",
    "",
    "   ",
    "...",
    ZWSP,
    VS16,
)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_texts_are_other(text: str) -> None:
    assert classify(text) == Classification(Intent.OTHER, None)


@pytest.mark.parametrize(
    "text",
    [
        "stopped",
        "I stopped by yesterday",
        "nonstop calls",
        "unstoppable",
        "this weekend",
        "I spend too much",
        "blockchain",
        "a cancellation fee",
        "ending soon",
        "quitting my job",
        "I deleted it",
        "the leaves fell",
        "ceasefire",
        "halting",
        "revoked",
        "my backend",
        "optometrist",
        "Alton street",
        "takeout",
        "stop_loss",
        "5stop",
    ],
)
def test_keywords_inside_other_words_are_other(text: str) -> None:
    assert classify(text) == Classification(Intent.OTHER, None)


# -- configuration --------------------------------------------------------------------


def test_custom_keyword_lists_replace_the_defaults() -> None:
    custom = Classifier(opt_out=["Basta", "Go Away!"], opt_in=["Begin"], help=["AYUDA"])
    assert custom.classify("basta!") == opted_out("basta")
    assert custom.classify("GO AWAY") == opted_out("go away")
    assert custom.classify("basta basta") == opted_out("basta")
    assert custom.classify("ya basta por favor") == Classification(Intent.REVIEW, "basta")
    assert custom.classify("begin") == Classification(Intent.OPT_IN, "begin")
    assert custom.classify("Ayuda") == Classification(Intent.HELP, "ayuda")
    assert custom.classify("yes") == Classification(Intent.YES, "yes")
    # The replaced defaults are ordinary words now ...
    assert custom.classify("stop") == Classification(Intent.OTHER, None)
    assert custom.classify("start") == Classification(Intent.OTHER, None)
    assert custom.classify("help") == Classification(Intent.OTHER, None)
    # ... but the seed emoticons and the revocation phrases always count.
    assert custom.classify("\N{NO ENTRY}\ufe0f") == opted_out("\N{NO ENTRY}")
    assert custom.classify("please stop texting me").intent is Intent.REVIEW


def test_a_bare_string_is_one_keyword() -> None:
    custom = Classifier(help="ayuda")
    assert custom.classify("ayuda").intent is Intent.HELP
    assert custom.classify("a").intent is Intent.OTHER


def test_extending_the_defaults() -> None:
    custom = Classifier(opt_out=(*DEFAULT_OPT_OUT_KEYWORDS, "basta"))
    assert custom.classify("STOP").intent is Intent.OPT_OUT
    assert custom.classify("Basta.").intent is Intent.OPT_OUT


def test_an_emoticon_or_multiword_keyword_can_be_configured() -> None:
    custom = Classifier(opt_out=["\N{THUMBS DOWN SIGN}", "no more please"])
    assert custom.classify("\N{THUMBS DOWN SIGN}\ufe0f\N{THUMBS DOWN SIGN}") == opted_out("\N{THUMBS DOWN SIGN}")
    assert custom.classify("No more please!") == opted_out("no more please")
    assert custom.classify("No   more   please") == opted_out("no more please")


def test_module_classify_uses_the_defaults() -> None:
    default = Classifier()
    for text in ("STOP", "start", "yes", "help", "Please stop texting me", "I can pay $50 on Friday"):
        assert classify(text) == default.classify(text)


# -- properties -----------------------------------------------------------------------

SURROUNDINGS = st.text(alphabet=" \t\n\r.,!?;:-_*'\"()[]…¡¿“”«»！" + ZWSP + VS16, max_size=6)


@given(
    keyword=st.sampled_from(DEFAULT_OPT_OUT_KEYWORDS),
    flips=st.lists(st.booleans(), min_size=16, max_size=16),
    before=SURROUNDINGS,
    after=SURROUNDINGS,
)
def test_any_keyword_in_any_case_with_any_surroundings_opts_out(
    keyword: str, flips: list[bool], before: str, after: str
) -> None:
    cased = "".join(char.upper() if flip else char for char, flip in zip(keyword, flips, strict=False))
    assert classify(before + cased + after) == opted_out(keyword)


#: Words that are no keyword, emoticon or phrase word, several of them holding one.
SAFE_WORDS = (
    "i",
    "can",
    "pay",
    "$50",
    "on",
    "friday",
    "tomorrow",
    "please",
    "call",
    "thanks",
    "account",
    "balance",
    "stopped",
    "nonstop",
    "weekend",
    "spend",
    "blockchain",
    "cancellation",
    "ending",
    "quitting",
    "deleted",
    "leaves",
    "ceasefire",
    "halting",
    "revoked",
    "optometrist",
    "backend",
    "yes",
    "help",
    "start",
    "info",
    "🙏",
    "👍",
)
SAFE_SEPARATORS = (" ", ", ", ". ", "! ", "? ", "\n", " - ", "  ")


def test_the_safe_words_are_safe() -> None:
    words = {word for keyword in (*DEFAULT_OPT_OUT_KEYWORDS, *REVOCATION_PHRASES) for word in keyword.split()}
    words |= set(OPT_OUT_EMOTICONS)
    assert not words & {normalize(word) for word in SAFE_WORDS}


@given(
    words=st.lists(st.sampled_from(SAFE_WORDS), max_size=12),
    separators=st.lists(st.sampled_from(SAFE_SEPARATORS), min_size=12, max_size=12),
)
def test_texts_of_safe_words_are_never_opt_out_or_review(words: list[str], separators: list[str]) -> None:
    text = "".join(word + separator for word, separator in zip(words, separators, strict=False))
    assert classify(text).intent not in {Intent.OPT_OUT, Intent.REVIEW}


@given(st.text() | st.text(st.characters(exclude_categories=())))
def test_classify_never_raises(text: str) -> None:
    # The second strategy adds lone surrogates, which a JSON body can smuggle in ("\\ud800").
    result = classify(text)
    assert isinstance(result, Classification)
    assert isinstance(result.intent, Intent)
    assert (result.keyword is None) == (result.intent is Intent.OTHER)


PIECES = st.one_of(
    st.sampled_from(DEFAULT_OPT_OUT_KEYWORDS + DEFAULT_OPT_IN_KEYWORDS + DEFAULT_HELP_KEYWORDS + REVOCATION_PHRASES),
    st.sampled_from(SAFE_WORDS),
    st.text(alphabet=string.printable, max_size=4),
)


@given(st.lists(PIECES, max_size=6).map(" ".join).filter(str.isascii))
def test_the_ascii_fast_path_agrees_with_full_normalisation(text: str) -> None:
    # A zero-width space changes nothing a reader sees, but sends the text down the
    # full Unicode path instead of the ASCII shortcut: both must answer the same.
    assert classify(text) == classify(text + ZWSP) == classify(normalize(text))


@pytest.mark.parametrize(
    "text",
    [
        "opt\u2011out",
        "opt\u2014out",
        "opt\u2212out",
        "opt_out",
        "OPT_OUT!",
        "fuck-off",
        "go-away",
        "stop-all",
        "f***-off",
    ],
)
def test_typographic_dashes_and_underscores_still_opt_out(text: str) -> None:
    assert classify(text).intent is Intent.OPT_OUT


def test_a_dashed_keyword_inside_a_sentence_is_held_for_review() -> None:
    assert classify("please opt\u2013out me").intent is Intent.REVIEW
