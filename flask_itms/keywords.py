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
import re
import string
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


class Intent(str, enum.Enum):
    """What an inbound text asks for; a ``str`` so it can be stored and compared as text."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    YES = "yes"
    HELP = "help"
    REVIEW = "review"
    OTHER = "other"


@dataclasses.dataclass(frozen=True)
class Classification:
    """An intent and the normalised keyword that caused it, kept as consent evidence."""

    intent: Intent
    keyword: str | None


#: The source document's 18 keywords, the uncensored profanities, "stop all" and
#: common Spanish stop words. "no mas" is "no más" as typed without the accent.
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
#: skin tones are stripped before matching, so "⛔️" and "🖕🏽" match too.
OPT_OUT_EMOTICONS: tuple[str, ...] = (
    "\N{OCTAGONAL SIGN}",  # 🛑 stop sign
    "\N{NO ENTRY SIGN}",  # 🚫
    "\N{CROSS MARK}",  # ❌
    "\N{NO ENTRY}",  # ⛔
    "\N{BELL WITH CANCELLATION STROKE}",  # 🔕 bell with slash
    "\N{MOBILE PHONE OFF}",  # 📴
    "\N{REVERSED HAND WITH MIDDLE FINGER EXTENDED}",  # 🖕 middle finger
)

DEFAULT_OPT_IN_KEYWORDS: tuple[str, ...] = ("start", "unstop", "resume")
DEFAULT_HELP_KEYWORDS: tuple[str, ...] = ("help", "info")

#: Only "yes": it completes an opt-in, so it stays as strict as the request that asks
#: for it ("Reply YES"). "y", "yeah" or "yes please" are ordinary messages.
YES_KEYWORDS: tuple[str, ...] = ("yes",)

#: Wording that a reasonable person reads as revocation (FCC 24-24) although it holds
#: no keyword, or holds one that alone would be ambiguous. Found anywhere in a text,
#: it puts the consent on hold for review; it never opts out on its own.
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

# Zero-width and other format characters, variation selectors, skin tones and emoji
# tag characters: invisible, but enough to defeat an exact match.
_INVISIBLE: dict[int, str | None] = dict.fromkeys(
    (
        173,
        6158,
        *range(8203, 8208),
        *range(8234, 8239),
        *range(8288, 8293),
        *range(8294, 8298),
        65279,
        *range(65024, 65040),
        *range(127995, 128000),
        *range(917536, 917632),
    )
)
# Phones type curly apostrophes; NFKC leaves them, so fold them for "don't text me".
_INVISIBLE.update({0x2018: "'", 0x2019: "'", 0x201B: "'", 0x02BC: "'"})

_ASCII_EDGE = string.whitespace + string.punctuation
# What may surround a keyword or sit between repeated ones without changing its sense.
_EDGE = (
    _ASCII_EDGE + "\u00a0\u3000¡¿«»‘’‚‛“”„‟‹›‐‑‒–—―…·•′″‼⁇⁈⁉" + "。、，．！？：；（）［］｛｝「」『』【】〈〉《》〔〕"
)


def normalize(text: str) -> str:
    """Reduce a text to the one form keywords are compared in.

    NFKC and casefold make "ＳＴＯＰ" and "Stop" equal; invisible characters are dropped
    because they change nothing a reader sees; edge punctuation and repeated spaces go
    so that " Stop. " is "stop".
    """
    if text.isascii():
        # NFKC and the invisible characters are no-ops on ASCII: skip them.
        key = text.lower().strip(_ASCII_EDGE)
        if "  " in key or not key.isprintable():
            key = " ".join(key.split())
        return key
    key = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).casefold()
    return " ".join(key.split()).strip(_EDGE)


def _is_word(char: str) -> bool:
    """Tell whether ``char`` is a regex word character, which needs a word boundary."""
    return re.match(r"\w", char) is not None


# A character trie; the key "" marks the end of a word.
_Trie: TypeAlias = "dict[str, _Trie]"


def _alternation(node: _Trie, last: str) -> str:
    """Turn a trie node into a regex that prefers the longest word, bounded as a word."""
    branches = [re.escape(char) + _alternation(child, char) for char, child in sorted(node.items()) if char]
    if "" in node:
        # End of a word: it must not run into a longer word ("stop" in "stopped").
        branches.append(r"(?!\w)" if _is_word(last) else "")
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def _scan_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """Compile one regex that finds any of ``words`` as a whole word.

    It is a trie, so the regex engine does not retry every word at every position, and
    each top-level branch starts with a literal so the engine can skip to the
    characters that can start a word. The leading word boundary is a lookbehind placed
    after that first literal, for the same reason.
    """
    trie: _Trie = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    if not trie:
        return re.compile(r"(?!)")
    branches = [
        re.escape(char) + (r"(?<!\w.)" if _is_word(char) else "") + _alternation(child, char)
        for char, child in sorted(trie.items())
    ]
    return re.compile("|".join(branches), re.DOTALL)


_OTHER = Classification(Intent.OTHER, None)


class Classifier:
    """Classify inbound texts against configurable keyword lists.

    All lists are normalised and compiled once here, so :meth:`classify` is a dict
    lookup plus, for texts that are not a keyword, one regex scan.
    """

    def __init__(
        self,
        *,
        opt_out: Iterable[str] = DEFAULT_OPT_OUT_KEYWORDS,
        opt_in: Iterable[str] = DEFAULT_OPT_IN_KEYWORDS,
        help: Iterable[str] = DEFAULT_HELP_KEYWORDS,
    ) -> None:
        opt_out_words = {normalize(word) for word in (*opt_out, *OPT_OUT_EMOTICONS)}
        opt_out_words.discard("")
        # Lowest priority first, so that a word in two lists keeps the stronger intent:
        # opt-out > opt-in > YES > HELP.
        self._exact: dict[str, Classification] = {}
        for intent, words in (
            (Intent.HELP, help),
            (Intent.YES, YES_KEYWORDS),
            (Intent.OPT_IN, opt_in),
            (Intent.OPT_OUT, opt_out_words),
        ):
            for word in words:
                key = normalize(word)
                if key:
                    self._exact[key] = Classification(intent, key)
        phrases = {normalize(phrase) for phrase in REVOCATION_PHRASES}
        self._phrases = frozenset(phrases - opt_out_words - {""})
        self._scan = _scan_pattern(opt_out_words | self._phrases)

    def classify(self, text: str) -> Classification:
        """Return the intent of one inbound text; never raises on any ``str``."""
        if text.isascii():
            # normalize() inlined: this is the path nearly every message takes.
            key = text.lower().strip(_ASCII_EDGE)
            if "  " in key or not key.isprintable():
                key = " ".join(key.split())
        else:
            key = normalize(text)
        hit = self._exact.get(key)
        if hit is not None:
            return hit
        if self._scan.search(key) is None:
            return _OTHER
        return self._classify_mention(key)

    def _classify_mention(self, key: str) -> Classification:
        """Tell a repeated keyword ("stop stop", "🛑🛑") from a keyword in a sentence."""
        first: str | None = None
        phrase: str | None = None
        only_keywords = True
        end = 0
        for match in self._scan.finditer(key):
            word = match.group()
            if first is None:
                first = word
            if word in self._phrases:
                only_keywords = False
                if phrase is None:
                    phrase = word
            elif key[end : match.start()].strip(_EDGE):
                only_keywords = False
            end = match.end()
        if first is None:  # pragma: no cover - search() found a match already
            return _OTHER
        if only_keywords and not key[end:].strip(_EDGE):
            return Classification(Intent.OPT_OUT, first)
        return Classification(Intent.REVIEW, phrase or first)


_DEFAULT_CLASSIFIER = Classifier()


def classify(text: str) -> Classification:
    """Classify ``text`` with the default keyword lists."""
    return _DEFAULT_CLASSIFIER.classify(text)
