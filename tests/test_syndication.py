"""Syndication groups on real archives (text files + SQLite catalog) made from a generated
test set with known copies (tests/syndication_corpus.py): precision and recall floors,
incremental updates equal to a rebuild, edits, aliases, short texts, and the exports."""
from __future__ import annotations

import collections

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from archive.store import syndication as syn
from archive.store.catalog import Catalog, catalog_url_for
from archive.tools.export import iter_rows, write_parquet
from tests.syndication_corpus import Text, archive_corpus, make_corpus, pair_scores


def _groups(catalog: Catalog, ids: dict[str, int]) -> list[list[str]]:
    key_of = {article_id: key for key, article_id in ids.items()}
    groups = collections.defaultdict(list)
    with catalog.engine.connect() as conn:
        for article_id, group_id in conn.execute(select(syn.syndication_texts.c.article_id,
                                                        syn.syndication_texts.c.group_id)):
            groups[group_id].append(key_of[article_id])
    return sorted(sorted(keys) for keys in groups.values() if len(keys) > 1)


@pytest.fixture
def archive(tmp_path):
    catalog = Catalog(catalog_url_for(str(tmp_path)))
    yield tmp_path, catalog
    catalog.close()


def test_precision_and_recall_on_the_generated_test_set(archive):
    directory, catalog = archive
    texts = make_corpus(300, seed=19)
    ids = archive_corpus(texts, directory, catalog)
    stats = syn.update_groups(catalog, directory)
    assert stats.indexed == len(texts) and stats.missing == 0
    scores = pair_scores(texts, _groups(catalog, ids))
    assert scores["true_pairs"] > 1000 and scores["texts"] > 1500
    assert scores["precision"] >= 0.98, scores
    assert scores["recall"] >= 0.95, scores


def test_updates_batch_by_batch_equal_a_rebuild(archive):
    directory, catalog = archive
    texts = make_corpus(60, seed=3)
    half = len(texts) // 2
    ids = archive_corpus(texts[:half], directory, catalog)
    syn.Grouper(catalog, directory, batch=7).update()
    ids = archive_corpus(texts[half:], directory, catalog)   # a later crawl's texts
    stats = syn.Grouper(catalog, directory, batch=7).update()
    assert stats.indexed == len(texts) - half
    incremental = _groups(catalog, ids)
    assert syn.update_groups(catalog, directory).indexed == 0        # nothing left to do
    syn.update_groups(catalog, directory, rebuild=True)
    assert _groups(catalog, ids) == incremental
    assert pair_scores(texts, incremental)["precision"] >= 0.98


def _story(key: str, outlet: str, words: int = 80, offset: int = 0) -> Text:
    body = " ".join(f"w{(i * 7 + offset) % 997}" for i in range(words))
    return Text(key, outlet, key, f"Headline {key}", [body])


def test_an_edited_text_leaves_its_group_and_joins_another(archive):
    directory, catalog = archive
    texts = [_story("a", "one"), _story("b", "two"), _story("c", "three", offset=500),
             _story("d", "four", offset=500)]
    for text in texts[1:]:
        text.paragraphs = list(texts[0].paragraphs if text.key == "b" else texts[2].paragraphs)
    ids = archive_corpus(texts, directory, catalog)
    syn.update_groups(catalog, directory)
    assert _groups(catalog, ids) == [["a", "b"], ["c", "d"]]
    # 'a' (which names its group) is rewritten as a copy of 'c'
    archive_corpus([Text("a", "one", None, "Headline a", texts[2].paragraphs)], directory, catalog)
    stats = syn.update_groups(catalog, directory)
    assert (stats.indexed, stats.matched) == (1, 1)
    assert _groups(catalog, ids) == [["a", "c", "d"]]
    # an article that turns out to be an alias of another URL is no longer grouped
    catalog.update_article(ids["d"], state="alias")
    stats = syn.update_groups(catalog, directory)
    assert stats.removed == 1 and _groups(catalog, ids) == [["a", "c"]]


def test_short_texts_and_unreadable_files_are_not_grouped(archive):
    directory, catalog = archive
    texts = [_story("x", "one", words=10), _story("y", "two", words=10), _story("z", "three")]
    texts[1].paragraphs = texts[0].paragraphs
    ids = archive_corpus(texts, directory, catalog)
    (directory / catalog.version(catalog.article_by_id(ids["z"])["latest_seq"])["file"]).unlink()
    stats = syn.update_groups(catalog, directory)
    assert (stats.indexed, stats.short, stats.missing, stats.groups) == (2, 2, 1, 0)
    assert syn.update_groups(catalog, directory).missing == 1      # tried again, still reported


def test_other_parameters_ask_for_a_rebuild(archive, monkeypatch):
    directory, catalog = archive
    archive_corpus(make_corpus(5, seed=1), directory, catalog)
    syn.update_groups(catalog, directory)
    monkeypatch.setattr(syn, "MATCH_THRESHOLD", 0.6)
    with pytest.raises(syn.SyndicationError, match="rebuild"):
        syn.update_groups(catalog, directory)
    assert syn.update_groups(catalog, directory, rebuild=True).indexed > 0


def test_group_export_and_parquet_in_row_groups(archive, tmp_path_factory):
    directory, catalog = archive
    texts = make_corpus(20, seed=5, hard_negatives=0.5)
    archive_corpus(texts, directory, catalog)
    syn.update_groups(catalog, directory)
    columns, rows = iter_rows(catalog, "groups", archive_dir=directory)
    rows = list(rows)
    assert columns == syn.MEMBER_COLUMNS
    assert sum(1 for row in rows if row["relation"] == "earliest") == len({row["group_id"] for row in rows}) == 20
    assert {row["relation"] for row in rows} <= {"earliest", "identical", "same-body", "near-copy"}
    target = tmp_path_factory.mktemp("parquet") / "groups.parquet"
    assert write_parquet(target, columns, iter(rows), batch=7) == len(rows)
    parquet = pq.ParquetFile(target)
    assert parquet.metadata.num_rows == len(rows) and parquet.metadata.num_row_groups == -(-len(rows) // 7)
    table = parquet.read()
    assert table.column("similarity").to_pylist() == [row["similarity"] for row in rows]
    assert table.schema.field("headline_differs").type == "bool"


def test_the_crawl_extension_groups_when_the_spider_closes_and_can_be_switched_off(archive):
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.test import get_crawler

    from crawler.grouping import SyndicationGrouping

    directory, catalog = archive
    with pytest.raises(NotConfigured):
        SyndicationGrouping.from_crawler(get_crawler(settings_dict={"SYNDICATION_GROUPS": False,
                                                                    "ARCHIVE_DIR": str(directory)}))
    texts = make_corpus(10, seed=8)
    ids = archive_corpus(texts, directory, catalog)
    extension = SyndicationGrouping.from_crawler(get_crawler(settings_dict={"ARCHIVE_DIR": str(directory)}))
    extension.spider_closed(None, "finished")
    assert pair_scores(texts, _groups(catalog, ids))["recall"] > 0.9


def test_cli_groups_and_export_errors(archive, capsys):
    from archive.__main__ import main

    directory, catalog = archive
    args = ["--archive", str(directory)]
    assert main([*args, "export", "--what", "groups"]) == 0              # never grouped: no rows, a warning
    assert "run 'python -m archive groups'" in capsys.readouterr().err
    archive_corpus(make_corpus(4, seed=2), directory, catalog)
    assert main([*args, "groups"]) == 0
    out = capsys.readouterr().out
    assert "groups updated:" in out and " 0 groups of copies" not in out
    assert main([*args, "export", "--what", "links", "--with-text"]) == 2
    assert "--with-text goes with" in capsys.readouterr().err
    assert main([*args, "export", "--what", "groups", "--format", "parquet"]) == 2
    assert "-o FILE" in capsys.readouterr().err
    assert main([*args, "export", "--what", "groups", "--latest"]) == 2
