"""Step 4 of the archive's data path (response -> WARC -> text -> versioned file + catalog
-> reading tools): what researchers call on an archive: the reading API
(:mod:`.reader`), integrity checks (:mod:`.verify`), re-extraction of text from the WARC
records (:mod:`.reextract`) and CSV/JSON export (:mod:`.export`). ``python -m archive``
(``archive/__main__.py``) is the command line over them.
"""
