"""A delivery report that beats the provider's answer is never overwritten by "sent"."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from flask import Flask

from flask_itms import ITMS
from flask_itms.providers import OutboundText

PHONE = "+12015550123"


class FastCarrier:
    """Accepts a text and has its "delivered" report committed before answering."""

    name = "fast-carrier"

    def __init__(self, engine: sa.Engine, table: sa.Table) -> None:
        self.engine = engine
        self.table = table

    def send(self, text: OutboundText) -> str:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(self.table)
                .where(self.table.c.id == text.message_id)
                .values(status="delivered", provider_message_id=f"mb-{text.message_id}")
            )
        return f"mb-{text.message_id}"


def test_sent_never_overwrites_an_earlier_delivered_report(app: Flask, itms: ITMS, db: t.Any) -> None:
    app.extensions["itms"].provider = FastCarrier(db.engine, itms.models.Message.__table__)
    itms.request_opt_in(PHONE)
    db.session.commit()

    (request,) = itms.messages(PHONE)
    db.session.refresh(request)
    assert request.status == "delivered"
    assert request.provider_message_id == f"mb-{request.id}"
    assert request.sent_at is not None
