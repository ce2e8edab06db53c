"""The ITMS object: init_app checks, config defaults, the app factory and several apps."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from conftest import CUSTOMER, NOON_EASTERN, Clock, Recorder, pin_sent_to, text_in
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS, ConsentStatus, InvalidAuthCode, InvalidPhoneNumber, signals
from flask_itms.messages import OPT_IN

PHONE = "+12125550123"


def make_config(tmp_path: Path, name: str = "app", **config: t.Any) -> dict[str, t.Any]:
    values: dict[str, t.Any] = {
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / f'{name}.db'}",
        "ITMS_CUSTOMER": CUSTOMER,
        "ITMS_CLOCK": Clock(NOON_EASTERN),
    }
    values.update(config)
    return {key: value for key, value in values.items() if value is not None}


def create_app(tmp_path: Path, db: SQLAlchemy, itms: ITMS, name: str = "app", **config: t.Any) -> Flask:
    """A host's app factory: ``db`` and ``itms`` are module-level objects shared by every app."""
    app = Flask(name)
    app.config.update(make_config(tmp_path, name, **config))
    db.init_app(app)
    itms.init_app(app)
    with app.app_context():
        db.create_all()
    return app


# -- misconfiguration fails early, naming the fix -------------------------------------------


def test_itms_needs_the_host_db() -> None:
    with pytest.raises(RuntimeError, match=r"ITMS\(db=db\)"):
        ITMS()


def test_init_app_needs_db_initialised_on_the_app(tmp_path: Path) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    app = Flask("host")
    app.config.update(make_config(tmp_path))
    with pytest.raises(RuntimeError, match=r"db\.init_app\(app\)"):
        itms.init_app(app)
    assert "itms" not in app.extensions


def test_init_app_needs_the_same_db_it_was_given(tmp_path: Path) -> None:
    db, other = SQLAlchemy(), SQLAlchemy()
    itms = ITMS(db=db)
    app = Flask("host")
    app.config.update(make_config(tmp_path))
    other.init_app(app)
    with pytest.raises(RuntimeError, match="same Flask-SQLAlchemy instance"):
        itms.init_app(app)
    assert "itms" not in app.extensions


@pytest.mark.parametrize("secret", [None, ""])
def test_init_app_needs_a_secret_key(tmp_path: Path, secret: str | None) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    app = Flask("host")
    app.config.update(make_config(tmp_path, SECRET_KEY=None))
    app.config["SECRET_KEY"] = secret
    db.init_app(app)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        itms.init_app(app)
    assert "itms" not in app.extensions
    app.config["SECRET_KEY"] = "now set"  # fixing the config is enough: nothing half-registered
    itms.init_app(app)
    assert app.extensions["itms"].itms is itms


@pytest.mark.parametrize(
    ("customer", "fix"),
    [
        (None, "companyName"),
        ({}, "companyName"),
        ({"phone": "+18005550100"}, "companyName"),
        ({"companyName": "", "phone": "+18005550100"}, "companyName"),
        ({"companyName": "Acme Recovery"}, '"phone"'),
    ],
)
def test_init_app_needs_the_brand_and_a_help_number(tmp_path: Path, customer: dict[str, str] | None, fix: str) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    app = Flask("host")
    app.config.update(make_config(tmp_path, ITMS_CUSTOMER=None))
    if customer is not None:
        app.config["ITMS_CUSTOMER"] = customer
    db.init_app(app)
    with pytest.raises(RuntimeError, match=fix):
        itms.init_app(app)
    assert "itms" not in app.extensions
    app.config["ITMS_CUSTOMER"] = CUSTOMER
    itms.init_app(app)
    assert "itms" in app.extensions


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("ITMS_SEND_MODE", "later"),
        ("ITMS_PROVIDER", "carrier-pigeon"),
        ("ITMS_QUIET_HOURS", (21, 8)),
        ("ITMS_QUIET_HOURS", (8, 25)),
    ],
)
def test_init_app_refuses_a_bad_setting_by_name(tmp_path: Path, setting: str, value: t.Any) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    app = Flask("host")
    app.config.update(make_config(tmp_path, **{setting: value}))
    db.init_app(app)
    with pytest.raises(RuntimeError, match=setting):
        itms.init_app(app)
    assert "itms" not in app.extensions


def test_registering_twice_is_refused(tmp_path: Path) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    app = create_app(tmp_path, db, itms)
    with pytest.raises(RuntimeError, match="already registered"):
        itms.init_app(app)
    with pytest.raises(RuntimeError, match="already registered"):
        ITMS(db=db).init_app(app)
    assert app.extensions["itms"].itms is itms


def test_a_service_call_on_an_app_without_init_app_names_the_fix(tmp_path: Path) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    app = Flask("host")
    app.config.update(make_config(tmp_path))
    db.init_app(app)
    with app.app_context(), pytest.raises(RuntimeError, match=r"init_app\(app\)"):
        itms.status(PHONE)


def test_a_service_call_needs_an_app_context(tmp_path: Path) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    create_app(tmp_path, db, itms)
    with pytest.raises(RuntimeError, match="application context"):
        itms.status(PHONE)


# -- wiring --------------------------------------------------------------------------------


def test_itms_app_shortcut_registers_at_once(tmp_path: Path) -> None:
    db = SQLAlchemy()
    app = Flask("host")
    app.config.update(make_config(tmp_path))
    db.init_app(app)
    itms = ITMS(app, db=db)
    assert app.extensions["itms"].itms is itms
    assert "itms" in app.blueprints


def test_defaults_are_applied_without_overriding_the_host(tmp_path: Path) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    app = create_app(tmp_path, db, itms, ITMS_URL_PREFIX="/texting", ITMS_AUTH_CODE_MAX_ATTEMPTS=2)
    assert app.config["ITMS_URL_PREFIX"] == "/texting"
    assert app.config["ITMS_AUTH_CODE_MAX_ATTEMPTS"] == 2
    assert app.config["ITMS_DEFAULT_REGION"] == "US"
    assert app.config["ITMS_PROVIDER"] == "console"
    assert app.config["ITMS_SEND_MODE"] == "inline"
    assert app.config["ITMS_QUIET_HOURS"] == (8, 21)


def test_the_tables_live_on_the_host_metadata() -> None:
    db = SQLAlchemy()
    ITMS(db=db)
    assert {"itms_consent", "itms_consent_event", "itms_message", "itms_template"} <= set(db.metadata.tables)
    assert any(name.startswith("itms_") and "replay" in name for name in db.metadata.tables)


def test_two_itms_objects_on_one_db_share_the_tables() -> None:
    db = SQLAlchemy()
    assert ITMS(db=db).models is ITMS(db=db).models


def test_without_a_role_checker_no_role_is_granted(tmp_path: Path) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    app = create_app(tmp_path, db, itms)
    with app.app_context():
        assert itms.has_role("agent", actor="alice") is False
        itms.role_checker(lambda actor, role: actor == "alice" and role == "agent")
        assert itms.has_role("agent", actor="alice") is True
        assert itms.has_role("editor", actor="alice") is False


def test_the_actor_loader_signs_events_made_in_a_request(tmp_path: Path) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    app = create_app(tmp_path, db, itms)
    itms.actor_loader(lambda: "user:alice")
    with app.test_request_context("/"):
        itms.request_opt_in(PHONE)
        itms.opt_out(PHONE, actor="user:bob")  # an explicit actor wins
        db.session.commit()
        assert [event.actor for event in itms.events(PHONE)] == ["user:alice", "user:bob"]


# -- the app factory: several apps, one ITMS -------------------------------------------------


def test_two_apps_in_one_process_share_one_itms_and_keep_their_own_state(tmp_path: Path) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    first = create_app(tmp_path, db, itms, "first")
    second = create_app(
        tmp_path,
        db,
        itms,
        "second",
        ITMS_CUSTOMER={"companyName": "Beta Collections", "phone": "+18005550199"},
        ITMS_DEFAULT_REGION="GB",
        ITMS_URL_PREFIX="/sms",
    )
    recorders = {app.name: Recorder() for app in (first, second)}
    for app in (first, second):
        signals.opt_in_requested.connect(recorders[app.name], app)
    try:
        with first.app_context():
            itms.request_opt_in(PHONE)
            db.session.commit()
        with second.app_context():
            assert itms.status(PHONE) is ConsentStatus.NONE  # its own database
            itms.quick_opt_in("07400 123456")  # its own region
            db.session.commit()
            assert itms.status("+447400123456") is ConsentStatus.PENDING
            second_texts = second.extensions["itms"].provider.sent
            assert [text.body for text in second_texts] == [itms.render(OPT_IN, "+447400123456")]
            assert "Beta Collections" in second_texts[0].body
        with first.app_context():
            assert itms.status(PHONE) is ConsentStatus.PENDING
            with pytest.raises(InvalidPhoneNumber):
                itms.status("07400 123456")  # a US app reads it as a US number
            first_texts = first.extensions["itms"].provider.sent
            assert [text.phone for text in first_texts] == [PHONE]
            assert "Acme Recovery" in first_texts[0].body
    finally:
        for app in (first, second):
            signals.opt_in_requested.disconnect(recorders[app.name], app)
    assert [call["sender"] for call in recorders["first"].calls] == [first]
    assert [call["sender"] for call in recorders["second"].calls] == [second]
    assert first.extensions["itms"] is not second.extensions["itms"]
    assert first.extensions["itms"].provider is not second.extensions["itms"].provider
    assert second.url_map.bind("localhost").match("/sms/static/x", return_rule=True)  # its own prefix


def test_per_app_settings_drive_each_apps_consent_rules(tmp_path: Path) -> None:
    db = SQLAlchemy()
    itms = ITMS(db=db)
    strict = create_app(tmp_path, db, itms, "strict", ITMS_AUTH_CODE_MAX_ATTEMPTS=1)
    lenient = create_app(tmp_path, db, itms, "lenient", ITMS_AUTH_CODE_MAX_ATTEMPTS=5)
    for app in (strict, lenient):
        with app.app_context():
            itms.request_opt_in(PHONE)
            db.session.commit()
            text_in(itms, PHONE, "YES")
            db.session.commit()
            pin = pin_sent_to(app.extensions["itms"].provider, PHONE)
            with pytest.raises(InvalidAuthCode):
                itms.enter_auth_code(PHONE, f"{(int(pin) + 1) % 1_000_000:06d}")
            db.session.commit()
            if app is strict:
                with pytest.raises(InvalidAuthCode):
                    itms.enter_auth_code(PHONE, pin)
                assert itms.status(PHONE) is ConsentStatus.AWAITING_CODE
            else:
                itms.enter_auth_code(PHONE, pin)
                assert itms.status(PHONE) is ConsentStatus.OPTED_IN
