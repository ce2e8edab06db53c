"""MessageBird (Bird) through the official ``messagebird`` SDK, with an HTTP client of our own.

The SDK's client has no timeout and a fixed endpoint, so a hung carrier would hang a
request thread or a worker for ever. :class:`SessionHttpClient` keeps the SDK's
interface but sends through a ``requests.Session`` with (connect, read) timeouts, to
``ITMS_MESSAGEBIRD_ENDPOINT`` when set. :meth:`MessageBirdProvider.send` maps every
outcome onto :class:`~flask_itms.providers.SendError`: permanent, blocked or retried.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import typing as t
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import messagebird
import requests
from messagebird.client import ENDPOINT, USER_AGENT, ErrorException
from messagebird.http_client import ResponseFormat
from messagebird.serde import json_serialize

from . import OutboundText, SendError

logger = logging.getLogger("flask_itms.messagebird")

#: MessageBird REST error codes that a later retry can fix: 25 "not enough balance"
#: (top up and the queued texts go) and 99 "internal error" (their side, like a 5xx).
#: The others (2 bad access key, 9 missing or no valid recipients, 10 invalid
#: parameter, 20 not found, 21 bad request, 98 no such API) repeat the same way.
RETRYABLE_CODES = frozenset({"25", "99"})

#: HTTP answers that mean "not now" rather than "never".
_RETRYABLE_STATUS = frozenset({408, 425, 429})

#: Words with which a carrier or Bird says the recipient refuses texts from us.
_BLOCKED_WORDS = re.compile(
    r"\b(?:opted[\s_-]?out|opt[\s_-]?out|unsubscribed|black[\s-]?listed|block[\s-]?listed|blocked|barred)\b",
    re.IGNORECASE,
)
#: …said of the recipient, not of our account or originator.
_ABOUT_RECIPIENT = re.compile(r"\b(?:recipients?|subscriber|msisdn|number|destination)\b", re.IGNORECASE)

#: An originator is a phone number (up to 17 digits) or an alphanumeric sender id (up to 11).
_NUMERIC_ORIGINATOR = re.compile(r"^\+?\d{1,17}$")
_ALPHANUMERIC_ORIGINATOR = re.compile(r"^[A-Za-z0-9 ]{1,11}$")


def _timeout(value: t.Any) -> tuple[float, float]:
    """Read ``ITMS_MESSAGEBIRD_TIMEOUT``: seconds, or a (connect, read) pair."""
    pair = (value, value) if isinstance(value, int | float) else tuple(value)
    if len(pair) != 2 or not all(isinstance(part, int | float) and part > 0 for part in pair):
        raise RuntimeError(
            f"ITMS_MESSAGEBIRD_TIMEOUT must be seconds or a (connect, read) pair of positive seconds, not {value!r}."
        )
    return float(pair[0]), float(pair[1])


def _seconds(value: t.Any) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class SessionHttpClient:
    """The SDK's ``HttpClient`` interface, over one ``requests.Session`` per thread and process.

    Answers the SDK can read (2xx, and 4xx with a JSON ``errors`` body, which it turns
    into ``ErrorException``) are returned as text. Anything else raises
    ``requests.HTTPError``, so a 5xx is never mistaken for a permanent refusal.
    """

    def __init__(self, endpoint: str, access_key: str, timeout: tuple[float, float]) -> None:
        self.endpoint = endpoint
        self.access_key = access_key
        self.timeout = timeout
        self.user_agent = f"{USER_AGENT} flask-itms"
        self._local = threading.local()

    def _session(self) -> requests.Session:
        # A Session's connection pool must not cross a fork (gunicorn --preload) or be
        # shared by threads, so each process and thread gets its own.
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.session = requests.Session()
            local.pid = os.getpid()
        return t.cast(requests.Session, local.session)

    def request(
        self,
        path: str,
        method: str = "GET",
        params: dict[str, t.Any] | None = None,
        format: ResponseFormat = ResponseFormat.text,
    ) -> str | bytes:
        headers = {
            "Accept": "application/json",
            "Authorization": f"AccessKey {self.access_key}",
            "User-Agent": self.user_agent,
            "Content-Type": "application/json; charset=UTF-8",
        }
        url = urljoin(self.endpoint, path)
        if method == "GET":
            response = self._session().get(url, headers=headers, params=params, timeout=self.timeout)
        else:
            data = json_serialize(params or {})
            response = self._session().request(method, url, headers=headers, data=data, timeout=self.timeout)
        status = response.status_code
        if status >= 500 or status in _RETRYABLE_STATUS or (status >= 400 and not _has_errors(response)):
            response.raise_for_status()
        return response.text if format is ResponseFormat.text else response.content


def _has_errors(response: requests.Response) -> bool:
    try:
        body = json.loads(response.text)
    except ValueError:
        return False
    return isinstance(body, dict) and bool(body.get("errors"))


class MessageBirdProvider:
    """Sends each text with the SDK's ``message_create`` (or ``mms_create`` with a picture)."""

    name = "messagebird"

    def __init__(
        self,
        *,
        access_key: str,
        originator: str,
        endpoint: str = ENDPOINT,
        timeout: tuple[float, float] = (3.05, 10.0),
        report_url: str | None = None,
        blocked_codes: t.Iterable[str] = (),
    ) -> None:
        self.originator = originator
        self.report_url = report_url
        self.blocked_codes = frozenset(str(code) for code in blocked_codes)
        self.http_client = SessionHttpClient(endpoint, access_key, timeout)
        self.client = messagebird.Client(access_key, http_client=self.http_client)

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> MessageBirdProvider:
        """Build from ``ITMS_*`` settings, failing now, at ``init_app``, on anything missing."""
        access_key = (config.get("ITMS_MESSAGEBIRD_ACCESS_KEY") or "").strip()
        if not access_key:
            raise RuntimeError(
                'ITMS_PROVIDER is "messagebird" but ITMS_MESSAGEBIRD_ACCESS_KEY is not set: copy a live'
                " access key from the Bird dashboard (Developers, API access) into it."
            )
        originator = str(config.get("ITMS_ORIGINATOR") or "").strip()
        if not originator:
            raise RuntimeError(
                'ITMS_PROVIDER is "messagebird" but ITMS_ORIGINATOR is not set: set it to the number'
                ' texts come from, e.g. "+18005550100" (US and Canada need a number, not a name).'
            )
        if not (_NUMERIC_ORIGINATOR.match(originator) or _ALPHANUMERIC_ORIGINATOR.match(originator)):
            raise RuntimeError(
                f"ITMS_ORIGINATOR {originator!r} is neither a phone number (up to 17 digits) nor an"
                " alphanumeric sender id (up to 11 letters and digits)."
            )
        endpoint = config.get("ITMS_MESSAGEBIRD_ENDPOINT") or ENDPOINT
        if urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).netloc:
            raise RuntimeError(f"ITMS_MESSAGEBIRD_ENDPOINT must be an http(s) URL, not {endpoint!r}.")
        timeout = _timeout(config.get("ITMS_MESSAGEBIRD_TIMEOUT", (3.05, 10.0)))
        lease = _seconds(config.get("ITMS_SEND_LEASE", timedelta(minutes=5)))
        if lease <= sum(timeout):
            raise RuntimeError(
                f"ITMS_SEND_LEASE ({lease:g} s) must be longer than ITMS_MESSAGEBIRD_TIMEOUT's connect +"
                f" read ({sum(timeout):g} s): otherwise a second worker may take over, and send again,"
                " a text whose answer is still on its way."
            )
        if access_key.startswith("test_"):
            logger.warning("ITMS_MESSAGEBIRD_ACCESS_KEY is a test key: MessageBird accepts texts but sends none.")
        public_url = (config.get("ITMS_PUBLIC_URL") or "").rstrip("/")
        prefix = (config.get("ITMS_URL_PREFIX") or "").rstrip("/")
        return cls(
            access_key=access_key,
            originator=originator,
            endpoint=endpoint,
            timeout=timeout,
            report_url=f"{public_url}{prefix}/messagebird/status" if public_url else None,
            blocked_codes=config.get("ITMS_MESSAGEBIRD_BLOCKED_CODES") or (),
        )

    def send(self, text: OutboundText) -> str:
        """Hand one text to MessageBird; returns its message id or raises ``SendError``."""
        recipient = text.phone.lstrip("+")  # MessageBird takes the MSISDN: country code and number
        try:
            if text.mms_url:
                # MMS (US and Canada only) has no reportUrl or datacoding parameter; its
                # status reports go to the URL set in the Bird dashboard.
                result = self.client.mms_create(
                    self.originator, [recipient], text.body, [text.mms_url], reference=str(text.message_id)
                )
            else:
                params: dict[str, t.Any] = {"reference": str(text.message_id), "datacoding": "auto"}
                if self.report_url:
                    params["reportUrl"] = self.report_url
                result = self.client.message_create(self.originator, [recipient], text.body, params)
        except ErrorException as error:
            raise self._refusal(error) from error
        except requests.Timeout as error:
            raise SendError(f"MessageBird did not answer in time ({type(error).__name__}).") from error
        except requests.ConnectionError as error:
            raise SendError(f"Could not reach MessageBird: {error}") from error
        except requests.HTTPError as error:
            raise _http_failure(error) from error
        except requests.RequestException as error:
            raise SendError(f"MessageBird request failed: {type(error).__name__}: {error}") from error
        except ValueError as error:  # a 2xx body that is not JSON: retry rather than lose the text
            raise SendError(f"MessageBird answered with something that is not JSON: {error}") from error
        if not getattr(result, "id", None):
            raise SendError("MessageBird answered without a message id.")
        return str(result.id)

    def is_block(self, code: t.Any, description: str | None, parameter: str | None = None) -> bool:
        """Whether an error (or a delivery report's reason and code) says the recipient refuses us.

        True for a code in ``ITMS_MESSAGEBIRD_BLOCKED_CODES``, or for wording such as
        "opted out", "unsubscribed" or "blocked" said of the recipient: never for an
        error about our account or originator.
        """
        if code is not None and str(code) in self.blocked_codes:
            return True
        text = description or ""
        about_recipient = (parameter or "").startswith("recipient") or bool(_ABOUT_RECIPIENT.search(text))
        return about_recipient and bool(_BLOCKED_WORDS.search(text))

    def _refusal(self, error: ErrorException) -> SendError:
        """Turn MessageBird's ``errors`` list into one ``SendError``."""
        errors = list(getattr(error, "errors", None) or [])
        codes = [str(getattr(item, "code", "")) for item in errors]
        description = "; ".join(_describe(item) for item in errors) or str(error)
        blocked = any(
            self.is_block(
                getattr(item, "code", None), getattr(item, "description", None), getattr(item, "parameter", None)
            )
            for item in errors
        )
        retryable = not blocked and bool(codes) and all(code in RETRYABLE_CODES for code in codes)
        return SendError(
            f"MessageBird refused the text: {description}",
            code=",".join(code for code in codes if code)[:32] or None,
            permanent=not retryable,
            blocked=blocked,
        )


def _describe(item: t.Any) -> str:
    code = getattr(item, "code", None)
    parameter = getattr(item, "parameter", None)
    where = f" {parameter}" if parameter else ""
    return f"(#{code}{where}) {getattr(item, 'description', '') or ''}".strip()


def _http_failure(error: requests.HTTPError) -> SendError:
    response = error.response
    status = response.status_code if response is not None else 0
    body = (response.text if response is not None else "")[:200]
    retry = status >= 500 or status in _RETRYABLE_STATUS or status == 0
    return SendError(f"MessageBird answered HTTP {status}: {body}".strip(), code=f"http-{status}", permanent=not retry)
