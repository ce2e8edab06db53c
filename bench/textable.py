"""(c) ``itms.textable()`` for a campaign list against the same query in raw SQL.

The consent table holds numbers in every state (most opted in, some on hold, opted out
or pending); the list mixes numbers in the table with numbers never seen, all in E.164
as a CRM keeps them. The raw side is what a developer would write by hand against the
driver: one query with the list as an array (PostgreSQL) or a JSON array (SQLite), on
a connection from the same pool. Both must return the same set.
"""

from __future__ import annotations

import dataclasses
import json
import random
import typing as t
from datetime import UTC, datetime

import sqlalchemy as sa

from .stats import Pairs, interleave
from .webhooks import SIGNING_KEY, phone_numbers
from .wsgi import create_itms_app

RAW_SQL = {
    "postgresql": "SELECT phone FROM itms_consent WHERE status = 'opted_in' AND NOT on_hold AND phone = ANY(%s)",
    "sqlite": (
        "SELECT phone FROM itms_consent WHERE status = 'opted_in' AND NOT on_hold"
        " AND phone IN (SELECT value FROM json_each(?))"
    ),
}


@dataclasses.dataclass(frozen=True)
class TextableResult:
    backend: str
    numbers: int
    textable: int
    pairs: Pairs

    @property
    def slowdown(self) -> float:
        """itms time over raw SQL time (lower is better; 1.0 is the floor)."""
        return 1 / self.pairs.ratio

    @property
    def itms_ms(self) -> float:
        return sorted(self.pairs.subject)[len(self.pairs.subject) // 2] * 1000

    @property
    def raw_ms(self) -> float:
        return sorted(self.pairs.baseline)[len(self.pairs.baseline) // 2] * 1000


def run(backend: str, database_url: str, *, numbers: int = 100_000, rounds: int = 9) -> TextableResult:
    app, db, itms = create_itms_app(database_url, SIGNING_KEY)
    everyone = phone_numbers(numbers + numbers // 4, seed=23)
    rng = random.Random(5)
    stored = rng.sample(everyone, numbers)  # a quarter of the list was never seen
    statuses = ["opted_in"] * 12 + ["opted_out"] * 3 + ["pending"] * 2 + ["awaiting_code", "none"] + ["hold"] * 2
    now = datetime.now(UTC)
    rows = []
    for phone in stored:
        status = rng.choice(statuses)
        rows.append(
            {
                "phone": phone,
                "status": "opted_in" if status == "hold" else status,
                "on_hold": status == "hold",
                "auth_code_attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    campaign = rng.sample(everyone, numbers)
    with app.app_context():
        db.drop_all()
        db.create_all()
        engine = db.engine
        with engine.begin() as connection:
            connection.execute(itms.models.Consent.__table__.insert(), rows)
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
        sql = RAW_SQL[engine.dialect.name]
        found: dict[str, set[str]] = {}

        def raw() -> None:
            connection = engine.raw_connection()
            try:
                cursor = connection.cursor()
                parameter: t.Any = campaign if engine.dialect.name == "postgresql" else json.dumps(campaign)
                cursor.execute(sql, (parameter,))
                found["raw"] = {phone for (phone,) in cursor.fetchall()}
                cursor.close()
                connection.commit()
            finally:
                connection.close()

        def through_itms() -> None:
            found["itms"] = itms.textable(campaign)
            db.session.commit()

        raw()
        through_itms()
        if found["raw"] != found["itms"]:
            raise AssertionError("itms.textable() and the raw query disagree")
        pairs = interleave(raw, through_itms, rounds)
        textable = len(found["raw"])
        db.session.remove()
        engine.dispose()
    return TextableResult(backend=backend, numbers=numbers, textable=textable, pairs=pairs)


if __name__ == "__main__":
    import sys

    result = run(sys.argv[1], sys.argv[2], numbers=int(sys.argv[3]) if len(sys.argv) > 3 else 100_000)
    low, high = result.pairs.spread
    print(
        f"{result.backend}: itms {result.itms_ms:.0f} ms, raw {result.raw_ms:.0f} ms,"
        f" {result.slowdown:.2f}x raw ({result.textable:,} of {result.numbers:,} textable)"
    )
