"""System templates, placeholder rendering and SMS segment counting.

Pure functions with no Flask and no database, so the template editor, the
outbox and the tests all share one definition of what a template means.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping

from flask_itms.errors import TemplateError

__all__ = [
    "AUTH_CODE",
    "HELP",
    "OPTED_IN",
    "OPTED_OUT",
    "OPT_IN",
    "SYSTEM_PREFIX",
    "SYSTEM_TEMPLATES",
    "Segments",
    "SystemTemplate",
    "check_placeholders",
    "context_names",
    "is_system_identifier",
    "placeholders",
    "render",
    "segments",
]


@dataclasses.dataclass(frozen=True)
class SystemTemplate:
    """A predefined text that ACE sends on its own when a consent workflow runs."""

    identifier: str
    label: str
    use_case: str
    body: str


SYSTEM_PREFIX = "ACE_SYSTEM_MSG"

OPT_IN = "ACE_SYSTEM_MSG_OPT_IN"
OPTED_IN = "ACE_SYSTEM_MSG_OPTED_IN"
AUTH_CODE = "ACE_SYSTEM_MSG_AUTH_CODE"
OPTED_OUT = "ACE_SYSTEM_MSG_OPTED_OUT"
HELP = "ACE_SYSTEM_MSG_HELP"

SYSTEM_TEMPLATES: dict[str, SystemTemplate] = {
    template.identifier: template
    for template in (
        SystemTemplate(
            identifier=OPT_IN,
            label="Ace System Msg Opt In",
            use_case=(
                "Sent when an agent sends an opt-in request or uses Quick Opt In, or when"
                " a supervisor links an unknown number to an account."
            ),
            body=(
                "Reply YES to receive msgs from ${customer.companyName}."
                " Reply HELP for help, STOP to cancel. Std. msg&data rates apply."
            ),
        ),
        SystemTemplate(
            identifier=OPTED_IN,
            label="Ace System Msg Opted In",
            use_case=(
                "Sent when opt-in completes: the agent enters the right PIN, the consumer"
                " replies YES to a quick or supervisor request or texts START, or the host"
                " auto opts the number in."
            ),
            body=(
                "Thank you for agreeing to receive msgs from ${customer.companyName}."
                " Reply HELP for help, STOP to opt out. Std. msg&data rates apply."
            ),
        ),
        SystemTemplate(
            identifier=AUTH_CODE,
            label="Ace System Msg Auth Code",
            use_case=(
                "Sent when the consumer replies YES to an agent's opt-in request, carrying"
                " the PIN the agent enters in Txt Msg Auth Code."
            ),
            body=(
                "${customer.companyName}: your opt-in PIN is ${authCode}."
                " Give it to your agent to finish. Reply STOP to cancel."
            ),
        ),
        SystemTemplate(
            identifier=OPTED_OUT,
            label="Ace System Msg Opted Out",
            use_case=(
                "Sent once when the consumer opts out by keyword or emoticon, or an agent"
                " opts the number out, to confirm that no more msgs will follow."
            ),
            body=("${customer.companyName}: You are opted out and will receive no more msgs from us."),
        ),
        SystemTemplate(
            identifier=HELP,
            label="Ace System Msg Help",
            use_case="Sent whenever the consumer texts HELP or INFO, whatever the consent status.",
            body=(
                "${customer.companyName}: For help call ${customer.phone}."
                " Msg frequency varies. Msg&data rates may apply. Reply STOP to cancel."
            ),
        ),
    )
}


def is_system_identifier(identifier: str) -> bool:
    """Whether ``identifier`` is in the reserved system namespace.

    Case is ignored so that an agent template cannot pass itself off as a system one
    with a differently cased name.
    """
    return identifier.upper().startswith(SYSTEM_PREFIX)


# ASCII only: a placeholder must read the same to every editor and every font.
_SEGMENT_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
_SEGMENT = re.compile(_SEGMENT_PATTERN)
# Every "${" is a token; the name group is missing when the placeholder is malformed.
_TOKEN = re.compile(r"\$\{(?:(?P<name>" + _SEGMENT_PATTERN + r"(?:\." + _SEGMENT_PATTERN + r")*)\})?")
# What to quote of a malformed placeholder: up to its "}", stopping before the next one.
_MALFORMED_EXCERPT = re.compile(r"\$\{[^${}]{0,30}\}?")


def placeholders(body: str) -> list[str]:
    """The dotted names of the well-formed placeholders in ``body``, first use first."""
    names: dict[str, None] = {}
    for match in _TOKEN.finditer(body):
        name = match.group("name")
        if name is not None:
            names.setdefault(name, None)
    return list(names)


def _malformed(body: str) -> list[str]:
    """Excerpts of each "${" that does not open a valid placeholder, for error messages."""
    excerpts = []
    for match in _TOKEN.finditer(body):
        if match.group("name") is None:
            excerpt = _MALFORMED_EXCERPT.match(body, match.start())
            excerpts.append(excerpt.group() if excerpt else match.group())
    return excerpts


def _malformed_problems(body: str) -> list[str]:
    return [
        f"Malformed placeholder {excerpt!r}: write ${{name}} or ${{dotted.name}} using only"
        " letters, digits and underscores."
        for excerpt in _malformed(body)
    ]


def _listing(names: Collection[str]) -> str:
    return ", ".join(f"${{{name}}}" for name in sorted(names)) or "none"


def check_placeholders(body: str, allowed: Collection[str]) -> None:
    """Refuse a template that could not render, so that it fails when saved, not when sent."""
    problems = _malformed_problems(body)
    unknown = [name for name in placeholders(body) if name not in allowed]
    problems.extend(f"Unknown placeholder ${{{name}}}." for name in unknown)
    if problems:
        if unknown:
            problems.append(f"Allowed placeholders: {_listing(allowed)}.")
        raise TemplateError(" ".join(problems))


def _lookup(name: str, context: Mapping[str, object]) -> str | None:
    """The text for ``name``, or None when the context cannot supply one.

    Only mapping keys are followed, never attributes, so a template cannot reach into
    Python objects. A group (a mapping) or None is not a value to send.
    """
    current: object = context
    for segment in name.split("."):
        if not isinstance(current, Mapping) or segment not in current:
            return None
        current = current[segment]
    if current is None or isinstance(current, Mapping):
        return None
    return str(current)


def render(body: str, context: Mapping[str, object]) -> str:
    """Fill each ``${dotted.name}`` from ``context``; nothing is ever evaluated.

    Substituted values are not scanned again, so a value holding "${...}" stays literal.
    """
    problems = _malformed_problems(body)
    values: dict[str, str] = {}
    unknown = []
    for name in placeholders(body):
        value = _lookup(name, context)
        if value is None:
            unknown.append(name)
        else:
            values[name] = value
    problems.extend(f"Unknown placeholder ${{{name}}}." for name in unknown)
    if problems:
        if unknown:
            problems.append(f"The context provides: {_listing(context_names(context))}.")
        raise TemplateError(" ".join(problems))
    return _TOKEN.sub(lambda match: values[match.group("name")], body)


def context_names(context: Mapping[str, object]) -> set[str]:
    """Every dotted name that ``render`` can fill from ``context``, to validate on save."""
    names: set[str] = set()
    _collect_names(context, "", names, frozenset())
    return names


def _collect_names(mapping: Mapping[str, object], prefix: str, names: set[str], ancestors: frozenset[int]) -> None:
    if id(mapping) in ancestors:  # a context that contains itself has no end
        return
    ancestors |= {id(mapping)}
    for key, value in mapping.items():
        if not isinstance(key, str) or not _SEGMENT.fullmatch(key):
            continue  # no placeholder can name this key
        if isinstance(value, Mapping):
            _collect_names(value, f"{prefix}{key}.", names, ancestors)
        elif value is not None:
            names.add(prefix + key)


# 3GPP TS 23.038 GSM 7-bit default alphabet, in table order (0x1B, the escape, omitted).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039eÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as escape plus one septet, so it costs two.
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

_GSM7_SINGLE, _GSM7_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67


@dataclasses.dataclass(frozen=True)
class Segments:
    """How a body travels: its encoding, its length in that encoding, and the SMS parts."""

    encoding: str
    characters: int
    segments: int


def segments(body: str) -> Segments:
    """Count the SMS segments a carrier will bill for ``body``.

    A split message never breaks an escape pair or a surrogate pair across parts, so
    parts are packed character by character rather than by dividing the total.
    """
    widths: list[int]
    if all(char in _GSM7_BASIC or char in _GSM7_EXTENSION for char in body):
        encoding, single, part = "GSM-7", _GSM7_SINGLE, _GSM7_PART
        widths = [2 if char in _GSM7_EXTENSION else 1 for char in body]
    else:
        encoding, single, part = "UCS-2", _UCS2_SINGLE, _UCS2_PART
        widths = [len(char.encode("utf-16-le", "surrogatepass")) // 2 for char in body]
    total = sum(widths)
    if total == 0:
        count = 0
    elif total <= single:
        count = 1
    else:
        count, used = 1, 0
        for width in widths:
            if used + width > part:
                count, used = count + 1, 0
            used += width
    return Segments(encoding=encoding, characters=total, segments=count)
