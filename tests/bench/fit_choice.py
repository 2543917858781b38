"""Fit the body chooser's policy by site-disjoint cross-validation, and gauge overfitting.

``make bench-extract`` runs this after the side-by-side table. For every benchmark page
and its stress variants (:mod:`tests.bench.stress`) it makes all candidate bodies once
(``archive.text.extract.candidate_texts``) and scores each against the true body. Then it
grid-searches :class:`archive.text.choose.Policy` (when to escalate, when to switch):

- in-sample: fitted on all pages, scored on all pages;
- out-of-fold: pages grouped by host into 5 folds; each fold is scored with the policy
  fitted on the other four, so no site's pages choose the policy they are scored with.

The gap between the two is the overfitting gauge. The objective is the mean F1 over the
benchmark and the four variant sets (to 4 decimals), ties going to the policy that makes
the fewest costly candidates (the speed budget).
"""
from __future__ import annotations

import hashlib
import itertools
import statistics
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from archive.text.choose import FITTED, Evidence, Policy
from archive.text.extract import candidate_texts

from .stress import VARIANTS, variants

FOLDS = 5
GRID = [Policy(o, s, m, e) for o, s, m, e in itertools.product(
    (0.3, 0.4, 0.5, 0.6, 0.7, 0.8), (0.1, 0.2, 0.3, 0.5, 1.0), (0.0, 0.05, 0.1, 0.2), (0.8, 0.9, 0.95, 1.01))]
SETS = ("benchmark", *VARIANTS)


@dataclass
class Case:
    """One page (or variant): its set, fold, evidence and each candidate's score."""

    set: str
    fold: int
    evidence: Evidence
    scores: list  # evaluate.PageScore of each candidate


def fold_of(url: str | None) -> int:
    host = (urlsplit(url or "").hostname or "").removeprefix("www.")
    return int(hashlib.sha256(host.encode()).hexdigest(), 16) % FOLDS


def build_cases(pages, evaluate) -> list[Case]:
    """Every candidate of every page and variant, scored (the slow part)."""
    cases = []
    items = [("benchmark", page, page.html) for page in pages] + list(variants(pages))
    started = time.monotonic()
    for n, (kind, page, html) in enumerate(items, 1):
        evidence, texts = candidate_texts(html, page.url)
        cases.append(Case(kind, fold_of(page.url), evidence, [evaluate.score_page(page.truth, t) for t in texts]))
        if n % 100 == 0:
            print(f"  candidates: {n}/{len(items)} pages ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return cases


def choice(case: Case, policy: Policy) -> tuple[int, int]:
    """(the candidate the policy keeps, how many costly candidates it made)."""
    if not case.evidence.doubtful(policy):
        return 0, 0
    return case.evidence.pick(policy), case.evidence.made(policy)


def results(cases: list[Case], chosen: list[tuple[int, bool]], evaluate) -> dict[str, dict]:
    """Per set: F1, P, R, pages with F1 < 0.1, escalation rate."""
    out = {}
    for name in SETS:
        picked = [(case, pick) for case, pick in zip(cases, chosen) if case.set == name]
        if not picked:
            continue
        scores = [case.scores[index] for case, (index, _) in picked]
        metrics = evaluate.aggregate(scores)
        metrics["near_empty"] = sum(1 for s in scores if s.f1 < 0.1)
        metrics["escalated"] = sum(1 for _, (_, made) in picked if made) / len(picked)
        metrics["costly_runs"] = sum(made for _, (_, made) in picked) / len(picked)
        out[name] = metrics
    return out


def objective(cases: list[Case], policy: Policy, evaluate) -> tuple[float, float]:
    """Mean F1 over the sets (to 4 decimals: closer is noise), then the fewest costly
    candidates made."""
    chosen = [choice(case, policy) for case in cases]
    per_set = results(cases, chosen, evaluate)
    return (round(statistics.fmean(m["f1"] for m in per_set.values()), 4),
            -statistics.fmean(m["costly_runs"] for m in per_set.values()))


def fit(cases: list[Case], evaluate) -> Policy:
    """The grid's best policy on ``cases``."""
    return max(GRID, key=lambda policy: objective(cases, policy, evaluate))


def cross_validate(cases: list[Case], evaluate) -> tuple[Policy, dict, dict, list[Policy]]:
    """(in-sample policy, in-sample results, out-of-fold results, each fold's policy)."""
    in_policy = fit(cases, evaluate)
    in_sample = results(cases, [choice(c, in_policy) for c in cases], evaluate)
    chosen: list = [None] * len(cases)
    fold_policies = []
    for fold in range(FOLDS):
        policy = fit([c for c in cases if c.fold != fold], evaluate)
        fold_policies.append(policy)
        for i, case in enumerate(cases):
            if case.fold == fold:
                chosen[i] = choice(case, policy)
    return in_policy, in_sample, results(cases, chosen, evaluate), fold_policies


def report(pages, evaluate) -> str:
    """The cross-validation table, as printed by ``make bench-extract``."""
    cases = build_cases(pages, evaluate)
    in_policy, in_sample, out_of_fold, fold_policies = cross_validate(cases, evaluate)
    in_code = results(cases, [choice(c, FITTED) for c in cases], evaluate)
    lines = [f"chooser policy, site-disjoint {FOLDS}-fold cross-validation (folds by host) over "
             f"{len(pages)} benchmark pages and {len(cases) - len(pages)} stress variants:",
             f"{'set':<10} {'pages':>5}  {'in-sample F1':>12}  {'out-of-fold F1':>14}  {'gap':>6}  "
             f"{'F1<0.1 (oof)':>12}  {'escalated (oof)':>15}  {'costly/page':>11}  {'shipped F1':>10}"]
    for name in in_sample:
        n = sum(1 for c in cases if c.set == name)
        a, b, s = in_sample[name], out_of_fold[name], in_code[name]
        lines.append(f"{name:<10} {n:>5}  {a['f1']:>12.4f}  {b['f1']:>14.4f}  {a['f1'] - b['f1']:>6.4f}  "
                     f"{b['near_empty']:>12}  {b['escalated']:>14.1%}  {b['costly_runs']:>11.3f}  {s['f1']:>10.4f}")
    lines.append(f"fitted on all pages: {in_policy}")
    lines.append(f"shipped (archive.text.choose.FITTED): {FITTED}"
                 + ("" if in_policy == FITTED else "  <- differs from the fit: update FITTED or say why"))
    lines.append("each fold's fit: " + "; ".join(
        f"{p.outside_share}/{p.short_share}/{p.margin}/{p.enough}" for p in fold_policies)
                 + " (outside/short/margin/enough)")
    return "\n".join(lines)
