"""Fuzzing templates through the store: random bodies saved, random host contexts rendered.

``tests/test_messages.py`` fuzzes the pure renderer. These go through ``itms``: a random
body is either refused when saved (``TemplateError``) or saved, and a saved template then
renders without error for any host context that still provides its names; the text
that comes out never holds a placeholder of a known name, never evaluates anything, and
never re-expands a value that itself looks like a placeholder.
"""

from __future__ import annotations

import typing as t

from conftest import POSTGRES_URL
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_itms import ITMSError, SystemTemplateError, TemplateError
from flask_itms.messages import placeholders, segments

FUZZ = settings(
    max_examples=150 if POSTGRES_URL is None else 50,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

NAMES = st.sampled_from(
    ["customer.companyName", "customer.phone", "phone", "agent.name", "balance", "x.y.z", "__class__"]
)
PIECES = st.one_of(
    st.text(max_size=12),
    NAMES.map(lambda name: "${" + name + "}"),
    st.sampled_from(["${", "}", "$", "${}", "${ phone }", "${1abc}", "${a..b}", "$${phone}", "{{ 7*7 }}", "%(x)s"]),
)
BODIES = st.lists(PIECES, min_size=1, max_size=8).map("".join)
VALUES = st.one_of(
    st.text(max_size=15),
    st.sampled_from(["${phone}", "${customer.phone}", "{{ config }}", "\x00", ""]),
    st.integers(),
    st.none(),
)
CONTEXTS = st.fixed_dictionaries(
    {},
    optional={
        "agent": st.fixed_dictionaries({}, optional={"name": VALUES}),
        "balance": VALUES,
        "x": st.fixed_dictionaries({}, optional={"y": st.fixed_dictionaries({}, optional={"z": VALUES})}),
    },
)


@FUZZ
@given(body=BODIES, context=CONTEXTS, number=st.integers(0, 10**6))
def test_a_random_template_is_refused_on_save_or_renders(
    app: Flask, itms: t.Any, db: t.Any, body: str, context: dict[str, t.Any], number: int
) -> None:
    itms._template_context = lambda phone: context
    identifier = f"FUZZ_{number}"
    try:
        itms.create_template(identifier, label="Fuzz", body=body)
    except TemplateError:
        db.session.rollback()
        return
    except ITMSError as error:  # an identifier already taken by an earlier example
        db.session.rollback()
        assert "already exists" in str(error)
        return
    db.session.commit()
    rendered = itms.render(identifier, "+12015550123")
    assert isinstance(rendered, str)
    for name in placeholders(rendered):
        # A well-formed placeholder may survive only as text a value brought in.
        assert "${" + name + "}" not in body or any(
            "${" + name + "}" in str(value) for value in [*_values(context), "+12015550123", "Acme Recovery"]
        )
    assert "49" not in rendered or "49" in body or any("49" in str(value) for value in _values(context))
    segments(rendered)  # the editor's counter takes anything rendering gives it


def _values(context: t.Mapping[str, t.Any]) -> list[t.Any]:
    found: list[t.Any] = []
    for value in context.values():
        found += _values(value) if isinstance(value, t.Mapping) else [value]
    return found


@FUZZ
@given(body=BODIES)
def test_a_random_system_template_body_is_refused_or_renders(app: Flask, itms: t.Any, db: t.Any, body: str) -> None:
    try:
        itms.update_template("ACE_SYSTEM_MSG_HELP", body=body)
    except TemplateError:
        db.session.rollback()
        return
    db.session.commit()
    assert isinstance(itms.render("ACE_SYSTEM_MSG_HELP", "+12015550123"), str)
    for forbidden in (
        lambda: itms.delete_template("ACE_SYSTEM_MSG_HELP"),
        lambda: itms.clone_template("ACE_SYSTEM_MSG_HELP", "COPY"),
    ):
        try:
            forbidden()
        except SystemTemplateError:
            db.session.rollback()
        else:
            raise AssertionError("a system template was deleted or cloned")
