"""Syndication groups: the same story at several outlets, identical or lightly edited.

Each article is grouped by its latest version (the text file ``articles.latest_seq``
names). A text's body (the file less its headline line) is cut into shingles (runs of
four words) and summarised once by a MinHash (datasketch, 128 permutations); its
signature and its LSH band keys are kept in the catalog, so grouping new texts costs one
indexed lookup per band, never a rebuild and never a pass over all texts:

- ``syndication_texts``: one row per grouped article: the version grouped, the SHA-256 of
  its body's words (identical copies share it), its word count, its MinHash signature
  (``LeanMinHash.serialize``; NULL for texts too short to group) and its group id;
- ``syndication_bands``: (band key, article) for every LSH band of every signature.

Two texts are copies when their bodies are identical, or when LSH makes them candidates
(a shared band key) and their estimated Jaccard similarity is at least
:data:`MATCH_THRESHOLD`. Groups are the connected components of that relation; a group's
id is the smallest article id among its members. Updating after a crawl handles new
articles and new versions (an edited article leaves its group and is matched again); a
group that an edit split in two stays one until ``python -m archive groups --rebuild``.

The band layout (bands x rows) is datasketch's ``MinHashLSH`` choice for
:data:`LSH_THRESHOLD`; its own storage backends (memory, Redis, Cassandra) do not persist
into the catalog, so the band keys are stored here. Memory stays bounded by the batch size.
"""
from __future__ import annotations

import logging
import re
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH
from sqlalchemy import (
    BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, bindparam, case, delete, distinct,
    func, insert, inspect, or_, select, update,
)
from sqlalchemy.engine import Connection

from .catalog import Catalog, articles, metadata, versions
from .textfile import body_of, sha256_hex

logger = logging.getLogger(__name__)

NUM_PERM = 128            # MinHash permutations: 512 bytes of signature per text
SEED = 1
SCHEME = "affine32"       # datasketch 2's default permutation scheme (32-bit values)
SHINGLE_WORDS = 4         # body shingles: runs of this many words
LSH_THRESHOLD = 0.4       # similarity around which texts start to become candidates
MATCH_THRESHOLD = 0.5     # estimated Jaccard similarity that confirms a candidate
MIN_WORDS = 30            # shorter bodies (stubs, error pages) are never grouped
BATCH = 500               # texts per transaction
NOTE = "syndication"      # catalog note with the parameters the stored signatures were made with

WORD_RE = re.compile(r"\w+")

syndication_texts = Table(
    "syndication_texts", metadata,
    Column("article_id", Integer, ForeignKey("articles.id"), primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),           # the version grouped: the article's latest
    Column("body_sha256", String),                    # of the body's words (the text less its headline line)
    Column("words", Integer, nullable=False),         # words in the body
    Column("signature", LargeBinary),                 # LeanMinHash.serialize(); NULL: too short to group
    Column("group_id", Integer, nullable=False),      # smallest article id of the group
)
Index("ix_syndication_texts_group", syndication_texts.c.group_id)
Index("ix_syndication_texts_body", syndication_texts.c.body_sha256)

syndication_bands = Table(
    "syndication_bands", metadata,
    Column("band_key", BigInteger, primary_key=True, autoincrement=False),  # band number and values, hashed
    Column("article_id", Integer, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)
TABLES = [syndication_texts, syndication_bands]
_RELABEL = (update(syndication_texts).where(syndication_texts.c.group_id == bindparam("old"))
            .values(group_id=bindparam("new")))


class SyndicationError(RuntimeError):
    """The stored groups cannot be updated as they are (made with other parameters)."""


def parameters() -> dict:
    """What the stored signatures and band keys depend on."""
    return {"num_perm": NUM_PERM, "seed": SEED, "scheme": SCHEME, "shingle_words": SHINGLE_WORDS,
            "lsh_threshold": LSH_THRESHOLD, "match_threshold": MATCH_THRESHOLD, "min_words": MIN_WORDS,
            "hashes": "crc32-words/multiply-xor-1"}


_LSH = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
BANDS, ROWS = _LSH.b, _LSH.r          # datasketch's choice for LSH_THRESHOLD: 32 bands of 4 values
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplying by it permutes the 64-bit integers


# -- texts, shingles, signatures ---------------------------------------------------------------

def split_text(text: str) -> tuple[str, str]:
    """(headline, body) of a text file's contents (``headline\\n\\nbody\\n``)."""
    headline, _, body = text.replace("\r\n", "\n").partition("\n\n")
    return headline.strip(), body.strip()


def body_words(body: str) -> list[str]:
    """The body's words, case-folded (punctuation and line breaks dropped)."""
    return WORD_RE.findall(body.casefold())


def shingles(words: list[str], size: int = SHINGLE_WORDS) -> set[bytes]:
    """The distinct runs of ``size`` words (one run of all of them when fewer)."""
    if len(words) <= size:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i:i + size]).encode() for i in range(len(words) - size + 1)}


def shingle_hashes(words: list[str], size: int = SHINGLE_WORDS) -> list[int]:
    """32-bit hashes of the distinct runs of ``size`` words: each word's CRC-32, combined
    over the run by multiply-xor (MinHash mixes them further with MurmurHash3's finaliser).
    One C call per word instead of a SHA-1 per shingle."""
    if not words:
        return []
    hashes = np.fromiter((zlib.crc32(word.encode()) for word in words), dtype=np.uint64, count=len(words))
    runs = max(1, len(hashes) - size + 1)
    combined = np.zeros(runs, dtype=np.uint64)
    for offset in range(min(size, len(hashes))):
        combined = (combined ^ hashes[offset:offset + runs]) * _MULTIPLIER
    return np.unique(combined >> np.uint64(32)).tolist()


def signatures(word_lists: list[list[str]]) -> list[LeanMinHash]:
    """One MinHash signature per list of words (computed in bulk)."""
    hashes = MinHash.generator((shingle_hashes(words) for words in word_lists), num_perm=NUM_PERM, seed=SEED,
                               scheme=SCHEME, hashfunc=int)
    return [LeanMinHash(minhash) for minhash in hashes]


def serialize(signature: LeanMinHash) -> bytes:
    """A signature as stored in the catalog (datasketch's own format: seed, scheme, values)."""
    buffer = bytearray(signature.bytesize())
    signature.serialize(buffer)
    return bytes(buffer)


def deserialize(data: bytes) -> LeanMinHash:
    """A signature from its stored bytes."""
    return LeanMinHash.deserialize(data)


def band_keys(signature: LeanMinHash) -> list[int]:
    """The signature's LSH band keys: each band's number and values combined by
    multiply-xor into a signed 64-bit int (all bands at once)."""
    values = np.asarray(signature.hashvalues, dtype=np.uint64)[:BANDS * ROWS].reshape(BANDS, ROWS)
    keys = np.arange(1, BANDS + 1, dtype=np.uint64) * _MULTIPLIER
    for column in range(ROWS):
        keys = (keys ^ values[:, column]) * _MULTIPLIER
    keys ^= keys >> np.uint64(31)
    return keys.view(np.int64).tolist()


def shingle_jaccard(a: set[bytes], b: set[bytes]) -> float:
    """Exact Jaccard similarity of two bodies' shingle sets (:func:`shingles`)."""
    return len(a & b) / len(a | b) if a or b else 1.0


# -- the catalog's tables ---------------------------------------------------------------------

def has_tables(catalog: Catalog) -> bool:
    """Whether the catalog has the syndication tables (an archive never grouped has not)."""
    names = set(inspect(catalog.engine).get_table_names())
    return all(table.name in names for table in TABLES)


def ensure_tables(catalog: Catalog) -> None:
    """Create the syndication tables if they are missing (older archives)."""
    metadata.create_all(catalog.engine, tables=TABLES)


@dataclass
class GroupingStats:
    """What one update of the groups did."""

    indexed: int = 0        # texts (re)indexed
    matched: int = 0        # of which joined an existing group or another new text
    short: int = 0          # too short to group
    removed: int = 0        # articles no longer grouped (now an alias of another URL)
    missing: int = 0        # text files that could not be read (left for the next update)
    groups: int = 0         # groups of two or more texts, after the update
    members: int = 0        # texts in those groups
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.indexed} texts indexed ({self.matched} matched a copy, {self.short} too short to group, "
                f"{self.missing} unreadable), {self.removed} removed; {self.groups} groups of copies with "
                f"{self.members} texts; {self.seconds:.1f} s")


class _Labels:
    """Group ids merged during one batch: union-find where the smallest id wins."""

    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, label: int) -> int:
        root = label
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while label != root:
            self.parent[label], label = root, self.parent.get(label, label)
        return root

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def renamed(self) -> Iterator[tuple[int, int]]:
        """(old label, new label) for every label merged into another."""
        for label in list(self.parent):
            root = self.find(label)
            if root != label:
                yield label, root


class Grouper:
    """Keeps the syndication groups of one archive up to date (see the module docstring)."""

    def __init__(self, catalog: Catalog, archive_dir: str | Path, batch: int = BATCH,
                 emit: Callable[[str], None] | None = None):
        self.catalog = catalog
        self.archive_dir = Path(archive_dir)
        self.batch = batch
        self.emit = emit or (lambda line: None)

    def rebuild(self) -> GroupingStats:
        """Forget every signature and group, then group every article again."""
        ensure_tables(self.catalog)
        with self.catalog.engine.begin() as conn:
            conn.execute(delete(syndication_bands))
            conn.execute(delete(syndication_texts))
        self.catalog.save_note(NOTE, parameters())
        return self.update()

    def update(self) -> GroupingStats:
        """Group the articles whose latest version is not grouped yet; drop alias articles."""
        started = time.monotonic()
        ensure_tables(self.catalog)
        self._check_parameters()
        stats = GroupingStats()
        self._remove_aliases(stats)
        after = 0
        while True:
            pending = self._pending(after)
            if not pending:
                break
            after = pending[-1]["article_id"]
            with self.catalog.engine.begin() as conn:
                self._group_batch(conn, pending, stats)
            if stats.indexed and stats.indexed % (self.batch * 20) < len(pending):
                self.emit(f"grouping: {stats.indexed} texts indexed")
        stats.groups, stats.members = self._counts()
        stats.seconds = time.monotonic() - started
        return stats

    # -- parameters and bookkeeping

    def _check_parameters(self) -> None:
        stored = self.catalog.note(NOTE)
        if stored is None:
            with self.catalog.engine.connect() as conn:
                empty = conn.execute(select(func.count()).select_from(syndication_texts)).scalar() == 0
            if not empty:
                raise SyndicationError("the catalog's groups record no parameters: rebuild them "
                                       "(python -m archive groups --rebuild)")
            self.catalog.save_note(NOTE, parameters())
        elif stored != parameters():
            raise SyndicationError(f"the groups were made with other parameters ({stored}); rebuild them "
                                   f"(python -m archive groups --rebuild)")

    def _counts(self) -> tuple[int, int]:
        sizes = (select(func.count().label("size")).select_from(syndication_texts)
                 .group_by(syndication_texts.c.group_id).having(func.count() > 1).subquery())
        with self.catalog.engine.connect() as conn:
            groups, members = conn.execute(select(func.count(), func.coalesce(func.sum(sizes.c.size), 0))).one()
        return groups, members

    def _pending(self, after: int) -> list[dict]:
        """Next articles (by id) whose latest version is not the one grouped."""
        s = syndication_texts
        query = (select(articles.c.id.label("article_id"), articles.c.latest_seq.label("seq"), versions.c.file,
                        s.c.seq.label("indexed_seq"), s.c.group_id, s.c.signature)
                 .select_from(articles.join(versions, versions.c.seq == articles.c.latest_seq)
                              .outerjoin(s, s.c.article_id == articles.c.id))
                 .where(articles.c.id > after, articles.c.state != "alias",
                        or_(s.c.seq.is_(None), s.c.seq != articles.c.latest_seq))
                 .order_by(articles.c.id).limit(self.batch))
        with self.catalog.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def _remove_aliases(self, stats: GroupingStats) -> None:
        s = syndication_texts
        query = (select(s.c.article_id, s.c.group_id, s.c.signature)
                 .select_from(s.join(articles, articles.c.id == s.c.article_id)).where(articles.c.state == "alias"))
        with self.catalog.engine.begin() as conn:
            for row in conn.execute(query).mappings().all():
                _detach(conn, row)
                conn.execute(delete(s).where(s.c.article_id == row["article_id"]))
                stats.removed += 1

    # -- one batch

    def _read(self, row: dict) -> bytes | None:
        try:
            return (self.archive_dir / row["file"]).read_bytes()
        except OSError as exc:
            logger.error("grouping: cannot read %s (article %d): %s; it is grouped at the next update",
                         row["file"], row["article_id"], exc.strerror or exc)
            return None

    def _group_batch(self, conn: Connection, pending: list[dict], stats: GroupingStats) -> None:
        texts = []
        for row in pending:
            data = self._read(row)
            if data is None:
                stats.missing += 1
                continue
            if row["indexed_seq"] is not None:   # a new version: it leaves its group and is matched again
                _detach(conn, row)
                conn.execute(delete(syndication_texts).where(syndication_texts.c.article_id == row["article_id"]))
            words = body_words(body_of(data).decode("utf-8", "replace"))
            texts.append({"article_id": row["article_id"], "seq": row["seq"], "words": words,
                          "body_sha256": sha256_hex(" ".join(words).encode())})
        groupable = [t for t in texts if len(t["words"]) >= MIN_WORDS]
        for text, signature in zip(groupable, signatures([t["words"] for t in groupable])):
            text["signature"], text["keys"] = signature, band_keys(signature)
        stats.indexed += len(texts)
        stats.short += len(texts) - len(groupable)
        labels = _Labels()
        stored_labels = self._match(conn, groupable, labels, stats)
        renamed = [{"old": old, "new": new} for old, new in labels.renamed() if old in stored_labels]
        if renamed:
            conn.execute(_RELABEL, renamed)
        if texts:
            conn.execute(insert(syndication_texts), [
                {"article_id": t["article_id"], "seq": t["seq"], "body_sha256": t["body_sha256"],
                 "words": len(t["words"]), "group_id": labels.find(t["article_id"]),
                 "signature": serialize(t["signature"]) if "signature" in t else None} for t in texts])
        bands = [{"band_key": key, "article_id": t["article_id"]} for t in groupable for key in t["keys"]]
        if bands:
            conn.execute(insert(syndication_bands), bands)

    def _match(self, conn: Connection, texts: list[dict], labels: _Labels, stats: GroupingStats) -> set[int]:
        """Find each text's copies among the stored texts and the batch's earlier texts;
        returns the stored texts' group ids (those a merge renames in the catalog)."""
        stored = _stored_candidates(conn, texts)
        stored_labels = {row["group_id"] for rows in stored["by_key"].values() for row in rows}
        stored_labels.update(row["group_id"] for row in stored["by_body"].values())
        batch_by_key: dict[int, list[dict]] = {}
        batch_by_body: dict[str, dict] = {}
        for text in texts:
            own = text["article_id"]
            same_body = batch_by_body.get(text["body_sha256"]) or stored["by_body"].get(text["body_sha256"])
            if same_body is not None:
                # an identical body has the same band keys: its group already holds every candidate
                labels.union(own, same_body.get("group_id", same_body["article_id"]))
                stats.matched += 1
            else:
                matched = False
                seen: set[int] = set()
                for key in text["keys"]:
                    for other in stored["by_key"].get(key, []) + batch_by_key.get(key, []):
                        other_id = other["article_id"]
                        if other_id in seen:
                            continue
                        seen.add(other_id)
                        label = labels.find(other.get("group_id", other_id))
                        if label == labels.find(own):
                            continue
                        if text["signature"].jaccard(other["signature"]) >= MATCH_THRESHOLD:
                            labels.union(own, label)
                            matched = True
                stats.matched += matched
            batch_by_body.setdefault(text["body_sha256"], text)
            for key in text["keys"]:
                batch_by_key.setdefault(key, []).append(text)
        return stored_labels


def _stored_candidates(conn: Connection, texts: list[dict]) -> dict:
    """Stored texts that share a band key or a body with ``texts``: ``by_key`` and ``by_body``."""
    s = syndication_texts
    ids_by_key: dict[int, list[int]] = {}
    for chunk in _chunks({key for text in texts for key in text["keys"]}):
        for key, article_id in conn.execute(select(syndication_bands.c.band_key, syndication_bands.c.article_id)
                                            .where(syndication_bands.c.band_key.in_(chunk))):
            ids_by_key.setdefault(key, []).append(article_id)
    rows: dict[int, dict] = {}
    for chunk in _chunks({article_id for found in ids_by_key.values() for article_id in found}):
        for row in conn.execute(select(s.c.article_id, s.c.group_id, s.c.signature)
                                .where(s.c.article_id.in_(chunk))).mappings():
            rows[row["article_id"]] = {**row, "signature": deserialize(row["signature"])}
    by_body: dict[str, dict] = {}
    for chunk in _chunks({text["body_sha256"] for text in texts}):
        query = (select(s.c.body_sha256, func.min(s.c.group_id).label("group_id"),
                        func.min(s.c.article_id).label("article_id"))
                 .where(s.c.body_sha256.in_(chunk), s.c.signature.is_not(None))
                 .group_by(s.c.body_sha256))
        by_body.update((row["body_sha256"], dict(row)) for row in conn.execute(query).mappings())
    by_key = {key: [rows[i] for i in found if i in rows] for key, found in ids_by_key.items()}
    return {"by_key": by_key, "by_body": by_body}


def _chunks(values: set, size: int = 500) -> Iterator[list]:
    """``values`` in lists of at most ``size`` (bound parameters per IN query)."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _detach(conn: Connection, row: dict) -> None:
    """Take an article out of its group (its band keys go; the group keeps its other members)."""
    s = syndication_texts
    if row.get("signature") is not None:
        keys = band_keys(deserialize(row["signature"]))
        conn.execute(delete(syndication_bands).where(syndication_bands.c.article_id == row["article_id"],
                                                     syndication_bands.c.band_key.in_(keys)))
    if row["group_id"] == row["article_id"]:   # the group was named after it: the next smallest id names it
        rest = conn.execute(select(func.min(s.c.article_id)).where(s.c.group_id == row["group_id"],
                                                                   s.c.article_id != row["article_id"])).scalar()
        if rest is not None:
            conn.execute(update(s).where(s.c.group_id == row["group_id"], s.c.article_id != row["article_id"])
                         .values(group_id=rest))


def update_groups(catalog: Catalog, archive_dir: str | Path, rebuild: bool = False,
                  emit: Callable[[str], None] | None = None) -> GroupingStats:
    """Bring the archive's syndication groups up to date (or rebuild them); on a shared
    catalog one worker at a time (the others wait, then find the texts grouped)."""
    grouper = Grouper(catalog, archive_dir, emit=emit)
    with catalog.one_at_a_time("syndication groups"):
        return grouper.rebuild() if rebuild else grouper.update()


# -- reading the groups ------------------------------------------------------------------------

MEMBER_COLUMNS = [
    "group_id", "group_size", "group_outlets", "member", "relation", "similarity", "estimated_similarity",
    "headline_differs", "words", "words_added", "words_removed", "article_id", "outlet", "url", "seq",
    "version", "file", "title", "published", "fetched_at",
]


def iter_group_members(catalog: Catalog, archive_dir: str | Path, outlet: str | None = None,
                       since: str | None = None, until: str | None = None,
                       problems: list | None = None) -> Iterator[dict]:
    """Members of every group of two or more texts, group by group, earliest member first,
    each with how it differs from the group's earliest member (streamed).

    The earliest member is the one published first (fetch time when no date is known).
    ``relation``: ``earliest``, ``identical`` (same headline and body), ``same-body`` (only
    the headline differs) or ``near-copy``; ``similarity`` is the exact Jaccard similarity of
    the bodies' shingles, ``estimated_similarity`` the MinHash estimate; ``words_added`` and
    ``words_removed`` count words (with repeats) against the earliest body. ``outlet``: only
    groups with a member at that outlet; ``since``/``until``: only groups with a member
    fetched in that period.
    """
    if not has_tables(catalog) or catalog.note(NOTE) is None:
        if problems is not None:
            problems.append("no syndication groups in this catalog yet: run 'python -m archive groups'")
        return
    query = _member_query(outlet, since, until)
    earliest: dict | None = None
    archive_dir = Path(archive_dir)
    with catalog.engine.connect() as conn:
        for row in conn.execution_options(yield_per=500).execute(query).mappings():
            text = _read_text(archive_dir, row["file"], problems)
            headline, body = split_text(text or "")
            words = body_words(body)
            signature = deserialize(row["signature"]) if row["signature"] else None
            if earliest is None or earliest["group_id"] != row["group_id"]:
                earliest = {"group_id": row["group_id"], "body_sha256": row["body_sha256"], "headline": headline,
                            "counts": Counter(words), "shingles": shingles(words), "signature": signature,
                            "member": 0}
                yield _member(row, 0, "earliest", 1.0, 1.0, False, words, 0, 0)
                continue
            earliest["member"] += 1
            same_body = row["body_sha256"] == earliest["body_sha256"]
            headline_differs = headline != earliest["headline"]
            relation = ("identical" if not headline_differs else "same-body") if same_body else "near-copy"
            similarity = 1.0 if same_body else shingle_jaccard(earliest["shingles"], shingles(words))
            estimate = (signature.jaccard(earliest["signature"])
                        if signature is not None and earliest["signature"] is not None else None)
            counts = Counter(words)
            added, removed = counts - earliest["counts"], earliest["counts"] - counts
            yield _member(row, earliest["member"], relation, similarity, estimate, headline_differs, words,
                          sum(added.values()), sum(removed.values()))


def _member(row: dict, member: int, relation: str, similarity: float, estimate: float | None,
            headline_differs: bool, words: list[str], added: int, removed: int) -> dict:
    return {**{k: row[k] for k in ("group_id", "group_size", "group_outlets", "article_id", "outlet", "url", "seq",
                                    "version", "file", "title", "published", "fetched_at")},
            "member": member, "relation": relation, "similarity": round(similarity, 4),
            "estimated_similarity": None if estimate is None else round(estimate, 4),
            "headline_differs": headline_differs, "words": len(words), "words_added": added, "words_removed": removed}


def _read_text(archive_dir: Path, file: str, problems: list | None) -> str | None:
    try:
        return (archive_dir / file).read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        if problems is not None:
            problems.append(f"cannot read {file}: {exc.strerror or exc}")
        return None


def _member_query(outlet: str | None, since: str | None, until: str | None):
    s = syndication_texts
    sizes = (select(s.c.group_id, func.count().label("group_size"),
                    func.count(distinct(versions.c.outlet)).label("group_outlets"))
             .select_from(s.join(versions, versions.c.seq == s.c.seq))
             .group_by(s.c.group_id).having(func.count() > 1))
    for condition in ([versions.c.outlet == outlet] if outlet else []) + \
                     ([versions.c.fetched_at >= since] if since else []) + \
                     ([versions.c.fetched_at < until] if until else []):
        sizes = sizes.having(func.sum(case((condition, 1), else_=0)) > 0)
    sizes = sizes.subquery()
    first_known = func.coalesce(versions.c.published, articles.c.first_seen)
    return (select(sizes.c.group_id, sizes.c.group_size, sizes.c.group_outlets, s.c.article_id, s.c.body_sha256,
                   s.c.signature, versions.c.outlet, articles.c.url, versions.c.seq, versions.c.version,
                   versions.c.file, versions.c.title, versions.c.published, versions.c.fetched_at)
            .select_from(s.join(sizes, sizes.c.group_id == s.c.group_id)
                         .join(versions, versions.c.seq == s.c.seq)
                         .join(articles, articles.c.id == s.c.article_id))
            .order_by(sizes.c.group_id, first_known, s.c.article_id))
