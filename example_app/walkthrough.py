"""A console walk-through of the agent PIN flow and a keyword opt-out, through the real code.

Run it with ``make demo``. It builds a tiny host app on a throwaway SQLite database, uses
the console provider, and prints every text and audit event as they happen.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_itms import ITMS, signals

PHONE = "+12015550123"


def build_app(database: Path) -> tuple[Flask, SQLAlchemy, ITMS]:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="walkthrough",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}",
        ITMS_CUSTOMER={"companyName": "Acme Recovery", "phone": "+18005550100"},
        ITMS_QUIET_HOURS=None,
    )
    db = SQLAlchemy()
    itms = ITMS(db=db)
    db.init_app(app)
    itms.init_app(app)
    return app, db, itms


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app, db, itms = build_app(Path(folder) / "walkthrough.db")

        @signals.message_sent.connect_via(app)
        def show_text(sender: Flask, message: object, **extra: object) -> None:
            print(f"   ITMS -> consumer: {message.display_body}")  # type: ignore[attr-defined]

        with app.app_context():
            db.create_all()
            print(f"1. Agent clicks Send Opt In Request for {PHONE}")
            itms.request_opt_in(PHONE, account="ACCT-1001", actor="agent:alice")
            db.session.commit()
            print(f"   status: {itms.status(PHONE)}")

            print("2. The consumer replies YES")
            itms.handle_inbound(PHONE, "+18005550100", "YES", provider_message_id="in-1")
            db.session.commit()
            # What reached the phone; the database and the agent only ever see it masked.
            code = re.search(r"\b\d{6}\b", itms.provider.sent[-1].body)
            assert code is not None, "the consumer should have received a PIN"
            print(f"   status: {itms.status(PHONE)} (the consumer reads the PIN {code.group()} to the agent)")

            print("3. The agent types the PIN into Txt Msg Auth Code")
            itms.enter_auth_code(PHONE, code.group(), actor="agent:alice")
            db.session.commit()
            print(f"   status: {itms.status(PHONE)}; can_text: {itms.can_text(PHONE)}")

            print("4. The consumer texts 'Stop.'")
            itms.handle_inbound(PHONE, "+18005550100", "Stop.", provider_message_id="in-2")
            db.session.commit()
            print(f"   status: {itms.status(PHONE)}; can_text: {itms.can_text(PHONE)}")

            print("5. The carrier retries the same STOP: no second confirmation")
            itms.handle_inbound(PHONE, "+18005550100", "Stop.", provider_message_id="in-2")
            db.session.commit()

            print("\nAudit trail:")
            for event in itms.events(PHONE):
                print(
                    f"   {event.created_at:%H:%M:%S} {event.from_status:>13} -> {event.to_status:<13}"
                    f" {event.action:<22} by {event.actor or event.source}"
                )


if __name__ == "__main__":
    main()
