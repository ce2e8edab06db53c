"""The extension objects, created once and bound to each app in ``create_app``."""

from __future__ import annotations

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS
from flask_itms.migrations import include_itms_revisions

db = SQLAlchemy()
itms = ITMS(db=db)  # declares the itms_* tables on db.metadata, beside the CRM's own
login_manager = LoginManager()
migrate = Migrate(db=db)
migrate.configure(include_itms_revisions)  # `flask db upgrade heads` creates the itms tables too
