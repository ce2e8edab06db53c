"""The campaign gate's shortcut: numbers already in E.164 skip phonenumbers, exactly.

``itms.textable()`` takes a North American number written as E.164 ("+1" and ten
digits, the first 2-9) as it is, because phonenumbers reads such a string back as
itself or as an invalid number, and no consent row holds an invalid number. These tests
hold phonenumbers to that over every area code, and hold ``textable()`` to the answer of
parsing every number, on random lists in every format.
"""

from __future__ import annotations

import random
import typing as t

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_itms.consent import _NANP_E164
from flask_itms.phones import try_e164

# The fixture is only read, never changed, so one database serves every example.
FUZZ = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def test_every_area_code_reads_back_as_itself_or_invalid() -> None:
    rng = random.Random(1)
    for area in range(200, 1000):
        for _ in range(3):
            number = f"+1{area}{rng.randint(0, 9_999_999):07d}"
            assert _NANP_E164.fullmatch(number)
            assert try_e164(number) in (number, None), number


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.from_regex(r"\A\+1[2-9][0-9]{9}\Z"))
def test_a_shortcut_number_is_its_own_e164_or_invalid(number: str) -> None:
    assert try_e164(number) in (number, None)


def test_the_shortcut_leaves_other_forms_to_phonenumbers() -> None:
    for number in ("+1 201 555 0123", "+12015550123 ", "+1201555012", "+112015550123", "+10015550123", "2015550123"):
        assert not _NANP_E164.fullmatch(number), number


STORED = [
    "+12015550123",
    "+12015550124",
    "+12015550125",
    "+12015550126",
    "+13125550100",
    "+14155550199",
    "+447911123456",
    "+5491123456789",
]
STATUSES = ["opted_in", "opted_in", "opted_out", "pending", "opted_in", "opted_in", "opted_in", "opted_in"]
HELD = {"+12015550126"}


def spellings(e164: str) -> list[object]:
    """Ways a CRM might hold one number: E.164, national, spaced, MessageBird's digits."""
    forms: list[object] = [e164, e164.lstrip("+"), " " + e164]
    if e164.startswith("+1"):
        national = e164[2:]
        forms += [
            f"({national[:3]}) {national[3:6]}-{national[6:]}",
            f"1-{national[:3]}-{national[3:6]}-{national[6:]}",
        ]
    return forms


JUNK: list[object] = ["", "not a number", "+1", "+10000000000", "+19995550123", "+12005550123", None, 12015550123, "☎"]


@pytest.fixture
def gate(app: Flask, itms: t.Any, db: t.Any) -> t.Any:
    Consent = itms.models.Consent
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    for phone, status in zip(STORED, STATUSES, strict=True):
        db.session.add(
            Consent(
                phone=phone,
                status=status,
                on_hold=phone in HELD,
                auth_code_attempts=0,
                created_at=now,
                updated_at=now,
            )
        )
    db.session.commit()
    return itms


@FUZZ
@given(
    picks=st.lists(
        st.one_of(
            st.sampled_from([*STORED, "+12015559999", "+447700900123"]).flatmap(
                lambda e: st.sampled_from(spellings(e))
            ),
            st.sampled_from(JUNK),
        ),
        max_size=25,
    )
)
def test_textable_agrees_with_parsing_every_number(gate: t.Any, picks: list[object]) -> None:
    textable = {
        phone for phone, status in zip(STORED, STATUSES, strict=True) if status == "opted_in" and phone not in HELD
    }
    expected = {e164 for pick in picks if (e164 := try_e164(pick)) is not None and e164 in textable}
    assert gate.textable(picks) == expected
