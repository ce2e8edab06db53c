"""Coverage-guided fuzzing of the webhooks with atheris (libFuzzer), a short run in CI.

Where hypothesis draws from strategies we wrote, libFuzzer mutates raw bytes towards new
branches of the instrumented ``flask_itms`` code: the body, the content type, the
method, the route and the query all come from the fuzzer's bytes, and most inputs are
signed correctly so that they reach the parsers behind the signature check. Any answer
but 200, 400, 401, 413 or 415 (a 500 above all) is a crash, and the run fails with the
input that caused it saved next to the log.

The pytest test runs this file as a script for a fixed number of runs with a fixed seed,
in a process of its own, since libFuzzer ends the process when it is done. For a long
run by hand: ``python tests/test_fuzz_atheris.py -max_total_time=600``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).parent
RUNS = 4000
ALLOWED = {200, 400, 401, 413, 415}


#: Where the fuzzer starts: one well-formed request of each kind (the first byte picks the
#: route, method and content type, as ``one_input`` reads it), and the words it may splice in.
SEEDS = {
    "inbound-form": b"\x00originator=12015550123&recipient=13125550100&payload=STOP&id=mb-1",
    "inbound-json": b'\x04{"originator": "12015550123", "recipient": "13125550100", "body": "HELP", "id": 7}',
    "inbound-get": b"\x02originator=447911123456&recipient=13125550100&payload=%E2%9B%94%EF%B8%8F&id=mb-2",
    "status-form": (
        b"\x01id=mb-3&reference=1&recipient=12015550123&status=delivered"
        b"&statusDatetime=2026-06-02T16%3A00%3A00%2B00%3A00&statusReason=ok"
    ),
}
WORDS = [
    "originator=",
    "recipient=",
    "payload=",
    "body=",
    "id=",
    "createdDatetime=",
    "reference=",
    "status=",
    "statusDatetime=",
    "&",
    "%00",
    "%FF",
    "STOP",
    "START",
    "YES",
    '"originator"',
    '"payload"',
    "\\ud800",
    "2026-06-02T16:00:00+00:00",
    "delivered",
]


def test_a_short_atheris_run_finds_no_500(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, seed in SEEDS.items():
        (corpus / name).write_bytes(seed)
    dictionary = tmp_path / "words.dict"
    dictionary.write_text("".join(f"{_quoted(word)}\n" for word in WORDS))
    env = {**os.environ, "ITMS_ATHERIS_DIR": str(tmp_path), "PYTHONPATH": f"{TESTS.parent}{os.pathsep}{TESTS}"}
    command = [
        sys.executable,
        str(Path(__file__)),
        f"-runs={RUNS}",
        "-seed=7",
        "-max_len=600",
        "-timeout=20",
        f"-dict={dictionary}",
        f"-artifact_prefix={tmp_path}/",
        "-print_final_stats=1",
        str(corpus),
    ]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert f"Done {RUNS} runs" in log
    stored = sqlite3.connect(tmp_path / "atheris.db").execute("SELECT count(*) FROM itms_message").fetchone()[0]
    assert stored > 0  # the fuzzer got past the signature and the fields, not just bounced off


def _quoted(word: str) -> str:
    """A libFuzzer dictionary entry: the word in double quotes, with \\ and " escaped."""
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fuzz() -> None:  # pragma: no cover - runs under libFuzzer, in its own process
    import atheris

    with atheris.instrument_imports(include=["flask_itms"]):
        from flask import Flask
        from flask_sqlalchemy import SQLAlchemy

        from flask_itms import ITMS

    from messagebird_signer import MessageBirdSigner

    logging.getLogger("flask_itms").setLevel(logging.ERROR)  # refusals are expected by the thousand
    key = "a" * 64
    signer = MessageBirdSigner(key)
    directory = os.environ.get("ITMS_ATHERIS_DIR") or tempfile.mkdtemp()
    app = Flask("itms_atheris")
    app.config.update(
        SECRET_KEY="atheris",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{directory}/atheris.db",
        ITMS_CUSTOMER={"companyName": "Acme Recovery", "phone": "+18005550100"},
        ITMS_MESSAGEBIRD_SIGNING_KEY=key,
        ITMS_MAX_WEBHOOK_BYTES=512,
        PROPAGATE_EXCEPTIONS=False,
    )
    db = SQLAlchemy()
    itms = ITMS(db=db)
    db.init_app(app)
    itms.init_app(app)
    with app.app_context():
        db.create_all()
    client = app.test_client()
    content_types = [
        "application/x-www-form-urlencoded",
        "application/json",
        "application/x-www-form-urlencoded; charset=latin-1",
        "text/plain",
    ]

    def one_input(data: bytes) -> None:
        # The first byte chooses the request's shape; the rest is the body (or the query).
        flags, payload = (data[0], data[1:]) if data else (0, b"")
        path = "/itms/messagebird/" + ("status" if flags & 1 else "inbound")
        method = "GET" if flags & 2 else "POST"
        content_type = content_types[(flags >> 2) % len(content_types)]
        signed = not flags & 32
        query = payload.decode("utf-8", "replace") if method == "GET" else ""
        body = payload if method == "POST" else b""
        headers: dict[str, str] = {"Content-Type": content_type} if method == "POST" else {}
        if signed:
            # Sign the URL the server will see: the query string as the test client sends it.
            probe = client.open(path, method=method, query_string=query or None, data=body, headers=headers)
            raw_query = probe.request.environ.get("QUERY_STRING", "")
            url = "http://localhost" + path + (f"?{raw_query}" if raw_query else "")
            headers.update(signer.headers(url, body))
        response = client.open(path, method=method, query_string=query or None, data=body, headers=headers)
        if response.status_code not in ALLOWED:
            raise AssertionError(f"{method} {path} answered {response.status_code}: {response.get_data(as_text=True)}")

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    _fuzz()
