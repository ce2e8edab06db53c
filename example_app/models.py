"""The CRM's own tables: users, clients (creditors), accounts and their phone records.

flask-itms keys consent by E.164 number and knows accounts only by a reference string;
here that reference is the account number.
"""

from __future__ import annotations

from decimal import Decimal

import phonenumbers
import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db

#: The roles flask-itms asks about: "agent", "supervisor" and "editor".
ROLES = ("agent", "supervisor", "editor")


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "crm_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    #: Space-separated roles, e.g. "agent supervisor".
    roles: Mapped[str] = mapped_column(sa.String(64))
    password_hash: Mapped[str] = mapped_column(sa.String(256))

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def has_role(self, role: str) -> bool:
        return role in self.roles.split()

    def __str__(self) -> str:
        # What flask-itms records as the actor on every consent event.
        return f"user:{self.username}"


class Client(db.Model):  # type: ignore[name-defined,misc]
    """The creditor an account is collected for."""

    __tablename__ = "crm_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    business_type: Mapped[str] = mapped_column(sa.String(32))

    accounts: Mapped[list[Account]] = relationship(back_populates="client")


class Account(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "crm_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    debtor_name: Mapped[str] = mapped_column(sa.String(128))
    balance: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("crm_client.id"))

    client: Mapped[Client] = relationship(back_populates="accounts")
    phones: Mapped[list[Phone]] = relationship(
        back_populates="account", order_by="Phone.id", cascade="all, delete-orphan"
    )


class Phone(db.Model):  # type: ignore[name-defined,misc]
    """A phone demographic record: one number on one account."""

    __tablename__ = "crm_phone"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("crm_account.id"))
    #: Always E.164, the form flask-itms uses, so lookups by number are exact.
    number: Mapped[str] = mapped_column(sa.String(16), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="mobile")

    account: Mapped[Account] = relationship(back_populates="phones")

    __table_args__ = (sa.UniqueConstraint("account_id", "number"),)

    @property
    def display(self) -> str:
        return pretty_phone(self.number)


def pretty_phone(e164: str) -> str:
    """A number as people read it: (201) 555-0123 at home, +44 20 7946 0018 abroad."""
    parsed = phonenumbers.parse(e164)
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(parsed, style.NATIONAL if parsed.country_code == 1 else style.INTERNATIONAL)


def to_e164(number: str, region: str = "US") -> str:
    """Normalise what an agent typed; raises ``ValueError`` with a readable message."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{number!r} is not a phone number.") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{number!r} is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
