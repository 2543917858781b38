"""A generated test set of wire stories copied across outlets, with known copies.

Each wire story runs at two to four outlets; every copy is lightly edited the way outlets
edit wire copy: a new headline, a paragraph trimmed or a local one added, some words
changed, a dateline and a credit line added (some copies are identical, some differ in
the headline only). Hard negatives are distinct stories on the same topic: they share
the place name, the topic's short list of nouns, the sentence templates of
tests/demosite.py, and (for follow-ups) one background paragraph with the earlier story.

:func:`make_corpus` gives the texts with their story id (the ground truth);
:func:`archive_corpus` writes them into a real archive (text files + catalog) the way the
crawl does; :func:`pair_scores` gives precision and recall of the grouped pairs.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

from tests.demosite import ADJECTIVES, HEADLINES, MONTHS, NOUNS, PREPOSITIONS, SENTENCES, SLOT_RE, \
    TOKEN_SENTENCES, VERBS, WEEKDAYS

OUTLETS = [f"outlet-{n:02d}" for n in range(12)]
WIRES = ("Associated Wire", "Global Press", "Wire Service")


@dataclass
class Text:
    """One article text at one outlet; ``story`` names the wire story it copies (None: its own)."""

    key: str
    outlet: str
    story: str | None
    headline: str
    paragraphs: list[str]
    edits: tuple[str, ...] = ()

    def render(self) -> bytes:
        return f"{self.headline}\n\n" + "\n\n".join(self.paragraphs) + "\n"

    def file_bytes(self) -> bytes:
        return self.render().encode("utf-8")


class _Writer:
    """Sentences from demosite's templates, with a topic's nouns and place name."""

    def __init__(self, rng: random.Random, place: str, nouns: list[str]):
        self.rng, self.place, self.nouns = rng, place, nouns

    def fill(self, template: str) -> str:
        slots = {"A": ADJECTIVES, "N": self.nouns, "V": VERBS, "P": PREPOSITIONS, "D": WEEKDAYS, "M": MONTHS}
        return SLOT_RE.sub(lambda m: self.place if m[1] == "T" else self.rng.choice(slots[m[1]]), template)

    def paragraph(self) -> str:
        sentences = [self.fill(self.rng.choice(TOKEN_SENTENCES))]
        target = self.rng.randint(30, 60)
        while sum(len(s.split()) for s in sentences) < target:
            sentences.append(self.fill(self.rng.choice(SENTENCES)))
        return " ".join(sentences)

    def headline(self) -> str:
        return self.fill(HEADLINES[self.rng.randint(6, 10)])


def _topic(rng: random.Random, index: int) -> tuple[str, list[str]]:
    place = "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3)).capitalize() + "ton"
    return f"{place}{index}", rng.sample(NOUNS, 12)


def _edit_copy(rng: random.Random, story: Text, writer: _Writer, outlet: str, key: str) -> Text:
    """A copy of ``story`` at ``outlet`` with a random set of light edits."""
    paragraphs = list(story.paragraphs)
    headline = story.headline
    kind = rng.random()
    if kind < 0.15:
        return Text(key, outlet, story.story, headline, paragraphs, ("identical",))
    if kind < 0.3:
        return Text(key, outlet, story.story, writer.headline(), paragraphs, ("headline",))
    edits = []
    if rng.random() < 0.5:
        headline = writer.headline()
        edits.append("headline")
    if rng.random() < 0.35 and len(paragraphs) > 4:
        del paragraphs[rng.randrange(1, len(paragraphs))]
        edits.append("paragraph-removed")
    elif rng.random() < 0.35:
        paragraphs.insert(rng.randint(1, len(paragraphs)), writer.paragraph())
        edits.append("paragraph-added")
    if rng.random() < 0.6:
        words = [p.split() for p in paragraphs]
        total = sum(len(w) for w in words)
        for _ in range(max(1, int(total * rng.uniform(0.01, 0.04)))):
            p = rng.randrange(len(words))
            i = rng.randrange(len(words[p]))
            words[p][i] = rng.choice(ADJECTIVES + VERBS + writer.nouns)
        paragraphs = [" ".join(w) for w in words]
        edits.append("words-changed")
    if rng.random() < 0.5:
        paragraphs[0] = f"{writer.place.upper()} ({rng.choice(WIRES)}) \u2014 {paragraphs[0]}"
        edits.append("dateline")
    if rng.random() < 0.4:
        paragraphs.append(f"{rng.choice(WIRES)} reporters in {writer.place} contributed to this report.")
        edits.append("credit")
    return Text(key, outlet, story.story, headline, paragraphs, tuple(edits) or ("identical",))


def make_corpus(n_stories: int, seed: int = 0, hard_negatives: float = 1.0) -> list[Text]:
    """Wire stories with their copies, plus about ``hard_negatives`` x ``n_stories``
    distinct stories on the same topics (some sharing a background paragraph)."""
    rng = random.Random(seed)
    texts: list[Text] = []
    for index in range(n_stories):
        place, nouns = _topic(rng, index)
        writer = _Writer(rng, place, nouns)
        paragraphs = [writer.paragraph() for _ in range(rng.randint(4, 8))]
        outlets = rng.sample(OUTLETS, rng.randint(3, 5))
        story = Text(f"s{index}-0", outlets[0], f"s{index}", writer.headline(), paragraphs, ("original",))
        texts.append(story)
        for number, outlet in enumerate(outlets[1:], start=1):
            texts.append(_edit_copy(rng, story, writer, outlet, f"s{index}-{number}"))
        for extra in range(int(hard_negatives) + (rng.random() < hard_negatives % 1)):
            own = [writer.paragraph() for _ in range(rng.randint(4, 8))]
            if rng.random() < 0.5:   # a follow-up: the same background paragraph
                own.insert(rng.randint(1, len(own)), rng.choice(paragraphs))
            texts.append(Text(f"n{index}-{extra}", rng.choice(OUTLETS), None, writer.headline(), own, ("distinct",)))
    rng.shuffle(texts)
    return texts


def true_pairs(texts: list[Text]) -> set[frozenset]:
    """Pairs of text keys that are copies of the same wire story."""
    by_story: dict[str, list[str]] = {}
    for text in texts:
        if text.story:
            by_story.setdefault(text.story, []).append(text.key)
    return {frozenset(pair) for keys in by_story.values() for pair in combinations(keys, 2)}


def predicted_pairs(groups: list[list[str]]) -> set[frozenset]:
    """Pairs of text keys put in the same group."""
    return {frozenset(pair) for keys in groups for pair in combinations(keys, 2)}


def pair_scores(texts: list[Text], groups: list[list[str]]) -> dict:
    """Precision and recall of the grouped pairs against the known copies."""
    truth, found = true_pairs(texts), predicted_pairs(groups)
    hits = len(truth & found)
    return {"texts": len(texts), "true_pairs": len(truth), "predicted_pairs": len(found), "correct_pairs": hits,
            "precision": hits / len(found) if found else 1.0, "recall": hits / len(truth) if truth else 1.0}


def archive_corpus(texts: list[Text], archive_dir: Path, catalog, batch: int = 500) -> dict[str, int]:
    """Write the texts into an archive as the crawl does (TextStore: text files + catalog
    rows); returns the article id of each text key. URLs: ``http://<outlet>.test/<key>``."""
    from archive.store.recheck import RecheckPolicy
    from archive.store.textstore import NewVersion, TextStore
    from archive.store.timefmt import utc_now

    store = TextStore(archive_dir, catalog)
    policy = RecheckPolicy()
    now = utc_now()
    for start in range(0, len(texts), batch):
        chunk = texts[start:start + batch]
        store.add_versions([NewVersion(t.outlet, f"http://{t.outlet}.test/{t.key}", t.file_bytes(),
                                       {"url": f"http://{t.outlet}.test/{t.key}", "title": t.headline,
                                        "fetched_at": now, "http_status": 200},
                                       {"last_checked": now}, policy) for t in chunk])
    ids = {}
    for row in catalog.iter_articles():
        ids[row["url"].rsplit("/", 1)[1]] = row["id"]
    return ids
