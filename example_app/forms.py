"""The CRM's own forms (Flask-WTF, so each carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length


class SignInForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class SignOutForm(FlaskForm):
    """No fields: only the CSRF token, so another site cannot sign a user out."""


class AddPhoneForm(FlaskForm):
    number = StringField("Phone number", validators=[DataRequired(), Length(max=32)])
    kind = SelectField("Type", choices=["mobile", "home", "work"])


class ReplyForm(FlaskForm):
    """The consumer's reply box in the phone simulator."""

    text = StringField("Text message", validators=[DataRequired(), Length(max=1000)])


class OpenPhoneForm(FlaskForm):
    """Pick any number, e.g. one no account knows, to text from in the simulator."""

    number = StringField("Phone number", validators=[DataRequired(), Length(max=32)])
