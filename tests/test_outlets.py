"""The outlets file is validated, with errors naming the outlet and field."""
import pytest

from crawler.outlets import OutletsFileError, load_outlets


def _write(tmp_path, text):
    path = tmp_path / "outlets.toml"
    path.write_text(text)
    return path


def test_valid_file_and_origins(tmp_path):
    path = _write(tmp_path, """
[[outlets]]
name = "a"
feeds = ["http://127.0.0.1:8001/rss.xml"]
sitemaps = ["http://127.0.0.1:8001/sitemap.xml"]
[[outlets]]
name = "b"
sections = ["http://127.0.0.1:8002/section/x"]
recheck = ["1m", "2h"]
""")
    a, b = load_outlets(path)
    assert a.is_article("http://127.0.0.1:8001/2024/01/02/x") and not a.owns("http://127.0.0.1:8002/2024/01/02/x")
    assert b.recheck_intervals == (60, 7200)
    assert [o.name for o in load_outlets(path, "b")] == ["b"]


@pytest.mark.parametrize("body, words", [
    ('[[outlets]]\nname = "Bad Name"\nfeeds = ["http://x.example/f"]', ["outlet #1", "name"]),
    ('[[outlets]]\nname = "a"\nfeeds = ["ftp://x.example/f"]', ["'a'", "feeds"]),
    ('[[outlets]]\nname = "a"', ["'a'", "feeds"]),
    ('[[outlets]]\nname = "a"\nfeeds = ["http://x.example/f"]\narticle_pattern = "("', ["'a'", "article_pattern"]),
    ('[[outlets]]\nname = "a"\nfeeds = ["http://x.example/f"]\nfeedz = []', ["'a'", "feedz"]),
    ('[[outlets]]\nname = "a"\nfeeds = ["http://x.example/f"]\nrecheck = ["soon"]', ["'a'", "recheck"]),
    ('[[outlets]\nname = "a"', ["not valid TOML"]),
    ('', ["no [[outlets]]"]),
])
def test_bad_files_are_refused_with_outlet_and_field(tmp_path, body, words):
    with pytest.raises(OutletsFileError) as error:
        load_outlets(_write(tmp_path, body))
    for word in words:
        assert word in str(error.value)


def test_unknown_outlet_and_missing_file(tmp_path):
    path = _write(tmp_path, '[[outlets]]\nname = "a"\nfeeds = ["http://x.example/f"]')
    with pytest.raises(OutletsFileError, match="'zzz' is not in"):
        load_outlets(path, "zzz")
    with pytest.raises(OutletsFileError, match="does not exist"):
        load_outlets(tmp_path / "nope.toml")
