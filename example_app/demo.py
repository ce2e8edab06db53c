"""``make demo``: migrate the instance database, seed it, and serve the CRM on 127.0.0.1:5000.

Every step is idempotent, so a second run reuses the database and the data it holds.
Nothing here needs the network: the console provider records texts instead of sending.
"""

from __future__ import annotations

import argparse
import logging

from flask import Flask
from flask_migrate import upgrade

from . import create_app
from .seed import AUTO_OPT_IN_NUMBER, UNKNOWN_NUMBER, USERS, seed


def prepare(app: Flask) -> dict[str, int]:
    """Bring the database to the newest CRM and itms revisions and add missing demo data."""
    with app.app_context():
        upgrade(revision="heads")
        return seed()


def banner(url: str, added: dict[str, int]) -> str:
    fresh = "seeded demo data" if any(added.values()) else "reusing the existing demo data"
    users = "\n".join(f"    {username:<6} / {password}   {roles}" for username, _, roles, password in USERS)
    return f"""
flask-itms demo CRM ({fresh})

  Open {url}  and sign in as:
{users}

  Consumer phone simulator: {url}/dev/phones/
  Tour: README.md, "Try the demo". Numbers to try: {AUTO_OPT_IN_NUMBER} (auto opt-in),
  {UNKNOWN_NUMBER} (unknown number for the supervisor queue).
  Texts are recorded by the console provider and shown in the simulator; nothing is sent.
  Stop with Ctrl+C.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)

    app = create_app({"CRM_DEMO": True})
    added = prepare(app)
    logging.getLogger("flask_itms").setLevel(logging.INFO)  # log each text the console provider records
    print(banner(f"http://{args.host}:{args.port}", added), flush=True)
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
