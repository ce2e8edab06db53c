"""Fuzzing the classifier: random Unicode, and its shortcuts checked against the full path.

The classifier answers most texts from their ASCII words alone, without normalising or
scanning them (the fast path that keeps webhooks cheap). These properties drive it with
texts built to sit on the edges of that shortcut — keywords glued to accents, emoji,
curly quotes, fullwidth letters, zero-width spaces and combining marks — and require
the same answer as normalising and scanning every text would give.
"""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
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

#: Deterministic in CI: the same examples every run, and nothing written into the tree.
FUZZ = settings(max_examples=400, derandomize=True, database=None, deadline=None)

CLASSIFIER = Classifier()


def full_path(text: str) -> Classification:
    """What the classifier answers when it normalises and scans, with no shortcut."""
    key = normalize(text)
    hit = CLASSIFIER._exact.get(key)
    return hit if hit is not None else CLASSIFIER._classify_mention(key)


KEYWORDS = (
    *DEFAULT_OPT_OUT_KEYWORDS,
    *DEFAULT_OPT_IN_KEYWORDS,
    *DEFAULT_HELP_KEYWORDS,
    *YES_KEYWORDS,
    *REVOCATION_PHRASES,
    *OPT_OUT_EMOTICONS,
)
#: Characters the shortcut treats as spaces (accents, emoji, typographic punctuation)…
INERT = "éáÁíñÑóúü¿¡“”‘’«»…—–€£👍🙏😊❤🎉ΣσДд。、「」"
#: …and characters it must not: they normalise into ASCII letters, vanish, or compose.
TRICKY = (
    "ＳＴＯＰｓｔｏｐ"  # fullwidth
    "\u200b\u200d\ufe0f\ufe0e\u00ad\u2060\U0001f3fd"  # invisible, variation selectors, skin tone
    "\u0301\u0308\u0338"  # combining marks
    "ſ\u212aﬅﬆ①ⓢ𝐬𝐭𝐨𝐩\u00a0\u3000"  # compatibility forms that fold to ASCII, odd spaces
    "\ud800"  # a lone surrogate, as a JSON body can carry
)
PIECES = st.one_of(
    st.sampled_from(KEYWORDS),
    st.sampled_from(KEYWORDS).map(str.upper),
    st.sampled_from(("no MÁS", "NO MÁS", "no ma\u0301s", "ok", "pay", "number", "text", "me", "I'm", "dont")),
    st.text(alphabet="stopandelyhfc", min_size=1, max_size=6),
    st.text(alphabet=" .,!?'-*\n\t", min_size=1, max_size=3),
    st.text(alphabet=INERT, min_size=1, max_size=3),
    st.text(alphabet=TRICKY, min_size=1, max_size=2),
)
GLUE = st.sampled_from(("", "", " ", " ", "  ", ".", "!", "’", "👍", "\u200b", "é", "\u0301"))


@st.composite
def edge_texts(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(PIECES, min_size=1, max_size=6))
    glue = draw(st.lists(GLUE, min_size=len(pieces), max_size=len(pieces)))
    return "".join(piece + joint for piece, joint in zip(pieces, glue, strict=True))


@FUZZ
@given(edge_texts())
def test_the_shortcuts_agree_with_the_full_path(text: str) -> None:
    assert CLASSIFIER.classify(text) == full_path(text)


@FUZZ
@given(st.text(st.characters(exclude_categories=()), max_size=40))
def test_random_unicode_agrees_with_the_full_path(text: str) -> None:
    assert CLASSIFIER.classify(text) == full_path(text)


@FUZZ
@given(edge_texts(), st.sampled_from(("\u200b", "\ufe0f", "\u00ad", "\u2060")))
def test_invisible_characters_between_words_change_nothing(text: str, invisible: str) -> None:
    # Inserted at a space, an invisible character cannot join two words, so a reader and
    # the classifier see the same message.
    assert classify(text.replace(" ", " " + invisible)) == classify(text)


@FUZZ
@given(edge_texts())
def test_normalising_first_changes_nothing(text: str) -> None:
    try:
        normalized = normalize(text)
    except UnicodeError:
        return
    assert classify(normalized) == classify(text)


@FUZZ
@given(st.sampled_from(DEFAULT_OPT_OUT_KEYWORDS), st.text(alphabet=INERT, min_size=1, max_size=4))
def test_a_keyword_inside_accented_or_emoji_text_is_never_ignored(keyword: str, around: str) -> None:
    # "Sí 👍 stop 👍": the keyword is a word of a longer text, so it goes to review.
    result = classify(f"{around} {keyword} {around}")
    assert result.intent in {Intent.OPT_OUT, Intent.REVIEW}


def test_the_shortcut_is_taken_for_ordinary_texts_outside_ascii() -> None:
    # Not a timing test: the shortcut's pattern must accept everyday emoji and accents,
    # or every such text would quietly take the slow path.
    for text in ("Gracias 🙏", "¿Cuánto debo?", "I’ll pay Friday", "Ok 👍", "Sí, puedo pagar"):
        assert CLASSIFIER._all_inert(text) is not None, text
    for text in ("ＳＴＯＰ", "st\u200bop", "⛔", "🛑 ok", "ma\u0301s"):
        assert CLASSIFIER._all_inert(text) is None, text


def test_inert_characters_really_are() -> None:
    from flask_itms.keywords import _inert_characters

    for char, folded in _inert_characters().items():
        assert not unicodedata.combining(char)
        # Curly apostrophes fold to "'" and typographic dashes to "-"; the rest as NFKC does.
        ascii_fold = "'" if char in "‘’‛ʼ" else "-" if char in "‐‑‒–—―−﹘﹣" else None
        assert folded == (ascii_fold or unicodedata.normalize("NFKC", char).casefold())
        assert all(ord(c) >= 128 or not c.isalnum() for c in folded)
