"""Interleaved timing: every figure is a ratio to a baseline measured next to it.

The machines these run on are shared, so absolute numbers drift by a factor of two
within a minute. Measuring baseline and subject in alternation (ABBA…) and taking the
median of the per-pair ratios cancels most of that drift.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import time
import typing as t


@dataclasses.dataclass(frozen=True)
class Pairs:
    """Seconds per pass of a baseline and a subject, measured in alternation."""

    baseline: list[float]
    subject: list[float]

    @property
    def ratios(self) -> list[float]:
        """Subject throughput over baseline throughput, one per pair (higher is better)."""
        return [base / subject for base, subject in zip(self.baseline, self.subject, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def spread(self) -> tuple[float, float]:
        """The interquartile range of the per-pair ratios, to show how noisy the run was."""
        return quartiles(self.ratios)


def quartiles(values: t.Sequence[float]) -> tuple[float, float]:
    if len(values) < 4:
        return min(values), max(values)
    low, _median, high = statistics.quantiles(values, n=4)
    return low, high


def timed(function: t.Callable[[], object]) -> float:
    """Seconds one call takes, with the collector off so neither side pays for the other's garbage."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        function()
        return time.perf_counter() - start
    finally:
        gc.enable()


def interleave(baseline: t.Callable[[], object], subject: t.Callable[[], object], rounds: int) -> Pairs:
    """Time ``rounds`` pairs, alternating which side goes first (ABBA) to cancel drift."""
    base_times: list[float] = []
    subject_times: list[float] = []
    for round_number in range(rounds):
        if round_number % 2 == 0:
            base_times.append(timed(baseline))
            subject_times.append(timed(subject))
        else:
            subject_times.append(timed(subject))
            base_times.append(timed(baseline))
    return Pairs(base_times, subject_times)
