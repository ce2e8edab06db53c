"""(b) Classifier throughput against the floor: ``dict.get(text.strip().lower())``.

Both sides read the same texts in the same loop. The dict holds every keyword the
classifier knows, so it answers the same whole-message keywords; it cannot see
"Stop." or "ＳＴＯＰ" or tell "Can you stop by?" from "stop", which is what the
difference in speed buys.
"""

from __future__ import annotations

import dataclasses

from flask_itms.keywords import (
    DEFAULT_HELP_KEYWORDS,
    DEFAULT_OPT_IN_KEYWORDS,
    DEFAULT_OPT_OUT_KEYWORDS,
    YES_KEYWORDS,
    Classifier,
)

from .corpus import mixed_texts
from .stats import Pairs, interleave


@dataclasses.dataclass(frozen=True)
class ClassifierResult:
    texts: int
    pairs: Pairs

    @property
    def classifier_per_second(self) -> float:
        return self.texts / sorted(self.pairs.subject)[len(self.pairs.subject) // 2]

    @property
    def dict_per_second(self) -> float:
        return self.texts / sorted(self.pairs.baseline)[len(self.pairs.baseline) // 2]


def run(*, texts: int = 20_000, rounds: int = 41) -> ClassifierResult:
    corpus = [text for _kind, text in mixed_texts(texts)]
    classify = Classifier().classify
    floor = {
        word: word
        for word in (*DEFAULT_OPT_OUT_KEYWORDS, *DEFAULT_OPT_IN_KEYWORDS, *DEFAULT_HELP_KEYWORDS, *YES_KEYWORDS)
    }
    lookup = floor.get

    def baseline() -> None:
        for text in corpus:
            lookup(text.strip().lower())

    def subject() -> None:
        for text in corpus:
            classify(text)

    subject()  # warm up both before timing
    baseline()
    return ClassifierResult(texts=len(corpus), pairs=interleave(baseline, subject, rounds))


if __name__ == "__main__":
    result = run()
    low, high = result.pairs.spread
    print(
        f"classifier {result.classifier_per_second:,.0f}/s, dict {result.dict_per_second:,.0f}/s,"
        f" ratio {result.pairs.ratio:.3f} (IQR {low:.3f}–{high:.3f})"
    )
