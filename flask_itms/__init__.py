"""flask-itms: consent-managed SMS texting for Flask CRMs."""

from __future__ import annotations

from . import signals
from .errors import (
    ConsentRequired,
    InvalidAuthCode,
    InvalidPhoneNumber,
    InvalidTransition,
    ITMSError,
    OptedOut,
    SystemTemplateError,
    TemplateError,
)
from .extension import ITMS
from .models import ConsentStatus

__all__ = [
    "ITMS",
    "ConsentRequired",
    "ConsentStatus",
    "ITMSError",
    "InvalidAuthCode",
    "InvalidPhoneNumber",
    "InvalidTransition",
    "OptedOut",
    "SystemTemplateError",
    "TemplateError",
    "signals",
]
