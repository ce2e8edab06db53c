"""Sign in and out with Flask-Login; passwords are stored as Werkzeug hashes."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required, login_user, logout_user

from .extensions import db, login_manager
from .forms import SignInForm, SignOutForm
from .models import User

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.sign_in"
login_manager.login_message = "Please sign in to use the CRM."


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    form = SignInForm()
    if form.validate_on_submit():
        user = db.session.scalars(sa.select(User).where(User.username == form.username.data)).one_or_none()
        if user is not None and user.check_password(form.password.data or ""):
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("Unknown username or wrong password.", "error")
    return render_template("crm/sign_in.html", form=form)


@bp.post("/sign-out")
@login_required
def sign_out() -> ResponseReturnValue:
    if SignOutForm().validate_on_submit():
        logout_user()
    return redirect(url_for("auth.sign_in"))


@bp.app_context_processor
def sign_out_form() -> dict[str, SignOutForm]:
    return {"sign_out_form": SignOutForm()}


def _safe_next(target: str | None) -> str:
    """Only follow a ``next`` that stays on this site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("crm.accounts")
