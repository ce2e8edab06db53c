"""The forms behind the panel, the queue and the Text Msg Profile, each with a CSRF token.

The templates write their own HTML (so ids stay unique when several panels share a page);
these classes validate what comes back.
"""

from __future__ import annotations

import re
import typing as t

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import URL, AnyOf, DataRequired, Length, Optional, Regexp, ValidationError

_IDENTIFIER = r"^[A-Za-z0-9_]+$"
_IDENTIFIER_HELP = "Use letters, digits and underscores only."
_PIN = re.compile(r"\d{4,10}")


class PanelForm(FlaskForm):  # type: ignore[misc]
    """A panel button: where to go back to, and the host's account reference."""

    next = HiddenField()
    account = HiddenField(validators=[Optional(), Length(max=128)])


def _pin_digits(form: t.Any, field: t.Any) -> None:
    if not _PIN.fullmatch("".join(str(field.data or "").split())):
        raise ValidationError("Type the PIN the consumer read to you: digits only.")


class AuthCodeForm(PanelForm):
    code = StringField(
        "Txt Msg Auth Code",
        validators=[DataRequired("Type the PIN the consumer read to you."), _pin_digits],
    )


class OptOutForm(PanelForm):
    confirm = HiddenField(validators=[AnyOf(["yes"], message="Confirm the opt-out first.")])


class LinkForm(FlaskForm):  # type: ignore[misc]
    """Supervisor queue: link an unknown number to an account."""

    phone = HiddenField(validators=[DataRequired("Which number? Reload the queue and try again.")])
    account = StringField(
        "Account",
        validators=[DataRequired("Pick the account to link this number to."), Length(max=128)],
    )


class TemplateForm(FlaskForm):  # type: ignore[misc]
    """The editable parts of a template; system templates use only body, payment flag and MMS."""

    label = StringField("Label", validators=[Optional(), Length(max=128)])
    use_case = TextAreaField("Use case", validators=[Optional(), Length(max=2000)])
    body = TextAreaField(
        "Body", validators=[DataRequired("A template needs a body."), Length(max=1600)], filters=[str.strip]
    )
    allow_as_payment_source = BooleanField("Allow as payment source")
    mms_url = StringField(
        "MMS attachment URL",
        validators=[Optional(), URL(message="Give the attachment's full http(s) address."), Length(max=512)],
    )


class NewTemplateForm(TemplateForm):
    identifier = StringField(
        "Identifier",
        validators=[
            DataRequired("Give the template an identifier."),
            Length(max=64),
            Regexp(_IDENTIFIER, message=_IDENTIFIER_HELP),
        ],
    )


class CloneForm(FlaskForm):  # type: ignore[misc]
    new_identifier = StringField(
        "New identifier",
        validators=[
            DataRequired("Give the copy an identifier."),
            Length(max=64),
            Regexp(_IDENTIFIER, message=_IDENTIFIER_HELP),
        ],
    )


class DeleteForm(FlaskForm):  # type: ignore[misc]
    confirm = HiddenField(validators=[AnyOf(["yes"], message="Confirm the deletion first.")])
