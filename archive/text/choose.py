"""Which candidate body to keep: ask for second opinions only when the cheap one looks wrong.

The page's *prose* is its runs of running text (8 words or more, outside links, navigation,
asides, headings, list items and captions). The cheap body (trafilatura's fast mode,
repaired and cleaned) is doubtful when it leaves out much of that prose, or when it is
mostly short lines (a menu, a form). Only then are the costly candidates made, cheapest
first (trafilatura's full cascade, then readability-lxml), until one covers the prose well
enough; the one that best covers the prose with the fewest other words replaces the cheap
body when it does so clearly better.

The numbers in :data:`FITTED` are fitted by site-disjoint cross-validation (folds by host)
on the extraction benchmark and its stress variants: ``make bench-extract`` refits them
and prints in-sample and out-of-fold F1 side by side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .boilerplate import Block, text_key

__all__ = ["FITTED", "Evidence", "Policy", "choose", "gather_evidence", "prose_runs"]


@dataclass(frozen=True)
class Policy:
    """When to escalate and when to switch."""

    outside_share: float  # escalate when more of the page's prose than this is left out
    short_share: float  # ... or when more of the body's words than this are in short lines
    margin: float  # switch when a candidate's prose score beats the cheap one's by more
    enough: float = 1.01  # no further candidate is made once one scores this (> 1: make all)

    def satisfied_by(self, candidate: "Coverage") -> bool:
        """Whether a candidate covers the prose well enough to make no further one."""
        return candidate.score >= self.enough


FITTED = Policy(outside_share=0.5, short_share=0.2, margin=0.05, enough=0.9)

PROSE_MIN_WORDS = 8
SHORT_LINE_WORDS = 5
_OUTSIDE = frozenset(("head", "a", "nav", "footer", "aside", "button", "select", "option", "label", "script", "style",
                      "template", "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "li", "menu", "textarea"))


def prose_runs(tree) -> list[tuple[str, int]]:
    """The page's prose: (text, whitespace collapsed; words) of each run of running text."""
    runs = []
    stack = [tree]
    while stack:
        el = stack.pop()
        for text in (el.text, *(child.tail for child in el)):
            if text and text.count(" ") >= PROSE_MIN_WORDS - 1:
                split = text.split()
                if len(split) >= PROSE_MIN_WORDS:
                    runs.append((" ".join(split), len(split)))
        stack.extend(child for child in el if isinstance(child.tag, str) and child.tag not in _OUTSIDE)
    return runs


@dataclass(frozen=True)
class Coverage:
    """How a body relates to the page's prose."""

    words: int  # words in the body
    covered: int  # prose words of the page found in the body
    prose: int  # prose words of the page

    @property
    def recall(self) -> float:
        return self.covered / self.prose if self.prose else 0.0

    @property
    def purity(self) -> float:
        return min(1.0, self.covered / self.words) if self.words else 0.0

    @property
    def score(self) -> float:
        recall, purity = self.recall, self.purity
        return 2 * recall * purity / (recall + purity) if recall + purity else 0.0


def coverage(blocks: Sequence[Block], runs: list[tuple[str, int]]) -> Coverage:
    """Which of the page's prose runs the body holds: as written, or else compared by
    :func:`~archive.text.boilerplate.text_key` (case and punctuation aside)."""
    body = " ".join(b.text for b in blocks)
    body_key = None
    covered = 0
    for text, words in runs:
        if text in body:
            covered += words
            continue
        if body_key is None:
            body_key = text_key(body)
        key = text_key(text)
        if key and key in body_key:
            covered += words
    return Coverage(words=sum(len(b.text.split()) for b in blocks), covered=covered,
                    prose=sum(words for _, words in runs))


def short_share(blocks: Sequence[Block]) -> float:
    """Share of the body's words that stand in lines of at most five words."""
    counts = [len(b.text.split()) for b in blocks]
    total = sum(counts)
    return sum(c for c in counts if c <= SHORT_LINE_WORDS) / total if total else 1.0


@dataclass
class Evidence:
    """What the choice is made from: the page's prose, the cheap body's coverage and shape,
    and (once made) the other candidates' coverage."""

    runs: list[tuple[str, int]]
    cheap: Coverage
    cheap_short_share: float
    others: list[Coverage]

    def add(self, candidate: Sequence[Block]) -> Coverage:
        """Record another candidate's coverage of the prose (and return it)."""
        self.others.append(coverage(candidate, self.runs))
        return self.others[-1]

    def doubtful(self, policy: Policy) -> bool:
        """Whether the cheap body should be checked against the costly candidates."""
        return (self.cheap.words == 0 or 1 - self.cheap.recall > policy.outside_share
                or self.cheap_short_share > policy.short_share)

    def made(self, policy: Policy) -> int:
        """How many of the other candidates the policy makes (in order, it stops after
        the first that scores ``policy.enough``)."""
        for i, other in enumerate(self.others):
            if policy.satisfied_by(other):
                return i + 1
        return len(self.others)

    def pick(self, policy: Policy) -> int:
        """0 for the cheap body, i + 1 for the i-th other candidate."""
        made = self.made(policy)
        best = max(range(made), key=lambda i: self.others[i].score, default=None)
        if best is not None and self.others[best].score > self.cheap.score + policy.margin:
            return best + 1
        return 0


def gather_evidence(tree, cheap: Sequence[Block], others: Sequence[Sequence[Block]] = ()) -> Evidence:
    """Evidence about the cheap body and the given other candidates of one page."""
    runs = prose_runs(tree)
    evidence = Evidence(runs, coverage(cheap, runs), short_share(cheap), [])
    for other in others:
        evidence.add(other)
    return evidence


def choose(tree, cheap: list[Block], costly: Sequence[Callable[[], list[Block]]],
           policy: Policy = FITTED) -> list[Block]:
    """The body to keep: the cheap one unless the policy doubts it and a costly candidate
    does clearly better. ``costly`` makes those candidates, cheapest first; they are made
    only as far as the policy asks."""
    evidence = gather_evidence(tree, cheap)
    if not evidence.doubtful(policy):
        return cheap
    candidates = []
    for make in costly:
        candidates.append(make())
        if policy.satisfied_by(evidence.add(candidates[-1])):
            break
    picked = evidence.pick(policy)
    return candidates[picked - 1] if picked else cheap
