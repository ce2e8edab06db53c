"""Read the intent of an inbound text: opt out, opt in, YES, HELP, review or other.

This is a pure function of the message text, with no Flask and no database, so the
consent rules it encodes can be tested on their own and run on every webhook call.

Only a whole-message keyword (or a message made only of opt-out keywords and
emoticons) is an opt-out. A keyword or a revocation phrase inside longer text is
``review``: the consent goes on hold for a human, because "Can you stop by tomorrow?"
is not a revocation but "Please stop texting me" is, and neither should be guessed.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
import string
import typing as t
import unicodedata
from collections.abc import Iterable
from typing import TypeAlias

__all__ = [
    "DEFAULT_HELP_KEYWORDS",
    "DEFAULT_OPT_IN_KEYWORDS",
    "DEFAULT_OPT_OUT_KEYWORDS",
    "OPT_OUT_EMOTICONS",
    "REVOCATION_PHRASES",
    "YES_KEYWORDS",
    "Classification",
    "Classifier",
    "Intent",
    "classify",
    "normalize",
]


class Intent(enum.StrEnum):
    """What an inbound text asks for; a ``str`` so it can be stored and compared as text."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    YES = "yes"
    HELP = "help"
    REVIEW = "review"
    OTHER = "other"


@dataclasses.dataclass(frozen=True)
class Classification:
    """An intent and the normalised keyword, emoticon or phrase behind it (consent evidence)."""

    intent: Intent
    keyword: str | None


#: The source document's 18 keywords, the uncensored profanities, "stop all" and
#: Spanish stop words. "no mas" is "no más" as phones often send it, without the accent.
DEFAULT_OPT_OUT_KEYWORDS: tuple[str, ...] = (
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
    "fuck off",
    "fuck you",
    "stop all",
    "parar",
    "detener",
    "cancelar",
    "alto",
    "no más",
    "no mas",
)

#: The source document's seven emoticons, as base code points. Variation selectors and
#: skin tones are dropped before matching, so "⛔️" and "🖕🏽" count too.
OPT_OUT_EMOTICONS: tuple[str, ...] = (
    "\N{OCTAGONAL SIGN}",  # 🛑 stop sign
    "\N{NO ENTRY SIGN}",  # 🚫 no entry sign
    "\N{CROSS MARK}",  # ❌ cross mark
    "\N{NO ENTRY}",  # ⛔ no entry
    "\N{BELL WITH CANCELLATION STROKE}",  # 🔕 bell with slash
    "\N{MOBILE PHONE OFF}",  # 📴 mobile phone off
    "\N{REVERSED HAND WITH MIDDLE FINGER EXTENDED}",  # 🖕 middle finger
)

DEFAULT_OPT_IN_KEYWORDS: tuple[str, ...] = ("start", "unstop", "resume")
DEFAULT_HELP_KEYWORDS: tuple[str, ...] = ("help", "info")

#: Only "yes". It completes an opt-in, so it is as strict as the request that asks for
#: it ("Reply YES"); "y", "yeah" or "yes please" stay ordinary messages for an agent.
YES_KEYWORDS: tuple[str, ...] = ("yes",)

#: Wording that a reasonable person reads as revocation (FCC 24-24) though it holds no
#: keyword, or only one that alone would be ambiguous. Anywhere in a text it puts the
#: consent on hold for review; it never opts out on its own.
REVOCATION_PHRASES: tuple[str, ...] = (
    "stop texting me",
    "stop texting",
    "stop messaging me",
    "stop sending me",
    "stop contacting me",
    "quit texting me",
    "take me off your list",
    "take me off the list",
    "take me off",
    "take my number off",
    "remove me",
    "remove my number",
    "opt me out",
    "unsubscribe me",
    "don't text me",
    "don't text",
    "dont text me",
    "dont text",
    "do not text me",
    "do not text",
    "don't message me",
    "do not message me",
    "don't contact me",
    "do not contact me",
    "no more texts",
    "no more text messages",
    "no more messages",
    "leave me alone",
    "lose my number",
    "delete my number",
)

# Zero-width and other format characters, variation selectors, skin tones and emoji tag
# characters: invisible to a reader, but enough to defeat an exact match.
_INVISIBLE: dict[int, str | None] = dict.fromkeys(
    (
        0x00AD,
        0x180E,
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2065),
        *range(0x2066, 0x206A),
        0xFEFF,
        *range(0xFE00, 0xFE10),
        *range(0x1F3FB, 0x1F400),
        *range(0xE0020, 0xE0080),
    )
)
# Phones type curly apostrophes, which NFKC keeps: fold them for "don't text me". Phones
# also type typographic dashes ("opt‑out", "opt—out"): fold them to the ASCII hyphen.
_INVISIBLE.update({0x2018: "'", 0x2019: "'", 0x201B: "'", 0x02BC: "'"})
_INVISIBLE.update(dict.fromkeys((*range(0x2010, 0x2016), 0x2212, 0xFE58, 0xFE63), "-"))

# What may surround a keyword, or sit between repeated ones, without changing its sense:
# every ASCII character but letters and digits, and typographic punctuation.
_ASCII_SEPARATORS = "".join(chr(code) for code in range(128) if not chr(code).isalnum())
_SEPARATORS = (
    _ASCII_SEPARATORS
    + "\u00a0\u3000¡¿«»‘’‚‛“”„‟‹›‐‑‒–—―…·•′″‼⁇⁈⁉"
    + "。、，．！？：；（）［］｛｝「」『』【】〈〉《》〔〕"
)
# Lowercases ASCII and turns separators, and every byte of a UTF-8 sequence, into spaces,
# so that bytes.split() yields the ASCII words of a text.
_NON_ASCII_BYTES = bytes(range(128, 256))
_WORDS = bytes.maketrans(
    (string.ascii_uppercase + _ASCII_SEPARATORS).encode() + _NON_ASCII_BYTES,
    string.ascii_lowercase.encode() + b" " * (len(_ASCII_SEPARATORS) + len(_NON_ASCII_BYTES)),
)


def normalize(text: str) -> str:
    """Reduce a text to the one form keywords are compared in.

    NFKC and casefold make "ＳＴＯＰ" and "Stop" equal; invisible characters go because a
    reader does not see them; edge punctuation and extra spaces go so that " Stop. " is
    "stop".
    """
    if text.isascii():
        # NFKC, casefold and the invisible characters change nothing in ASCII.
        return " ".join(text.lower().split()).strip(_ASCII_SEPARATORS)
    folded = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).casefold()
    return " ".join(folded.split()).strip(_SEPARATORS)


def _normalized(words: Iterable[str]) -> set[str]:
    """Normalise a keyword list; a bare string is one keyword, not a list of letters."""
    if isinstance(words, str):
        words = (words,)
    return {normalize(word) for word in words} - {""}


# Words too common in ordinary replies to make good anchors (see _anchor).
_COMMON_WORDS = frozenset(b"a all and do go i in is it me more my no not of off on or out the to you your".split())


def _ascii_words(text: str) -> list[bytes]:
    """The runs of ASCII letters and digits in ``text``, lowercased; anything else separates them."""
    return text.encode("utf-8", "surrogatepass").translate(_WORDS).split()


def _anchor(words: list[bytes]) -> bytes:
    """Pick the word of a keyword least likely in an ordinary reply.

    Any text that holds the keyword holds that word, so a text that holds none of the
    anchors holds no keyword: most texts are answered without normalising or scanning.
    """
    return min(words, key=lambda anchor: (anchor in _COMMON_WORDS, -len(anchor)))


class _WordFilter:
    """Tells from the ASCII words of a text that it holds none of a set of keywords.

    Each keyword sits under its anchor word, with every word it has and, for keywords that
    count only as the whole message (YES, HELP, START…), its word count. Opt-out keywords
    and phrases count anywhere in a text (opt out or review), so any word count will do.
    A text that holds no anchor, or no keyword's every word, holds none of the keywords.
    """

    def __init__(self, keywords: Iterable[tuple[list[bytes], int | None]]) -> None:
        self._keywords: dict[bytes, list[tuple[frozenset[bytes], int | None]]] = {}
        for words, word_count in keywords:
            self._keywords.setdefault(_anchor(words), []).append((frozenset(words), word_count))
        anchors = frozenset(self._keywords)
        #: The quick test first: most texts share no word with any keyword.
        self.shares_no_anchor = anchors.isdisjoint
        self._anchors_in = anchors.intersection

    def holds_none(self, words: list[bytes]) -> bool:
        """ "Wrong number" holds the anchor of "remove my number" but not its other words;
        "yes i got it" holds "yes", which counts only as the whole message."""
        present = frozenset(words)
        count = len(words)
        for anchor in self._anchors_in(present):
            for needed, word_count in self._keywords[anchor]:
                if (word_count is None or word_count == count) and needed <= present:
                    return False
        return True


#: Where inert characters are looked for; anything outside goes the full Unicode way.
#: Latin, Greek and Cyrillic letters, punctuation and symbols, CJK punctuation and kana,
#: and the emoji planes: what texts to a US or European number hold beyond ASCII.
_INERT_SEARCH = (
    (0x0080, 0x0250),
    (0x0370, 0x0530),
    (0x2000, 0x2C00),
    (0x3000, 0x3100),
    (0x1F000, 0x1FB00),
)


@functools.cache
def _inert_characters() -> dict[str, str]:
    """Characters outside ASCII that normalisation can never turn into part of an ASCII word.

    Each maps to what normalisation makes of it. Each stays outside ASCII after NFKC and
    casefolding, is no combining mark (which could compose with its neighbour) and is not
    removed as invisible (which would join its neighbours). Such a character separates the
    ASCII words around it just as a space does. Curly apostrophes count: normalisation
    makes them "'", a separator too. Computed once, on the first text outside ASCII.
    """
    inert: dict[str, str] = {}
    for start, stop in _INERT_SEARCH:
        for code in range(start, stop):
            char = chr(code)
            if code in _INVISIBLE:
                replacement = _INVISIBLE[code]
                if replacement is not None and all(ord(c) < 128 and not c.isalnum() for c in replacement):
                    inert[char] = replacement
                continue
            if unicodedata.category(char)[0] in "MC":
                continue
            folded = unicodedata.normalize("NFKC", char).casefold()
            if folded and all(ord(c) >= 128 and unicodedata.category(c)[0] != "M" for c in folded):
                inert[char] = folded
    return inert


def _is_word(char: str) -> bool:
    """Tell whether ``char`` is a regex word character, which needs a word boundary."""
    return re.match(r"\w", char) is not None


# A character trie; the key "" marks the end of a word.
_Trie: TypeAlias = "dict[str, _Trie]"


def _alternation(node: _Trie, previous: str) -> str:
    """Turn a trie node into a regex that prefers the longest word, bounded as a word.

    Words that start or end with a word character need a word boundary there ("stop" is
    not in "nonstop" or "stopped"); emoticons need none ("ok🛑"). The leading boundary is
    a lookbehind placed after the first character, so that each top-level branch starts
    with a literal and the regex engine can skip straight to the characters that can
    start a word instead of trying every branch at every position.
    """
    branches = [
        re.escape(char) + (r"(?<!\w.)" if not previous and _is_word(char) else "") + _alternation(child, char)
        for char, child in sorted(node.items())
        if char
    ]
    if "" in node:
        branches.append(r"(?!\w)" if _is_word(previous) else "")
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def _scan_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """Compile one regex that finds any of ``words`` as a whole word, longest first."""
    trie: _Trie = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return re.compile(_alternation(trie, "") if trie else r"(?!)", re.DOTALL)


def _character_class(chars: Iterable[str]) -> str:
    """A regex character class body for ``chars``, as ranges of consecutive code points."""
    codes = sorted(ord(char) for char in chars)
    ranges: list[str] = []
    index = 0
    while index < len(codes):
        first = last = codes[index]
        while index + 1 < len(codes) and codes[index + 1] == last + 1:
            index += 1
            last = codes[index]
        ranges.append(f"\\U{first:08x}" if first == last else f"\\U{first:08x}-\\U{last:08x}")
        index += 1
    return "".join(ranges)


_OTHER = Classification(Intent.OTHER, None)


def _joined_every_way(keywords: set[str]) -> set[str]:
    """Add the spellings people use for a two-word keyword: "opt out", "opt-out", "opt_out"."""
    spelled = set(keywords)
    for keyword in keywords:
        words = re.split(r"[ _-]", keyword)
        if len(words) > 1 and all(words):
            spelled.update(joiner.join(words) for joiner in (" ", "-", "_"))
    return spelled


class Classifier:
    """Classify inbound texts against configurable keyword lists.

    Everything is normalised and compiled once, here: classifying an ordinary ASCII text
    is a bytes translation and a set check, and a keyword is one dict lookup.
    """

    def __init__(
        self,
        *,
        opt_out: Iterable[str] = DEFAULT_OPT_OUT_KEYWORDS,
        opt_in: Iterable[str] = DEFAULT_OPT_IN_KEYWORDS,
        help: Iterable[str] = DEFAULT_HELP_KEYWORDS,
    ) -> None:
        opt_out_words = _joined_every_way(_normalized(opt_out)) | set(OPT_OUT_EMOTICONS)
        # Lowest priority first, so that a word in two lists keeps the stronger intent:
        # opt-out > opt-in > YES > HELP.
        self._exact: dict[str, Classification] = {}
        for intent, words in (
            (Intent.HELP, _normalized(help)),
            (Intent.YES, _normalized(YES_KEYWORDS)),
            (Intent.OPT_IN, _normalized(opt_in)),
            (Intent.OPT_OUT, opt_out_words),
        ):
            self._exact.update((word, Classification(intent, word)) for word in words)
        self._phrases = frozenset(_normalized(REVOCATION_PHRASES) - opt_out_words)
        self._scan = _scan_pattern(opt_out_words | self._phrases)
        self._exact_words = {
            word.encode(): classification
            for word, classification in self._exact.items()
            if word.isascii() and word.isalnum()
        }
        # Filters on the ASCII words of a text. An ASCII text can hold only the ASCII
        # keywords. A text with inert characters can also hold a keyword like "no más",
        # whose "á" it may spell "á" or "Á", both inert: the inert characters are spaces
        # to the filter, so such a keyword is filed under its ASCII words ("no", "m", "s").
        # Keywords with no ASCII word (the emoticons) cannot be filed: their characters
        # are never inert, so a text that could hold one always takes the full path.
        ascii_keywords: list[tuple[list[bytes], int | None]] = []
        other_keywords: list[tuple[list[bytes], int | None]] = []
        self._unfiled_characters: set[str] = set()
        for word in (*self._exact, *self._phrases):
            word_list = _ascii_words(word)
            if not word_list:
                self._unfiled_characters.update(word)
                continue
            whole_message_only = word in self._exact and self._exact[word].intent is not Intent.OPT_OUT
            entry = (word_list, len(word_list) if whole_message_only else None)
            (ascii_keywords if word.isascii() else other_keywords).append(entry)
        self._ascii_filter = _WordFilter(ascii_keywords)
        self._inert_filter = _WordFilter(ascii_keywords + other_keywords)
        self._shares_no_anchor = self._ascii_filter.shares_no_anchor

    @functools.cached_property
    def _all_inert(self) -> t.Callable[[str], object]:
        """``fullmatch`` of a pattern for texts whose every character is ASCII or inert."""
        unfiled = self._unfiled_characters
        inert = [char for char, folded in _inert_characters().items() if unfiled.isdisjoint(folded)]
        return re.compile("[\\x00-\\x7f" + _character_class(inert) + "]*").fullmatch

    def classify(self, text: str) -> Classification:
        """Return the intent of one inbound text; never raises on any ``str``."""
        if text.isascii():
            words = text.encode().translate(_WORDS).split()
            if self._shares_no_anchor(words):
                # Most texts: no word of any keyword or phrase, so nothing to normalise or scan.
                return _OTHER
            if len(words) == 1:
                # One ASCII word is a keyword or nothing: no phrase or repeat fits in it.
                return self._exact_words.get(words[0], _OTHER)
            if self._ascii_filter.holds_none(words):
                return _OTHER
        elif self._all_inert(text) is not None:
            # Emoji, accents, curly quotes: they only separate the ASCII words, as spaces do.
            words = text.encode().translate(_WORDS).split()
            if self._inert_filter.shares_no_anchor(words) or self._inert_filter.holds_none(words):
                return _OTHER
        key = normalize(text)
        hit = self._exact.get(key)
        if hit is not None:
            return hit
        return self._classify_mention(key)

    def _classify_mention(self, key: str) -> Classification:
        """Tell a repeated keyword ("stop stop", "🛑🛑") from a keyword or phrase in a sentence."""
        first: str | None = None
        phrase: str | None = None
        only_keywords = True
        end = 0
        for match in self._scan.finditer(key):
            word = match.group()
            first = first or word
            if word in self._phrases:
                phrase = phrase or word
                only_keywords = False
            elif key[end : match.start()].strip(_SEPARATORS):
                only_keywords = False
            end = match.end()
        if first is None:
            return _OTHER
        if only_keywords and not key[end:].strip(_SEPARATORS):
            return Classification(Intent.OPT_OUT, first)
        return Classification(Intent.REVIEW, phrase or first)


_DEFAULT_CLASSIFIER = Classifier()


def classify(text: str) -> Classification:
    """Classify ``text`` with the default keyword lists."""
    return _DEFAULT_CLASSIFIER.classify(text)
