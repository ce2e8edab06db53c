"""flask-itms tables: consent, consent events, messages, templates, webhook replay.

Revision ID: itms_0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "itms_0001"
down_revision = None
branch_labels = ("itms",)
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "itms_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("account", sa.String(length=128), nullable=True),
        sa.Column("on_hold", sa.Boolean(), nullable=False),
        sa.Column("hold_message_id", sa.Integer(), nullable=True),
        sa.Column("request_expires_at", UTC, nullable=True),
        sa.Column("auth_code_hash", sa.String(length=64), nullable=True),
        sa.Column("auth_code_expires_at", UTC, nullable=True),
        sa.Column("auth_code_attempts", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.CheckConstraint(
            "status IN ('none', 'pending', 'awaiting_code', 'opted_in', 'opted_out')",
            name="itms_consent_status",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone", name="itms_consent_phone"),
    )
    op.create_index("itms_consent_textable", "itms_consent", ["status", "on_hold"])
    op.create_index("itms_consent_account", "itms_consent", ["account"])

    op.create_table(
        "itms_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("our_number", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("intent", sa.String(length=16), nullable=True),
        sa.Column("keyword", sa.String(length=64), nullable=True),
        sa.Column("account", sa.String(length=128), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("provider_message_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("send_after", UTC, nullable=True),
        sa.Column("claimed_until", UTC, nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("status_reason", sa.String(length=64), nullable=True),
        sa.Column("status_error_code", sa.String(length=32), nullable=True),
        sa.Column("status_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("direction", "provider_message_id", name="itms_message_provider_id"),
    )
    op.create_index("itms_message_due", "itms_message", ["direction", "status", "send_after"])
    op.create_index("itms_message_phone", "itms_message", ["phone", "created_at"])

    op.create_table(
        "itms_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("use_case", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("system", sa.Boolean(), nullable=False),
        sa.Column("allow_as_payment_source", sa.Boolean(), nullable=False),
        sa.Column("mms_url", sa.String(length=512), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("identifier", name="itms_template_identifier"),
    )

    op.create_table(
        "itms_webhook_replay",
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    op.create_index("itms_webhook_replay_expires", "itms_webhook_replay", ["expires_at"])

    op.create_table(
        "itms_consent_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("account", sa.String(length=128), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("keyword", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["itms_message.id"], name="itms_consent_event_message"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("itms_consent_event_phone", "itms_consent_event", ["phone", "created_at"])
    op.create_index("itms_consent_event_created", "itms_consent_event", ["created_at"])


def downgrade() -> None:
    op.drop_table("itms_consent_event")
    op.drop_table("itms_webhook_replay")
    op.drop_table("itms_template")
    op.drop_table("itms_message")
    op.drop_table("itms_consent")
