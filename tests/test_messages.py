"""System templates, placeholder rendering and segment counting (flask_itms.messages)."""

from __future__ import annotations

import math
import types
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_itms.errors import ITMSError, TemplateError
from flask_itms.messages import (
    AUTH_CODE,
    HELP,
    OPT_IN,
    OPTED_IN,
    OPTED_OUT,
    SYSTEM_PREFIX,
    SYSTEM_TEMPLATES,
    Segments,
    check_placeholders,
    context_names,
    is_system_identifier,
    placeholders,
    render,
    segments,
)

CONTEXT: dict[str, object] = {
    "customer": {"companyName": "Acme Recovery", "phone": "+18005550100"},
    "authCode": "123456",
}
LONG_NAME_CONTEXT: dict[str, object] = {
    "customer": {
        "companyName": "Consolidated Regional Credit Recovery Services LLC",
        "phone": "+18005550100",
    },
    "authCode": "12345678",
}

# 3GPP TS 23.038 default alphabet, written out independently of the module under test.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039eÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\f^{}\\[~]|€"

NO_DATABASE = settings(database=None)  # keep hypothesis from writing into the tree


def rendered(identifier: str, context: Mapping[str, object] = CONTEXT) -> str:
    return render(SYSTEM_TEMPLATES[identifier].body, context)


# --- system templates --------------------------------------------------------------------


def test_seed_opt_in_template_is_verbatim() -> None:
    template = SYSTEM_TEMPLATES[OPT_IN]
    assert template.identifier == "ACE_SYSTEM_MSG_OPT_IN"
    assert template.label == "Ace System Msg Opt In"
    assert template.body == (
        "Reply YES to receive msgs from ${customer.companyName}. Reply HELP for help,"
        " STOP to cancel. Std. msg&data rates apply."
    )


def test_seed_opted_in_template_is_verbatim() -> None:
    template = SYSTEM_TEMPLATES[OPTED_IN]
    assert template.identifier == "ACE_SYSTEM_MSG_OPTED_IN"
    assert template.label == "Ace System Msg Opted In"
    assert template.body == (
        "Thank you for agreeing to receive msgs from ${customer.companyName}. Reply HELP for"
        " help, STOP to opt out. Std. msg&data rates apply."
    )


def test_system_templates_are_the_five_in_order() -> None:
    assert list(SYSTEM_TEMPLATES) == [
        "ACE_SYSTEM_MSG_OPT_IN",
        "ACE_SYSTEM_MSG_OPTED_IN",
        "ACE_SYSTEM_MSG_AUTH_CODE",
        "ACE_SYSTEM_MSG_OPTED_OUT",
        "ACE_SYSTEM_MSG_HELP",
    ]
    assert list(SYSTEM_TEMPLATES) == [OPT_IN, OPTED_IN, AUTH_CODE, OPTED_OUT, HELP]
    assert SYSTEM_TEMPLATES[AUTH_CODE].label == "Ace System Msg Auth Code"
    assert SYSTEM_TEMPLATES[OPTED_OUT].label == "Ace System Msg Opted Out"
    assert SYSTEM_TEMPLATES[HELP].label == "Ace System Msg Help"


@pytest.mark.parametrize("identifier", list(SYSTEM_TEMPLATES))
def test_system_template_shape(identifier: str) -> None:
    template = SYSTEM_TEMPLATES[identifier]
    assert template.identifier == identifier
    assert identifier.startswith(SYSTEM_PREFIX)
    assert template.label.startswith("Ace System Msg ")
    assert template.use_case.startswith("Sent ")
    assert template.use_case.endswith(".")
    assert template.use_case.count(". ") == 0  # one sentence
    with pytest.raises(AttributeError):
        template.body = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("identifier", list(SYSTEM_TEMPLATES))
def test_system_template_renders_in_gsm7_within_one_segment(identifier: str) -> None:
    text = rendered(identifier)
    assert "${" not in text
    assert "Acme Recovery" in text
    assert segments(SYSTEM_TEMPLATES[identifier].body).encoding == "GSM-7"
    assert segments(text) == Segments("GSM-7", len(text), 1)


@pytest.mark.parametrize("identifier", list(SYSTEM_TEMPLATES))
def test_system_template_with_long_company_name_stays_within_two_segments(
    identifier: str,
) -> None:
    result = segments(rendered(identifier, LONG_NAME_CONTEXT))
    assert result.encoding == "GSM-7"
    assert 1 <= result.segments <= 2


@pytest.mark.parametrize("identifier", list(SYSTEM_TEMPLATES))
def test_system_template_placeholders_validate_against_the_default_context(
    identifier: str,
) -> None:
    check_placeholders(SYSTEM_TEMPLATES[identifier].body, context_names(CONTEXT))


@pytest.mark.parametrize("identifier", [OPT_IN, OPTED_IN, AUTH_CODE, HELP])
def test_every_text_but_the_opt_out_confirmation_says_how_to_stop(identifier: str) -> None:
    assert "STOP" in rendered(identifier)  # Reg F 1006.6(e), CTIA


@pytest.mark.parametrize("identifier", [OPT_IN, OPTED_IN])
def test_opt_in_texts_offer_help(identifier: str) -> None:
    assert "Reply HELP" in rendered(identifier)


def test_auth_code_text_carries_the_code_brand_and_stop() -> None:
    text = rendered(AUTH_CODE)
    assert "123456" in text
    assert "Acme Recovery" in text
    assert "Reply STOP" in text
    assert "${authCode}" in SYSTEM_TEMPLATES[AUTH_CODE].body


def test_help_text_meets_ctia() -> None:
    text = rendered(HELP)
    assert "Acme Recovery" in text
    assert "+18005550100" in text
    assert "Msg frequency varies" in text
    assert "Msg&data rates may apply" in text
    assert "Reply STOP to cancel" in text


PROMOTIONAL_WORDS = [
    "$",
    "%",
    "free",
    "offer",
    "discount",
    "save",
    "deal",
    "win",
    "prize",
    "sale",
    "pay",
    "http",
    "www",
    "reply yes",
    "start",
    "call",
]


def test_opt_out_confirmation_names_brand_and_promises_silence() -> None:
    text = rendered(OPTED_OUT)
    assert text.startswith("Acme Recovery")
    assert "no more msgs" in text


@pytest.mark.parametrize("word", PROMOTIONAL_WORDS)
def test_opt_out_confirmation_has_nothing_promotional(word: str) -> None:
    assert word not in rendered(OPTED_OUT).casefold()


@pytest.mark.parametrize("identifier", ["ACE_SYSTEM_MSG_OPT_IN", "ACE_SYSTEM_MSG_CUSTOM", "ace_system_msg_custom"])
def test_system_prefix_is_reserved(identifier: str) -> None:
    assert is_system_identifier(identifier)


@pytest.mark.parametrize("identifier", ["PAYMENT_REMINDER", "MY_ACE_SYSTEM_MSG", "ACE_SYSTEM", ""])
def test_other_identifiers_are_not_system(identifier: str) -> None:
    assert not is_system_identifier(identifier)


# --- placeholders and check_placeholders -------------------------------------------------


def test_placeholders_in_order_and_unique() -> None:
    body = "${b} ${a.x} ${b} $5 {c} ${1+1} ${A_1.b2} ${a.x}"
    assert placeholders(body) == ["b", "a.x", "A_1.b2"]
    assert placeholders("no placeholders") == []


def test_context_names_lists_every_leaf() -> None:
    assert context_names(CONTEXT) == {"customer.companyName", "customer.phone", "authCode"}


def test_context_names_skips_what_no_placeholder_can_reach() -> None:
    context: dict[str, object] = {
        "empty": {},
        "missing": None,
        "a.b": "dotted key",
        "x y": "spaced key",
        "deep": {"er": {"est": 0, "none": None}, 7: "int key"},
    }
    assert context_names(context) == {"deep.er.est"}


def test_context_names_survives_a_context_that_contains_itself() -> None:
    context: dict[str, object] = {"name": "Acme"}
    context["self"] = context
    assert "name" in context_names(context)


@pytest.mark.parametrize(
    "body",
    ["", "plain text", "costs $5 and {braces}", "$ {x}", "${customer.phone} ${authCode}"],
)
def test_check_placeholders_accepts_known_names(body: str) -> None:
    check_placeholders(body, context_names(CONTEXT))


def test_check_placeholders_names_each_unknown_and_lists_the_allowed() -> None:
    with pytest.raises(TemplateError) as caught:
        check_placeholders("${customer.nmae} owes ${balance}. ${customer.phone}", {"customer.phone", "authCode"})
    message = str(caught.value)
    assert "${customer.nmae}" in message
    assert "${balance}" in message
    assert "Unknown placeholder ${customer.phone}" not in message
    assert "${authCode}" in message
    assert "${customer.phone}" in message.split("Allowed")[1]
    assert isinstance(caught.value, ITMSError)


@pytest.mark.parametrize(
    "body",
    [
        "${",
        "end ${",
        "${}",
        "${1+1}",
        "${ customer.phone }",
        "${customer..phone}",
        "${customer.}",
        "${.customer}",
        "${customer-phone}",
        "${customer.phone",
        "${1abc}",
        "${café}",
        "${customer['phone']}",
        "${customer.phone()}",
        "${{customer.phone}}",
    ],
)
def test_check_placeholders_refuses_malformed(body: str) -> None:
    with pytest.raises(TemplateError, match="Malformed placeholder"):
        check_placeholders(body, {"customer.phone", "customer", "café", "1abc"})


# --- render ------------------------------------------------------------------------------


def test_render_fills_nested_and_repeated_names() -> None:
    body = "${customer.companyName} (${customer.companyName}) PIN ${authCode}"
    assert render(body, CONTEXT) == "Acme Recovery (Acme Recovery) PIN 123456"


def test_render_str_converts_values() -> None:
    assert render("${n} ${ok} ${x}", {"n": 42, "ok": True, "x": 1.5}) == "42 True 1.5"


@pytest.mark.parametrize("body", ["$", "$5 off", "pay $", "{customer.phone}", "$ {authCode}", "$$", "$}{", "€5"])
def test_render_leaves_dollar_without_brace_alone(body: str) -> None:
    assert render(body, CONTEXT) == body


def test_render_does_not_rescan_substituted_values() -> None:
    context: dict[str, object] = {"name": "${secret}", "secret": "leaked"}
    assert render("Hi ${name}", context) == "Hi ${secret}"


@pytest.mark.parametrize(
    "body",
    [
        "${__class__}",
        "${customer.__class__}",
        "${customer.__class__.__mro__}",
        "${customer.companyName.__class__}",
        "${customer.companyName.upper}",
        "${customer.items}",
        "${authCode.__len__}",
        "${__builtins__}",
        "${__import__}",
    ],
)
def test_render_never_reaches_attributes(body: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render(body, CONTEXT)
    assert body in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        "${1+1}",
        "${a+1}",
        "${a * 7}",
        "${len(a)}",
        "${a if a else a}",
        "${__import__('os').getcwd()}",
        "${a}}{",  # fine placeholder; the stray braces stay
    ],
)
def test_render_never_evaluates(body: str) -> None:
    context: dict[str, object] = {"a": 1}
    try:
        result = render(body, context)
    except TemplateError:
        return
    assert result == "1}{"  # only the plain placeholder may succeed, and literally


def test_render_refuses_malformed() -> None:
    with pytest.raises(TemplateError, match=r"Malformed placeholder '\$\{1\+1\}'"):
        render("You owe ${1+1}", CONTEXT)


def test_render_does_not_follow_attributes_of_objects() -> None:
    context: dict[str, object] = {"customer": types.SimpleNamespace(companyName="Acme")}
    with pytest.raises(TemplateError, match=r"\$\{customer\.companyName\}"):
        render("${customer.companyName}", context)


def test_render_unknown_placeholder_names_it_and_what_is_available() -> None:
    with pytest.raises(TemplateError) as caught:
        render("Hi from ${customer.nmae}, PIN ${authCode}, ${balance}", CONTEXT)
    message = str(caught.value)
    assert "${customer.nmae}" in message
    assert "${balance}" in message
    assert "${customer.companyName}" in message  # the available names, as a hint


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"customer": None},
        {"customer": {"companyName": None}},
        {"customer": "Acme"},
        {"customer": {"companyName": {"legal": "Acme"}}},
    ],
)
def test_render_refuses_missing_none_and_group_values(context: dict[str, object]) -> None:
    with pytest.raises(TemplateError, match=r"\$\{customer\.companyName\}"):
        render("${customer.companyName}", context)


# --- segments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", Segments("GSM-7", 0, 0)),
        ("a", Segments("GSM-7", 1, 1)),
        ("a" * 160, Segments("GSM-7", 160, 1)),
        ("a" * 161, Segments("GSM-7", 161, 2)),
        ("a" * 153 * 2, Segments("GSM-7", 306, 2)),
        ("a" * (153 * 2 + 1), Segments("GSM-7", 307, 3)),
        ("€" * 80, Segments("GSM-7", 160, 1)),
        ("€" + "a" * 159, Segments("GSM-7", 161, 2)),
        ("[x]" * 40, Segments("GSM-7", 200, 2)),
        # an escape pair never straddles two parts
        ("a" * 152 + "€" + "a" * 152, Segments("GSM-7", 306, 3)),
        ("Ж" * 70, Segments("UCS-2", 70, 1)),
        ("Ж" * 71, Segments("UCS-2", 71, 2)),
        ("Ж" * 67 * 2, Segments("UCS-2", 134, 2)),
        ("Ж" * (67 * 2 + 1), Segments("UCS-2", 135, 3)),
        ("\N{GRINNING FACE}", Segments("UCS-2", 2, 1)),
        ("\N{GRINNING FACE}" * 35, Segments("UCS-2", 70, 1)),
        ("\N{GRINNING FACE}" * 36, Segments("UCS-2", 72, 2)),
        # a surrogate pair never straddles two parts
        ("a" * 66 + "\N{GRINNING FACE}" + "a" * 66, Segments("UCS-2", 134, 3)),
        ("it\N{RIGHT SINGLE QUOTATION MARK}s" + "a" * 66, Segments("UCS-2", 70, 1)),
        ("\N{LEFT DOUBLE QUOTATION MARK}" + "a" * 70, Segments("UCS-2", 71, 2)),
        ("€" * 35 + "Ж", Segments("UCS-2", 36, 1)),  # in UCS-2 "€" is one unit
    ],
)
def test_segment_counts(body: str, expected: Segments) -> None:
    assert segments(body) == expected


def test_whole_gsm7_basic_table_is_one_septet_each() -> None:
    assert len(set(GSM7_BASIC)) == 127
    assert segments(GSM7_BASIC) == Segments("GSM-7", 127, 1)


@pytest.mark.parametrize("char", list(GSM7_EXTENSION))
def test_gsm7_extension_chars_count_two(char: str) -> None:
    assert segments(char) == Segments("GSM-7", 2, 1)
    assert segments("a" * 158 + char) == Segments("GSM-7", 160, 1)
    assert segments("a" * 159 + char).segments == 2


@pytest.mark.parametrize(
    "char",
    [
        "\N{RIGHT SINGLE QUOTATION MARK}",
        "\N{LEFT DOUBLE QUOTATION MARK}",
        "\N{EN DASH}",
        "\N{HORIZONTAL ELLIPSIS}",
        "\N{NO-BREAK SPACE}",
        "\t",
        "`",
        "ç",  # the table has only the capital
        "á",
        "\N{OHM SIGN}",  # the table has GREEK CAPITAL LETTER OMEGA
        "\N{INCREMENT}",  # the table has GREEK CAPITAL LETTER DELTA
        "\N{GREEK SMALL LETTER ALPHA}",
        "\N{OCTAGONAL SIGN}",
    ],
)
def test_characters_outside_gsm7_switch_to_ucs2(char: str) -> None:
    assert segments("Hello " + char).encoding == "UCS-2"


# --- properties --------------------------------------------------------------------------

KEYS = st.sampled_from(["customer", "companyName", "phone", "authCode", "a", "b_1", "__class__", "1", "a.b", "", "x y"])
LEAVES = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=True),
)
CONTEXTS = st.dictionaries(
    KEYS,
    st.recursive(LEAVES, lambda children: st.dictionaries(KEYS, children, max_size=4)),
    max_size=5,
)
PLACEHOLDERS = st.lists(KEYS, min_size=1, max_size=3).map(lambda keys: "${" + ".".join(keys) + "}")
BODIES = st.lists(
    st.one_of(
        st.text(max_size=6),
        st.sampled_from(["${", "$", "{", "}", ".", "${1+1}", "${customer.companyName}"]),
        PLACEHOLDERS,
    ),
    max_size=8,
).map("".join)


def _without_placeholder_openings(text: str) -> str:
    while "${" in text:
        text = text.replace("${", "$")
    return text


@NO_DATABASE
@given(
    body=st.text(alphabet=st.one_of(st.sampled_from("${}."), st.characters())).map(_without_placeholder_openings),
    context=CONTEXTS,
)
def test_render_leaves_text_without_placeholders_unchanged(body: str, context: dict[str, object]) -> None:
    assert render(body, context) == body


@NO_DATABASE
@given(body=BODIES, context=CONTEXTS)
def test_render_returns_text_or_raises_template_error(body: str, context: dict[str, object]) -> None:
    try:
        result = render(body, context)
    except TemplateError:
        return
    assert isinstance(result, str)


@NO_DATABASE
@given(body=BODIES, context=CONTEXTS)
def test_validating_against_context_names_predicts_render(body: str, context: dict[str, object]) -> None:
    try:
        check_placeholders(body, context_names(context))
    except TemplateError:
        with pytest.raises(TemplateError):
            render(body, context)
    else:
        render(body, context)


@NO_DATABASE
@given(body=st.text(alphabet=st.sampled_from(GSM7_BASIC), max_size=700))
def test_gsm7_basic_bodies_count_by_the_book(body: str) -> None:
    result = segments(body)
    assert result.encoding == "GSM-7"
    assert result.characters == len(body)
    if not body:
        assert result.segments == 0
    elif len(body) <= 160:
        assert result.segments == 1
    else:
        assert result.segments == math.ceil(len(body) / 153)
