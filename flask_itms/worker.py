"""The loop behind ``flask itms worker``: drain the outbox now, or keep polling it.

Any number of workers may run at once, on one host or many: each claim takes rows with
``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and a conditional update, so a text goes to one
worker only. A worker that dies keeps its claimed rows until ``ITMS_SEND_LEASE`` runs
out; then another takes them. SIGTERM and SIGINT finish the text in hand, give the rest
of the batch back, and exit.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import typing as t

from . import outbox

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from .state import State

logger = logging.getLogger("flask_itms.worker")


class StopFlag:
    """Set by SIGTERM or SIGINT; polled between texts and while sleeping."""

    def __init__(self) -> None:
        self.stopping = False

    def __call__(self) -> bool:
        return self.stopping

    def set(self, signum: int = 0, frame: t.Any = None) -> None:
        if not self.stopping:
            logger.info("Stopping after the text in hand (signal %s).", signum)
        self.stopping = True

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early when stopped. Plain polling: a signal handler must not take locks."""
        deadline = time.monotonic() + seconds
        while not self.stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))

    @contextlib.contextmanager
    def on_signals(self) -> Iterator[StopFlag]:
        """Route SIGTERM and SIGINT to this flag while the worker runs (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self.set) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run(state: State, *, once: bool, batch: int, interval: float, stop: StopFlag | None = None) -> int:
    """Deliver due texts; returns how many were claimed in all.

    ``once`` returns as soon as a round claims less than a full batch: nothing else is
    due that another worker is not already sending. Otherwise it sleeps ``interval``
    seconds whenever the outbox has nothing due, until stopped.
    """
    stop = stop or StopFlag()
    total = 0
    while not stop():
        try:
            claimed = outbox.deliver(state, limit=batch, stop=stop)
        except Exception:
            if once:
                raise
            # A database restart or a network blip: nothing is lost, claimed rows come
            # back after their lease. Wait and try again rather than die.
            logger.exception("The outbox round failed; retrying in %s s.", interval)
            stop.sleep(interval)
            continue
        total += claimed
        if claimed < batch:
            if once:
                break
            stop.sleep(interval)
    return total
